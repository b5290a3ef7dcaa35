"""Data-parallel ``halbench run``: 2 CPU processes (gloo) give exactly the 1-process files.

Launched three ways: ``accelerate launch -m halbench``, ``torchrun -m halbench`` and, for the
faults (a failing, a crashing, a hung rank), two processes started here with the variables
the launchers set, so that each rank's exit status and message can be read.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from halbench import distributed
from halbench.run import RunConfig, run
from halbench.store import AnswerStore

from .conftest import make_benchmark

pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.slow]

N_ITEMS = 11  # odd, with --batch-size 2: the ranks get 3 and 3 batches, the last one short
LAUNCH = Path(__file__).parent / "dist_run_launch.py"
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def reference(tiny_model, tmp_path_factory):
    """A custom benchmark and its one-process run."""
    root = tmp_path_factory.mktemp("dist")
    bench = make_benchmark(root / "dist-bench", N_ITEMS)
    run(
        RunConfig(
            model=str(tiny_model), benchmarks=[str(bench), "demo"], out=root / "one", batch_size=2
        )
    )
    return bench, root / "one"


def _args(tiny_model: Path, bench: Path | str, out: Path, *extra: str) -> list[str]:
    return [
        "-q",
        "run",
        "--model",
        str(tiny_model),
        "--benchmarks",
        str(bench),
        "--out",
        str(out),
        "--batch-size",
        "2",
        *extra,
    ]


def _check(proc: subprocess.CompletedProcess, code: int = 0) -> None:
    assert proc.returncode == code, proc.stdout[-2000:] + proc.stderr[-4000:]


def _same_as_reference(out: Path, one: Path, name: str, n: int = N_ITEMS) -> dict:
    """answers.jsonl byte for byte; result.json equal but for timings and provenance."""
    assert (out / name / "answers.jsonl").read_bytes() == (
        one / name / "answers.jsonl"
    ).read_bytes()
    two_rec = json.loads((out / name / "result.json").read_text())
    one_rec = json.loads((one / name / "result.json").read_text())
    run2 = two_rec.pop("provenance")["details"]["run"]
    run1 = one_rec.pop("provenance")["details"]["run"]
    assert two_rec == one_rec  # metrics, fractions, items, unscored, model, protocol
    assert run1["world_size"] == 1 and run2["world_size"] == 2
    assert run2["items"] == n and run2["failed"] == 0
    assert run2["store_run_key"] == run1["store_run_key"]
    assert not list(out.glob(distributed.RANK_STORE_GLOB))  # merged into the one store
    store = AnswerStore(out / "answers.sqlite")
    try:
        assert store.count(run2["store_run_key"]) == n
    finally:
        store.close()
    return run2


def _spawn(args: list[str], fault: str = "", timeout: str = "") -> list[subprocess.Popen]:
    """Two ranks started the way torchrun starts them (its variables), without torchrun."""
    port = str(_port())
    procs = []
    for rank in (0, 1):
        env = {
            **ENV,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "HALBENCH_TEST_DIST_FAULT": fault,
            "HALBENCH_TEST_DIST_TIMEOUT": timeout,
        }
        cmd = [sys.executable, str(LAUNCH), *args]
        procs.append(
            subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    return procs


def _finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_shard_keeps_one_process_batches():
    items = list(range(11))
    shares = [distributed.shard(items, 2, r, 3) for r in range(3)]
    assert shares == [[0, 1, 6, 7], [2, 3, 8, 9], [4, 5, 10]]
    assert sorted(sum(shares, [])) == items  # each item exactly once
    assert distributed.shard(items, 4, 0, 1) == items


def test_rank_stores_merge_into_the_store(tmp_path):
    from halbench.errors import HalbenchError

    main = AnswerStore(tmp_path / "answers.sqlite")
    main.register("k", {"b": 1})
    main.put("k", "a", "p", "kept")
    rank1 = AnswerStore(distributed.rank_store_path(tmp_path, 1))
    rank1.register("k", {"b": 1})
    rank1.put("k", "a", "p", "other")  # already in the store: the store's answer stays
    rank1.put("k", "b", "p", "new")
    rank1.close()
    assert distributed.merge_rank_stores(main, tmp_path) == 1
    assert main.get("k", [("a", "p"), ("b", "p")]) == {"a": "kept", "b": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "answers.sqlite",
        "answers.sqlite-shm",
        "answers.sqlite-wal",
    ]
    (tmp_path / "answers.rank2.sqlite").write_text("not a database")
    with pytest.raises(HalbenchError, match=r"answers.rank2.sqlite: .*answer store"):
        distributed.merge_rank_stores(main, tmp_path)
    main.close()


def test_each_rank_takes_its_local_gpu(monkeypatch):
    import torch

    ranks = distributed.Ranks.__new__(distributed.Ranks)
    ranks.world_size, ranks.local_rank = 4, 3
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 8)
    assert [ranks.device(d) for d in (None, "cuda", "cpu", "cuda:5")] == [
        "cuda:3",
        "cuda:3",
        "cpu",
        "cuda:5",
    ]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert ranks.device(None) == "cuda:1"
    ranks.world_size = 1
    assert ranks.device(None) is None


def test_accelerate_launch_two_processes_match_one(tiny_model, reference):
    bench, one = reference
    out = one.parent / "accelerate"
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_port()),
        "-m",
        "halbench",
        *_args(tiny_model, f"{bench},demo", out),
    ]
    proc = subprocess.run(
        cmd, env={**ENV, "ACCELERATE_USE_CPU": "true"}, capture_output=True, text=True, timeout=300
    )
    _check(proc)
    assert proc.stdout.count("headline") == 1  # one summary: rank 0's
    run2 = _same_as_reference(out, one, bench.name)
    assert (run2["generated"], run2["reused_from_store"]) == (N_ITEMS, 0)
    assert _same_as_reference(out, one, "demo", 6)["generated"] == 6


def test_torchrun_resumes_a_half_filled_store(tiny_model, reference):
    """The store holds 5 answers (a 1-process run with --limit 5): 2 ranks generate the other 6."""
    bench, one = reference
    out = one.parent / "torchrun"
    run(RunConfig(model=str(tiny_model), benchmarks=[str(bench)], out=out, batch_size=2, limit=5))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_port()),
        "-m",
        "halbench",
        *_args(tiny_model, bench, out),
    ]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    _check(proc)
    run2 = _same_as_reference(out, one, bench.name)
    assert (run2["generated"], run2["reused_from_store"]) == (N_ITEMS - 5, 5)


def test_failed_items_are_unscored_and_every_rank_exits_3(tiny_model, reference):
    bench, one = reference
    out = one.parent / "fail"
    results = [_finish(p) for p in _spawn(_args(tiny_model, bench, out), fault="fail:1")]
    assert [code for code, _, _ in results] == [3, 3], results
    assert "generation failed" in results[0][1] and results[1][1] == ""  # rank 0's summary only
    rec = json.loads((out / bench.name / "result.json").read_text())
    # rank 1 had batches 1, 3, 5 (items 2, 3, 6, 7, 10) and dropped every other answer
    failed = {f"it{k:03d}" for k in (3, 7)}
    assert rec["n_unscored"] == 2 and rec["provenance"]["details"]["run"]["failed"] == 2
    assert {rec["items"][u["index"]]["item_id"] for u in rec["unscored"]} == failed
    assert {u["reason"] for u in rec["unscored"]} == {
        "generation failed: injected failure on this rank"
    }
    ref = json.loads((one / bench.name / "result.json").read_text())
    assert [x for x in rec["items"] if x["item_id"] not in failed] == [
        x for x in ref["items"] if x["item_id"] not in failed
    ]
    assert not (out / bench.name / "failed.jsonl").exists()
    assert sorted(p.name for p in out.iterdir()) == ["answers.sqlite", bench.name]


def test_crashed_rank_stops_the_others_and_the_rerun_resumes(tiny_model, reference):
    bench, one = reference
    out = one.parent / "crash"
    args = _args(tiny_model, bench, out)
    (c0, _, err0), (c1, _, _) = [_finish(p) for p in _spawn(args, fault="crash:1:2")]
    assert (c0, c1) == (1, 9)
    assert "another rank stopped (crashed or was killed)" in err0 and "Traceback" not in err0
    assert "run the same command again to resume" in err0
    assert (out / "answers.rank1.sqlite").exists()  # rank 1's 2 answers, not yet merged
    assert not (out / bench.name / "result.json").exists()
    for code, _, err in [_finish(p) for p in _spawn(args)]:
        assert code == 0, err[-3000:]
    run2 = _same_as_reference(out, one, bench.name)
    assert (
        run2["reused_from_store"] >= 2 and run2["generated"] == N_ITEMS - run2["reused_from_store"]
    )


def test_hung_rank_times_out_with_a_clear_message(tiny_model, reference):
    bench, one = reference
    out = one.parent / "hang"
    rank0, rank1 = _spawn(_args(tiny_model, bench, out), fault="hang:1", timeout="5")
    try:
        code, _, err = _finish(rank0, timeout=240)
    finally:
        rank1.kill()  # asleep in its fake generate()
        rank1.communicate()
    assert code == 1, err[-3000:]
    assert "did not arrive within 5 s" in err and "generation" in err and "Traceback" not in err
