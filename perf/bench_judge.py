"""Judge client throughput against a local OpenAI-compatible server with a fixed delay per call.

Calls per second at concurrency 1, 16 and 64 with 100 ms of server latency (the ceiling is
concurrency / latency: 10, 160 and 640 calls/s); fresh cache each time, so every call goes
to the server. Usage: python perf/bench_judge.py [--delay 0.1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from halbench.judges import JudgeClient, JudgeConfig, JudgeRequest  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--delay", type=float, default=0.1)
    args = ap.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-local")
    with FakeOpenAI() as server:
        server.delay = args.delay
        server.reply = lambda text: "8 9"
        print(f"local server, {args.delay * 1000:.0f} ms per call")
        for concurrency in (1, 16, 64):
            n = max(20, concurrency * 8)
            with tempfile.TemporaryDirectory() as tmp:
                client = JudgeClient(
                    JudgeConfig(
                        model="judge",
                        base_url=server.url,
                        concurrency=concurrency,
                        cache_dir=Path(tmp),
                    )
                )
                requests = [
                    JudgeRequest(
                        str(i), [{"role": "user", "content": f"item {i} {concurrency}"}], {}
                    )
                    for i in range(n)
                ]
                t = time.perf_counter()
                out = client.run(requests)
                secs = time.perf_counter() - t
                assert all(r.content == "8 9" for r in out)
                ceiling = concurrency / args.delay
                print(
                    f"  concurrency {concurrency:3d}: {n:4d} calls in {secs:5.2f} s = {n / secs:6.1f} calls/s ({n / secs / ceiling:.0%} of the {ceiling:.0f}/s ceiling)"
                )
                client.close()
        _mmhal(server)


def _mmhal(server: FakeOpenAI) -> None:
    """The MMHal-Bench scorer end to end (96 judged answers, concurrency 16) vs the bare client."""
    from benchmarks.mmhal_bench.score import mmhal_record

    server.reply = lambda text: "Fine.\nRating: 5, very informative"
    with tempfile.TemporaryDirectory() as tmp:
        prompt = Path(tmp) / "t.txt"
        prompt.write_text("C {}\nQ {}\nH {}\nR {}\n")
        answers = {i: f"answer {i}" for i in range(96)}
        cfg = JudgeConfig(model="judge", base_url=server.url, cache_dir=Path(tmp) / "a")
        t = time.perf_counter()
        rec = mmhal_record(answers, cfg, judge_prompt_file=prompt)
        scorer = time.perf_counter() - t
        assert rec.n_scored == 96
        client = JudgeClient(
            JudgeConfig(model="judge", base_url=server.url, cache_dir=Path(tmp) / "b")
        )
        reqs = [
            JudgeRequest(str(i), [{"role": "user", "content": f"bare {i}"}], {}) for i in range(96)
        ]
        t = time.perf_counter()
        client.run(reqs)
        bare = time.perf_counter() - t
        client.close()
    print(
        f"  MMHal-Bench scorer, 96 items at concurrency 16: {scorer:.2f} s; bare client {bare:.2f} s "
        f"(ratio {scorer / bare:.2f})"
    )


if __name__ == "__main__":
    main()
