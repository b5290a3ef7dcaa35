"""`halbench run`: the tiny offline model end to end, resume, batch invariance, backends, bad input."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from halbench.cli import main
from halbench.errors import HalbenchError
from halbench.run import RunConfig, run
from halbench.types import ResultRecord

from .conftest import make_benchmark
from .fake_openai import FakeOpenAI

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_tiny_model_loads_with_auto_classes(tiny_model):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model)
    assert type(model).__name__ == "LlavaForConditionalGeneration"
    prompt = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi"}]}],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert prompt == "USER: <image>\nHi\nASSISTANT:"


def test_batch_size_does_not_change_answers(tiny_model, tmp_path):
    from halbench.registry import get_benchmark
    from halbench.runners import GenerationSettings, Request
    from halbench.runners.hf import HFRunner

    bench = get_benchmark(str(make_benchmark(tmp_path / "b", 9)))
    reqs = [Request(it.id, it.question, it.image, it.image_id) for it in bench.load_items()]
    runner = HFRunner(str(tiny_model))
    settings = GenerationSettings(max_new_tokens=20)
    one = dict(runner.generate(reqs, settings, batch_size=1))
    four = dict(runner.generate(reqs, settings, batch_size=4))
    assert one == four
    assert len(set(one.values())) > 1  # different prompts/images give different answers


def test_run_demo_end_to_end_and_reuse(tiny_model, tmp_path):
    out = tmp_path / "out"
    first = run(RunConfig(model=str(tiny_model), benchmarks=["demo"], out=out))
    (o,) = first
    assert o.generated == 6 and o.reused == 0 and not o.failed
    rec = ResultRecord.load(out / "demo" / "result.json")
    assert rec.benchmark == "demo" and rec.n_items == 6 and rec.n_scored == 6
    assert rec.model["backend"] == "hf" and rec.model["generation"]["max_new_tokens"] == 48
    assert rec.model["details"]["weights_sha256"]
    assert rec.protocol["scorer"] == "object-halbench"
    lines = [json.loads(x) for x in (out / "demo" / "answers.jsonl").read_text().splitlines()]
    assert [x["item_id"] for x in lines] == [f"demo-{k}" for k in range(1, 7)]
    # the same command again: everything comes from the store, identical results
    (again,) = run(RunConfig(model=str(tiny_model), benchmarks=["demo"], out=out))
    assert again.generated == 0 and again.reused == 6
    assert again.record.items == rec.items and again.record.metrics == rec.metrics
    # a changed setting never reuses a stale answer
    (changed,) = run(
        RunConfig(model=str(tiny_model), benchmarks=["demo"], out=out, max_new_tokens=5)
    )
    assert changed.generated == 6 and changed.reused == 0


def _store_count(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_run_resumes_with_identical_results(tiny_model, tmp_path):
    bench = make_benchmark(tmp_path / "resume-bench", 24)
    env = dict(os.environ)
    args = [
        "--model",
        str(tiny_model),
        "--benchmarks",
        str(bench),
        "--batch-size",
        "2",
        "--max-new-tokens",
        "160",
    ]

    def cli(out: Path) -> list[str]:
        return [sys.executable, "-m", "halbench", "-q", "run", *args, "--out", str(out)]

    killed = tmp_path / "killed"
    proc = subprocess.Popen(cli(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600  # a loaded machine loads the model slowly; idle, this is seconds
    while (
        _store_count(killed / "answers.sqlite") < 6
        and time.time() < deadline
        and proc.poll() is None
    ):
        time.sleep(0.05)
    assert proc.poll() is None, (
        "the run finished before it could be killed: " + proc.stderr.read().decode()[-500:]
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = _store_count(killed / "answers.sqlite")
    assert 6 <= stored < 24
    assert not (killed / "resume-bench" / "result.json").exists()

    resumed = subprocess.run(cli(killed), env=env, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    clean = tmp_path / "clean"
    straight = subprocess.run(cli(clean), env=env, capture_output=True, text=True, check=False)
    assert straight.returncode == 0, straight.stderr[-2000:]

    a = ResultRecord.load(killed / "resume-bench" / "result.json")
    b = ResultRecord.load(clean / "resume-bench" / "result.json")
    assert a.provenance.details["run"]["reused_from_store"] == stored
    assert a.provenance.details["run"]["generated"] == 24 - stored
    assert a.items == b.items and a.metrics == b.metrics
    assert (killed / "resume-bench" / "answers.jsonl").read_text() == (
        clean / "resume-bench" / "answers.jsonl"
    ).read_text()


def test_openai_backend(tmp_path, monkeypatch, capsys):
    bench = make_benchmark(tmp_path / "api-bench", 5)
    items = (bench / "items.jsonl").read_text().splitlines()
    items[1] = items[1].replace('"question": "', '"question": "FLAKY ')
    items[3] = items[3].replace('"question": "', '"question": "FAIL ')
    (bench / "items.jsonl").write_text("\n".join(items) + "\n")
    secret = "sk-test-secret-do-not-store-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    out = tmp_path / "out"
    with FakeOpenAI() as server:
        code = main(
            [
                "-q",
                "run",
                "--model",
                "openai:fake-vlm",
                "--base-url",
                server.url,
                "--benchmarks",
                str(bench),
                "--out",
                str(out),
                "--max-retries",
                "1",
            ]
        )
        assert code == 3  # one item failed after the client's retries
        auth = [{k.lower(): v for k, v in h.items()}.get("authorization") for h in server.headers]
        assert auth and all(a == f"Bearer {secret}" for a in auth)
        sent = server.requests[0]["messages"][0]["content"]
        assert sent[1]["image_url"]["url"].startswith("data:image/png;base64,")
    rec = ResultRecord.load(out / "api-bench" / "result.json")
    assert rec.n_items == 5 and rec.n_unscored == 1 and rec.n_scored == 4
    assert rec.unscored[0].index == 3 and "generation failed" in rec.unscored[0].reason
    assert rec.items[3]["unscored"].startswith("generation failed")
    assert rec.model["details"]["served_model"] == "fake-vlm-2026"
    assert "FLAKY" in rec.items[1]["answer"]  # retried after the 429
    assert "generation failed for item it003" in capsys.readouterr().out
    for path in out.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_replay_backend(tiny_model, tmp_path):
    out = tmp_path / "gen"
    (gen,) = run(RunConfig(model=str(tiny_model), benchmarks=["demo"], out=out))
    # our own answers.jsonl (matched by item_id)
    (rep,) = run(
        RunConfig(
            model=f"replay:{out / 'demo' / 'answers.jsonl'}",
            benchmarks=["demo"],
            out=tmp_path / "r1",
        )
    )
    assert rep.record.items == gen.record.items and rep.record.metrics == gen.record.metrics
    assert rep.record.model["details"]["matched_by"] == "item_id"
    # an RLHF-V style file: running question_id from 0, prompt and text, no image_id (by position)
    rlhfv = tmp_path / "rlhfv.jsonl"
    lines = [json.loads(x) for x in (out / "demo" / "answers.jsonl").read_text().splitlines()]
    rlhfv.write_text(
        "".join(
            json.dumps({"question_id": i, "prompt": x["question"], "text": x["answer"]}) + "\n"
            for i, x in enumerate(lines)
        )
    )
    (rep2,) = run(RunConfig(model=f"replay:{rlhfv}", benchmarks=["demo"], out=tmp_path / "r2"))
    assert rep2.record.metrics == gen.record.metrics
    assert rep2.record.model["details"]["matched_by"] == "position"
    # a file that lacks items fails before scoring, naming them
    short = tmp_path / "short.jsonl"
    short.write_text(
        "".join(
            json.dumps({"item_id": x["item_id"], "text": x["answer"]}) + "\n" for x in lines[:4]
        )
    )
    with pytest.raises(HalbenchError, match=r"no answer for item\(s\) demo-5, demo-6"):
        run(RunConfig(model=f"replay:{short}", benchmarks=["demo"], out=tmp_path / "r3"))


def test_bad_inputs(tiny_model, tmp_path, capsys):
    def err(argv):
        assert main(["-q", "run", *argv, "--out", str(tmp_path / "o")]) == 1
        return capsys.readouterr().err

    assert "does not exist" in err(["--model", str(tmp_path / "nope"), "--benchmarks", "demo"])
    # a hub id that is neither cached nor reachable (HF_HUB_OFFLINE=1 in the tests)
    assert "not loadable from the hub" in err(
        ["--model", "no-such-org/no-such-vlm", "--benchmarks", "demo"]
    )
    assert "Did you mean: demo" in err(["--model", str(tiny_model), "--benchmarks", "demoo"])
    assert "halbench data prepare object-halbench" in err(
        [
            "--model",
            str(tiny_model),
            "--benchmarks",
            "object-halbench",
            "--data-dir",
            str(tmp_path / "empty"),
        ]
    )
    # missing images are found before any model is loaded (the model path here is bad too)
    bench = make_benchmark(tmp_path / "missing-img", 4, missing_image=True)
    msg = err(["--model", str(tmp_path / "nope"), "--benchmarks", str(bench)])
    assert "1 image(s) missing" in msg and "nope.png" in msg

    # a text-only checkpoint is not an image-text model
    from transformers import LlamaConfig

    text_only = tmp_path / "text-only"
    LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
    ).save_pretrained(text_only)
    assert "is not an image-text-to-text model" in err(
        ["--model", str(text_only), "--benchmarks", "demo"]
    )
    # a checkpoint that needs its own code is refused without --trust-remote-code
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "config.json").write_text(
        json.dumps(
            {"model_type": "my_vlm", "auto_map": {"AutoConfig": "configuration_my.MyConfig"}}
        )
    )
    assert "--trust-remote-code" in err(["--model", str(custom), "--benchmarks", "demo"])


@pytest.mark.gpu
def test_vllm_backend_on_gpu(tiny_model, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    pytest.importorskip("vllm")
    (o,) = run(
        RunConfig(model=str(tiny_model), backend="vllm", benchmarks=["demo"], out=tmp_path / "v")
    )
    (h,) = run(
        RunConfig(model=str(tiny_model), backend="hf", benchmarks=["demo"], out=tmp_path / "h")
    )
    assert o.record.n_scored == 6
    assert o.record.model["backend"] == "vllm"
    same = sum(
        a["answer"] == b["answer"] for a, b in zip(o.record.items, h.record.items, strict=True)
    )
    assert same >= 5  # greedy on both; kernels may differ in the last bits
