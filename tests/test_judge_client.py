"""The judge client against a real local HTTP server: cache, retries, budget, faults, no key leaks."""

from __future__ import annotations

import random

import pytest

from halbench.judges import JudgeClient, JudgeConfig, JudgeRequest

from .fake_openai import FakeOpenAI

SECRET = "sk-judge-secret-never-stored-42"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI() as s:
        s.reply = lambda text: "8 9\nAssistant 2 is a bit better." if "item" in text else "?"
        yield s


def reqs(n, prefix="item"):
    return [
        JudgeRequest(
            str(i),
            [
                {"role": "system", "content": "You judge."},
                {"role": "user", "content": f"{prefix} {i}"},
            ],
            {"temperature": 0.2, "max_tokens": 32},
        )
        for i in range(n)
    ]


def client(server, tmp_path, **kw):
    cfg = dict(
        model="gpt-4o-mini",
        base_url=server.url,
        cache_dir=tmp_path / "cache",
        log_path=tmp_path / "calls.jsonl",
        backoff_base=0.01,
        backoff_max=0.05,
        concurrency=8,
    )
    cfg.update(kw)
    return JudgeClient(JudgeConfig(**cfg))


def test_calls_cache_and_no_key_on_disk(server, tmp_path):
    c = client(server, tmp_path)
    first = c.run(reqs(5))
    assert [r.content.splitlines()[0] for r in first] == ["8 9"] * 5 and not any(
        r.cached for r in first
    )
    assert (
        first[0].returned_model == "gpt-4o-mini-2026" and first[0].usage["completion_tokens"] == 7
    )
    n = len(server.requests)
    again = client(server, tmp_path).run(reqs(5))
    assert all(r.cached for r in again) and len(server.requests) == n  # re-scoring costs nothing
    changed = client(server, tmp_path).run(
        [JudgeRequest("0", reqs(1)[0].messages, {"temperature": 0.0, "max_tokens": 32})]
    )
    assert not changed[0].cached  # parameters are part of the key
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert sum(1 for _ in (tmp_path / "calls.jsonl").open()) == 11


def test_retries_and_final_failure(server, tmp_path):
    flaky = [JudgeRequest("f", [{"role": "user", "content": "FLAKY item"}], {})]
    (ok,) = client(server, tmp_path).run(flaky)  # one 429 with Retry-After: 0, then fine
    assert ok.content is not None and ok.error is None
    server.fail_markers.add("DOWN")
    (bad,) = client(server, tmp_path, max_retries=2).run(
        [JudgeRequest("d", [{"role": "user", "content": "DOWN item"}], {})]
    )
    assert bad.content is None and "503" in bad.error
    assert sum("DOWN" in str(r["messages"]) for r in server.requests) == 3  # 1 + 2 retries


def test_call_budget_stops_cleanly(server, tmp_path):
    c = client(server, tmp_path, max_calls=3, concurrency=1)
    out = c.run(reqs(5))
    assert [r.error is None for r in out] == [True, True, True, False, False]
    assert "budget reached: --judge-max-calls 3" in out[3].error
    assert len(server.requests) == 3


def test_cost_budget_and_estimate(server, tmp_path):
    c = client(
        server, tmp_path, max_cost=0.00001, prices={"gpt-4o-mini": (100.0, 100.0)}, concurrency=1
    )
    est = c.estimate(reqs(4))
    assert est["calls"] == 4 and est["max_cost_usd"] > 0.00001
    out = c.run(reqs(4))
    assert all(r.error and "judge-max-cost" in r.error for r in out) and server.requests == []


def test_fault_injection_then_rerun_scores_only_the_failures(server, tmp_path):
    rnd = random.Random(3)
    faulty = {str(i) for i in range(300) if rnd.random() < 0.3}
    server.fail_markers = {f"item {k}\n" for k in faulty}
    requests = [
        JudgeRequest(str(i), [{"role": "user", "content": f"item {i}\n"}], {}) for i in range(300)
    ]
    first = client(server, tmp_path, max_retries=1, concurrency=32).run(requests)
    failed = {r.key for r in first if r.error}
    assert failed == faulty and all(r.content for r in first if r.key not in faulty)
    assert len(first) == 300  # every item is either answered or explicitly failed
    server.fail_markers = set()
    before = len(server.requests)
    second = client(server, tmp_path, concurrency=32).run(requests)
    assert all(r.error is None for r in second)
    assert len(server.requests) - before == len(faulty)  # only the failures were called again
