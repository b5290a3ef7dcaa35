"""Judge/API client hardening (issue 13): keys echoed by an endpoint never reach a file, the cost
cap holds against under-estimated usage, and Retry-After / item deadlines cannot stall a run."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from halbench.cli import main
from halbench.judges import JudgeClient, JudgeConfig, JudgeRequest
from halbench.judges.client import retry_after_seconds
from halbench.redact import REDACTED, add_secret, redact

from .conftest import BENCHMARKS, make_benchmark

# Not shaped like an OpenAI key, so only the registered key value can catch it.
KEY = "gw-7f3a9c2e5b1d4086a2c9e7f1b3d5a8c0"
ROOT = Path(__file__).resolve().parents[1]


class EchoServer:
    """An OpenAI-compatible endpoint that misbehaves on cue (by a marker in the text).

    DENY -> 401 whose body echoes the key from the Authorization header; BOOM -> 500 echoing
    it too; SLOW -> 429 with ``retry_after`` as Retry-After. Otherwise ``reply(text)`` with a
    usage of ``usage_factor`` times chars/4 prompt tokens and ``max_tokens`` completion tokens.
    """

    def __init__(self) -> None:
        self.reply = lambda text: "8 6\nfine."
        self.retry_after = "3600"
        self.usage_factor = 1
        self.delay = 0.0
        self.reported: list[dict[str, int]] = []
        self.posts = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.posts += 1
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                text = "\n".join(
                    m["content"]
                    if isinstance(m["content"], str)
                    else " ".join(c.get("text", "") for c in m["content"])
                    for m in body["messages"]
                )
                if owner.delay:
                    time.sleep(owner.delay)
                if "DENY" in text:
                    msg = f"Incorrect API key provided: {key}. You can find your API key at x."
                    self._send(401, {"error": {"message": msg, "type": "invalid_request_error"}})
                    return
                if "BOOM" in text:
                    msg = f"upstream gateway failed for client {key}"
                    self._send(500, {"error": {"message": msg}}, {"Retry-After": "0"})
                    return
                if "SLOW" in text:
                    self._send(
                        429, {"error": {"message": "slow down"}}, {"Retry-After": owner.retry_after}
                    )
                    return
                usage = {
                    "prompt_tokens": owner.usage_factor * (len(text) // 4),
                    "completion_tokens": int(body.get("max_tokens") or 16),
                }
                with lock:
                    owner.reported.append(usage)
                self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": owner.reply(text)},
                            }
                        ],
                        "usage": {**usage, "total_tokens": sum(usage.values())},
                    },
                )

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.handle_error = lambda *a: None  # a client that timed out: a broken pipe
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> EchoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A HALBENCH_HOME of this test's own (so its caches are grepped too), seeing the NLTK data."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "nltk_data").symlink_to(Path(os.environ["HALBENCH_HOME"]) / "nltk_data")
    monkeypatch.setenv("HALBENCH_HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return home


def files_with_key(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        for folder, _, names in os.walk(root):  # symlinks (the NLTK data) are not followed
            for name in names:
                path = Path(folder) / name
                if path.is_file() and KEY.encode() in path.read_bytes():
                    found.append(str(path))
    return found


# -- item 2: redaction ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Incorrect API key provided: sk-proj-abcDEF123456. See x",
            f"Incorrect API key provided: {REDACTED}. See x",
        ),
        (
            "Incorrect API key provided: sk-abc1*********************wxyz.",
            f"Incorrect API key provided: {REDACTED}.",
        ),
        ("{'Authorization': 'Bearer abc.def-123'}", f"{{'Authorization': '{REDACTED}'}}"),
        ("authorization: Basic dXNlcjpwYXNzd29yZA==", f"authorization: {REDACTED}"),
        ("sent Bearer tok_9f8e7d6c5b4a", f"sent Bearer {REDACTED}"),
        ("api_key=0123456789abcdef0123456789abcdef.", f"api_key={REDACTED}."),
        ('"token": "ZXhhbXBsZXNlY3JldDEyMzQ1Njc4OTA="', f'"token": "{REDACTED}"'),
        (
            "RateLimitError: Error code: 429 - slow down",
            "RateLimitError: Error code: 429 - slow down",
        ),
        ("risk-taking task-runner uses sk-learn", "risk-taking task-runner uses sk-learn"),
        ("$OPENAI_API_KEY is not set", "$OPENAI_API_KEY is not set"),
    ],
)
def test_redact_shapes(text, expected):
    assert redact(text) == expected
    assert redact(redact(text)) == expected  # idempotent


def test_redact_registered_and_given_keys():
    add_secret("plain-key-value-77")
    add_secret("EMPTY")  # the placeholder for local servers is not a secret
    assert redact("got plain-key-value-77 here") == f"got {REDACTED} here"
    assert redact("a key-less EMPTY reply") == "a key-less EMPTY reply"
    assert redact("x=abcd1234 y", secrets=["abcd1234"]) == f"x={REDACTED} y"


def test_judge_client_never_keeps_an_echoed_key(home, tmp_path):
    with EchoServer() as server:
        c = JudgeClient(
            JudgeConfig(
                model="judge-x",
                base_url=server.url,
                concurrency=2,
                log_path=tmp_path / "calls.jsonl",
                backoff_base=0.01,
            )
        )
        out = c.run(
            [
                JudgeRequest(k, [{"role": "user", "content": f"{k} item"}], {"max_tokens": 8})
                for k in ("DENY", "BOOM", "ok")
            ]
        )
    deny, boom, ok = out
    assert deny.content is None and "401" in deny.error and REDACTED in deny.error
    assert boom.content is None and "500" in boom.error and REDACTED in boom.error
    assert KEY not in deny.error + boom.error and ok.content == "8 6\nfine."
    assert files_with_key(tmp_path) == []


def test_score_run_and_leaderboard_never_contain_an_echoed_key(home, tmp_path, capsys):
    """`score llava-bench`, `run --backend openai`, `leaderboard add` + `build`: grep every file."""
    qs = [
        json.loads(x)
        for x in (BENCHMARKS / "llava-bench-coco" / "data" / "qa90_questions.jsonl")
        .read_text()
        .splitlines()
    ]
    answers = tmp_path / "answers.jsonl"
    texts = {1: "DENY", 2: "BOOM"}
    answers.write_text(
        "".join(
            json.dumps(
                {
                    "question_id": q["question_id"],
                    "text": texts.get(q["question_id"], "A short answer."),
                }
            )
            + "\n"
            for q in qs
        )
    )
    bench = make_benchmark(tmp_path / "api-bench", 4)
    items = (bench / "items.jsonl").read_text().splitlines()
    items[1] = items[1].replace('"question": "', '"question": "DENY ')
    items[2] = items[2].replace('"question": "', '"question": "BOOM ')
    (bench / "items.jsonl").write_text("\n".join(items) + "\n")
    runs = tmp_path / "runs"
    with EchoServer() as server:
        assert (
            main(
                [
                    "-q",
                    "score",
                    "llava-bench",
                    "--answers",
                    str(answers),
                    "--output",
                    str(runs / "lb.json"),
                    "--judge-model",
                    "judge-x",
                    "--judge-base-url",
                    server.url,
                    "--judge-max-retries",
                    "1",
                ]
            )
            == 3  # two judge calls failed: exit status 3
        )
        code = main(
            [
                "-q",
                "run",
                "--backend",
                "openai",
                "--model",
                "openai:fake-vlm",
                "--base-url",
                server.url,
                "--benchmarks",
                str(bench),
                "--out",
                str(runs / "gen"),
                "--max-retries",
                "1",
            ]
        )
        assert code == 3  # two items failed, reported unscored
    shown = capsys.readouterr()
    rec = json.loads((runs / "lb.json").read_text())
    reasons = [u["reason"] for u in rec["unscored"]]
    assert len(reasons) == 2 and all(REDACTED in r for r in reasons), reasons
    gen = json.loads((runs / "gen" / "api-bench" / "result.json").read_text())
    assert [u["index"] for u in gen["unscored"]] == [1, 2]
    assert all(REDACTED in u["reason"] for u in gen["unscored"])
    entries = tmp_path / "entries"
    shutil.copytree(ROOT / "leaderboard" / "entries", entries)
    assert (
        main(
            [
                "-q",
                "leaderboard",
                "add",
                str(runs / "lb.json"),
                str(runs / "gen" / "api-bench" / "result.json"),
                "--entries",
                str(entries),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "-q",
                "leaderboard",
                "build",
                "--entries",
                str(entries),
                "--out",
                str(tmp_path / "site"),
            ]
        )
        == 0
    )
    assert (runs / "judge_calls.jsonl").exists() and (runs / "gen" / "answers.sqlite").exists()
    assert any(home.rglob("judge.sqlite"))
    assert files_with_key(tmp_path) == []
    assert KEY not in shown.out + shown.err


# -- item 11: the cost cap ------------------------------------------------------------------
def _spent(error: str) -> float:
    return float(re.search(r"spent \$([0-9.]+)", error).group(1))


@pytest.mark.parametrize("concurrency", [16, 1])
def test_cost_cap_holds_when_usage_is_four_times_the_estimate(home, tmp_path, concurrency):
    prices = {"judge-x": (1000.0, 1000.0)}  # $ per 1M tokens: one prompt char ~ $0.001
    requests = [
        JudgeRequest(
            str(i), [{"role": "user", "content": f"item {i} " + "w" * 2000}], {"max_tokens": 16}
        )
        for i in range(80)
    ]
    cap = 20.0
    with EchoServer() as server:
        server.usage_factor, server.delay = 4, 0.02  # usage = 4x the chars/4 estimate
        c = JudgeClient(
            JudgeConfig(
                model="judge-x",
                base_url=server.url,
                concurrency=concurrency,
                max_cost=cap,
                prices=prices,
                cache_dir=tmp_path / "c",
            )
        )
        out = c.run(requests)
        total = sum(
            (u["prompt_tokens"] + u["completion_tokens"]) * 1000.0 / 1e6 for u in server.reported
        )
        refused = [r for r in out if r.error]
        assert refused and all(
            "judge budget reached: --judge-max-cost 20.0" in r.error for r in refused
        )
        assert total <= cap, f"spent ${total:.4f} against a ${cap} cap"
        assert total > cap * 0.8  # the reservation is an upper bound, not a wild over-estimate
        assert c.cost == pytest.approx(total) and c.reserved == pytest.approx(0.0, abs=1e-9)
        assert all(_spent(r.error) <= total + 1e-4 for r in refused)
        assert c.describe()["cost_usd"] == pytest.approx(total)
        # once nothing is in flight, a refusal states exactly what the endpoint's usage cost
        (late,) = c.run([JudgeRequest("late", requests[0].messages, {"max_tokens": 17})])
        assert (
            _spent(late.error) == pytest.approx(total, abs=1e-4) and "in flight" not in late.error
        )
        assert f"on {len(server.reported)} calls" in late.error


def test_cost_cap_needs_a_reply_bound_and_counts_unreported_usage(home, tmp_path):
    with EchoServer() as server:
        c = JudgeClient(
            JudgeConfig(
                model="judge-x",
                base_url=server.url,
                max_cost=1.0,
                prices={"judge-x": (1.0, 1.0)},
                cache_dir=tmp_path / "c",
            )
        )
        (r,) = c.run([JudgeRequest("a", [{"role": "user", "content": "item"}], {})])
        assert r.content is None and "needs a bound on the reply" in r.error and server.posts == 0
        est = c.estimate(
            [JudgeRequest("a", [{"role": "user", "content": "é" * 100}], {"max_tokens": 10})]
        )
        assert est["prompt_tokens_max"] >= 200 and est["max_completion_tokens"] == 10  # UTF-8 bytes


# -- item 12: Retry-After and item deadlines ------------------------------------------------
def test_retry_after_forms():
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
    date = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=now.timestamp()) == pytest.approx(90)
    assert (
        retry_after_seconds(
            {"retry-after": format_datetime(now - timedelta(seconds=5), usegmt=True)},
            now=now.timestamp(),
        )
        == 0.0
    )
    assert retry_after_seconds({"retry-after": "3600"}) == 3600.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_capped(home, tmp_path, form):
    with EchoServer() as server:
        if form == "http-date":
            server.retry_after = format_datetime(
                datetime.now(timezone.utc) + timedelta(hours=1), usegmt=True
            )
        c = JudgeClient(
            JudgeConfig(
                model="judge-x",
                base_url=server.url,
                max_retries=2,
                max_retry_wait=0.2,
                cache_dir=tmp_path / "c",
            )
        )
        t0 = time.perf_counter()
        (r,) = c.run(
            [JudgeRequest("s", [{"role": "user", "content": "SLOW item"}], {"max_tokens": 8})]
        )
        took = time.perf_counter() - t0
    assert server.posts == 3 and 0.4 <= took < 5, took
    assert r.content is None and "429" in r.error
    assert "capped at --judge-max-retry-wait 0.2 s" in r.error and re.search(
        r"Retry-After 3[56]\d\d s was capped", r.error
    )


def test_item_deadline_makes_the_item_unscored_with_the_reason(home, tmp_path):
    with EchoServer() as server:
        c = JudgeClient(
            JudgeConfig(
                model="judge-x", base_url=server.url, item_timeout=0.5, cache_dir=tmp_path / "c"
            )
        )
        t0 = time.perf_counter()
        (r,) = c.run(
            [JudgeRequest("s", [{"role": "user", "content": "SLOW item"}], {"max_tokens": 8})]
        )
        assert time.perf_counter() - t0 < 5  # the default 60 s cap would pass the 0.5 s deadline
        assert r.content is None and "--judge-item-timeout 0.5 s" in r.error and server.posts == 1
        server.delay = 3.0  # a reply slower than the deadline: the call itself is cut short
        t0 = time.perf_counter()
        (r,) = c.run(
            [JudgeRequest("t", [{"role": "user", "content": "slow reply"}], {"max_tokens": 8})]
        )
        assert (
            time.perf_counter() - t0 < 2.5
            and "Timeout" in r.error
            and "--judge-item-timeout" in r.error
        )


def test_score_cli_caps_retry_after_and_reports_unscored(home, tmp_path, capsys):
    qs = [
        json.loads(x)
        for x in (BENCHMARKS / "llava-bench-coco" / "data" / "qa90_questions.jsonl")
        .read_text()
        .splitlines()
    ]
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        "".join(
            json.dumps(
                {
                    "question_id": q["question_id"],
                    "text": "SLOW" if q["question_id"] == 3 else "Fine.",
                }
            )
            + "\n"
            for q in qs
        )
    )
    with EchoServer() as server:
        t0 = time.perf_counter()
        assert (
            main(
                [
                    "-q",
                    "score",
                    "llava-bench",
                    "--answers",
                    str(answers),
                    "--output",
                    str(tmp_path / "lb.json"),
                    "--judge-model",
                    "judge-x",
                    "--judge-base-url",
                    server.url,
                    "--judge-max-retries",
                    "3",
                    "--judge-max-retry-wait",
                    "0.1",
                    "--judge-item-timeout",
                    "30",
                ]
            )
            == 3  # a judge call failed: exit status 3
        )
        assert time.perf_counter() - t0 < 30
    rec = json.loads((tmp_path / "lb.json").read_text())
    (u,) = rec["unscored"]
    assert (
        "judge call failed" in u["reason"]
        and "capped at --judge-max-retry-wait 0.1 s" in u["reason"]
    )
    assert rec["metrics"]["reported"]["all"]["n"] == 89  # unscored, not 0


@pytest.mark.parametrize(
    "flag", ["--judge-max-retry-wait", "--judge-item-timeout", "--judge-max-cost"]
)
def test_negative_limits_are_one_line_errors(home, tmp_path, capsys, flag):
    argv = [
        "score",
        "llava-bench",
        "--answers",
        str(tmp_path / "a.jsonl"),
        "--output",
        str(tmp_path / "o.json"),
        "--judge-model",
        "m",
        flag,
        "-1",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"{flag} must be a number of at least 0, not -1.0" in err and "Traceback" not in err
