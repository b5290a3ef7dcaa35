"""``halbench reproduce rlhfv``: the tiny preset end to end (offline, CPU), stage skipping, the
dry-run plan of every preset (geometry and memory figures computed by hand), and the errors."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

from halbench.cli import main
from halbench.errors import HalbenchError
from halbench.io import sha256_file
from reference_models.rlhfv.reproduce import ReproduceOptions, reproduce
from reference_models.rlhfv.reproduce_plan import (
    PRESETS_DIR,
    Launch,
    geometry,
    load_preset,
    memory_estimate,
    preset_names,
    read_launch,
    trainable_params,
)

ACCEL = (
    Path(__file__).resolve().parents[1] / "reference_models" / "rlhfv" / "configs" / "accelerate"
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a shared machine torch's default (one per core) is several times
    slower (building the demo model: 110 s wall with the default, 15 s with one thread, load
    11), and a resumed run must use the threads of the first to end with equal weights."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_run(one_thread, tmp_path_factory):
    pytest.importorskip("accelerate")
    out = tmp_path_factory.mktemp("repro") / "tiny"
    result = reproduce(ReproduceOptions("tiny", out, command=["test"]))
    return out, result


def test_tiny_preset_end_to_end(tiny_run):
    out, result = tiny_run
    assert result.ran == ["prepare", "eval-base", "train", "eval-trained", "report"]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["base"], summary["trained"]) == ("tiny-llava-demo", "rlhfv-ddpo-tiny")
    base = json.loads((out / "records" / "base" / "demo.json").read_text())
    trained = json.loads((out / "records" / "trained" / "demo.json").read_text())
    # the relative change is computed from the two records' own metrics
    for row in summary["metrics"]:
        b, t = base["metrics"][row["metric"]], trained["metrics"][row["metric"]]
        assert (row["base"], row["trained"]) == (b, t)
        assert row["relative_change"] == pytest.approx((t - b) / b)
    # the trained record links its training run and says what it reproduces
    details = trained["provenance"]["details"]
    link = details["trained_from"]
    record = Path(link["train_record"])
    assert link["train_record_sha256"] == sha256_file(record)
    train_record = json.loads(record.read_text())
    assert link["data_checksum"] == train_record["data"]["checksum"]
    assert link["steps"] == train_record["resolved"]["steps"] == 12  # 24 pairs / 8 x 4 epochs
    assert link["config"]["learning_rate"] == 1e-4 and link["n_pairs"] == 24
    assert link["base_fingerprint"] == train_record["base_model"]["fingerprint"]
    assert link["loss_curve"] == train_record["loss_curve"]
    assert details["reproduces"]["preset"] == "tiny"
    assert details["reproduction"] == {"preset": "tiny", "role": "trained"}
    assert base["provenance"]["details"]["reproduction"]["role"] == "base"
    assert "trained_from" not in base["provenance"]["details"]
    # the same settings for both evaluations
    assert base["model"]["generation"] == trained["model"]["generation"]
    # the leaderboard: both rows, the relative change, the paper's rows
    index = (out / "leaderboard" / "index.html").read_text()
    assert "tiny-llava-demo" in index and "rlhfv-ddpo-tiny" in index
    assert "Reproduction (tiny)" in index and "LLaVA-RLHF" in index
    entry = json.loads((out / "leaderboard-entries" / "reproduction.json").read_text())
    ours = entry["rows"][0]["values"]
    assert ours["objhal_resp_rel"] == pytest.approx(100 * summary["metrics"][0]["relative_change"])
    assert entry["source"]["kind"] == "reproduced"
    # leaderboard.csv: the trained model is "reproduced" beside its base ("our run")
    with (out / "leaderboard" / "leaderboard.csv").open(newline="") as f:
        rows = [
            r for r in csv.DictReader(f) if r["table"].endswith("against its base tiny-llava-demo")
        ]
    assert {r["model"]: r["source"] for r in rows} == {
        "tiny-llava-demo": "our run",
        "rlhfv-ddpo-tiny": "reproduced",
    }
    # every stage has a done manifest with its input checksum
    for stage in ("prepare", "eval-base", "train", "eval-trained"):
        m = json.loads((out / "stages" / f"{stage}.json").read_text())
        assert m["status"] == "done" and len(m["inputs_sha256"]) == 64


def test_second_run_skips_every_stage(tiny_run):
    out, _ = tiny_run
    weights = out / "train" / "rlhfv-ddpo-tiny" / "model.safetensors"
    answers = out / "eval" / "trained" / "demo" / "answers.jsonl"
    before = weights.stat().st_mtime_ns, answers.stat().st_mtime_ns
    result = reproduce(ReproduceOptions("tiny", out, command=["test"]))
    assert result.skipped == ["prepare", "eval-base", "train", "eval-trained"]
    assert result.ran == ["report"]
    assert (weights.stat().st_mtime_ns, answers.stat().st_mtime_ns) == before


def test_dry_run_reports_stage_status_and_starts_nothing(tiny_run, tmp_path, capsys):
    out, _ = tiny_run
    assert main(["reproduce", "rlhfv", "--preset", "tiny", "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "1. prepare       [done: skip]" in text and "3. train         [done: skip]" in text
    assert "24 pairs (prepared data)" in text
    fresh = tmp_path / "fresh"
    assert main(["reproduce", "rlhfv", "--preset", "tiny", "--out", str(fresh), "--dry-run"]) == 0
    assert "[to do]" in capsys.readouterr().out
    assert not fresh.exists()


def test_train_stage_refuses_changed_inputs(tiny_run, tmp_path):
    """A started (killed) training run is resumed only with the same inputs."""
    out, _ = tiny_run
    copy = tmp_path / "changed"
    shutil.copytree(out, copy)
    manifest = copy / "stages" / "train.json"
    m = json.loads(manifest.read_text())
    m["status"], m["inputs_sha256"] = "started", "0" * 64
    manifest.write_text(json.dumps(m))
    with pytest.raises(HalbenchError, match="stage train: a run with other inputs"):
        reproduce(ReproduceOptions("tiny", copy))


@pytest.mark.parametrize(
    "name", ["tiny", "llava15-7b-paper", "llava15-7b-2024", "llava15-7b-rlaifv-lora", "released"]
)
def test_every_preset_dry_runs_offline(name, tmp_path, capsys):
    config = [] if name == "tiny" else ["--accelerate-config", str(ACCEL / "zero2.yaml")]
    argv = ["reproduce", "rlhfv", "--preset", name, "--out", str(tmp_path / "o"), "--dry-run"]
    assert main([*argv, *config]) == 0
    text = capsys.readouterr().out
    if name == "released":  # no training: no geometry, inference memory
        assert "no training; inference memory: weights 25.50 GiB" in text
    else:
        assert "batch geometry:" in text and "memory per GPU" in text
    assert "nothing was started" in text
    assert not (tmp_path / "o").exists()


def test_paper_preset_matches_the_papers_update_count():
    p = load_preset("llava15-7b-paper")
    t = p.train
    assert (t["loss"], t["beta"], t["gamma"], t["learning_rate"]) == ("ddpo-paper", 0.5, 5.0, 5e-7)
    assert (t["global_batch_size"], t["warmup_ratio"]) == (32, 0.1)
    paper = 1401 // 32 * 7  # 43 full batches per epoch x 7 epochs
    for pairs in (1401, 5733, 20000):  # whatever the size of the data
        g = geometry(t, read_launch(ACCEL / "zero2.yaml"), pairs, True)
        assert g.steps == paper == 301
        assert (g.world, g.per_device_batch, g.accumulation, g.warmup_steps) == (8, 1, 4, 31)


def test_2024_and_lora_presets():
    r = load_preset("llava15-7b-2024").train
    assert (r["loss"], r["gamma"], r["beta"], r["global_batch_size"]) == ("ddpo-sum", 1.1, 0.1, 8)
    g = geometry(r, read_launch(ACCEL / "ddp.yaml"), 5733, False)
    assert (g.steps, g.warmup_steps, g.accumulation) == (2160, math.ceil(0.03 * 2160), 1)
    lora = load_preset("llava15-7b-rlaifv-lora").train
    assert (lora["lora"], lora["lora_r"], lora["lora_alpha"]) == (True, 64, 16)
    assert (lora["learning_rate"], lora["weight_decay"]) == (1e-5, 0.01)


def test_memory_estimate_by_hand():
    mc = load_preset("llava15-7b-paper").model_config
    p = 7_063_427_072
    assert mc["params_total"] == p
    train = {"dtype": "float32", "mixed_precision": "bf16", "per_device_batch_size": 1}
    one = memory_estimate(mc, train, Launch())
    assert one["weights"] == p * 4 and one["gradients"] == p * 4 and one["adam_states"] == p * 8
    assert one["reference_model"] == 0
    seq, rows, h = 576 + 256, 2, 4096
    lm = 34 * seq * rows * h * 32
    vis = 34 * 577 * rows * 1024 * 24
    logits = 2 * rows * 256 * 32064 * 4
    assert one["activations"] == lm + vis + logits
    # ZeRO-2 on 8 GPUs, bf16: bf16 model, gradients and optimizer (fp32 master + moments) sharded
    z2 = memory_estimate(mc, train, Launch(8, "DEEPSPEED", 2))
    assert z2["weights"] == 2 * p and z2["gradients"] == 2 * p / 8
    assert z2["adam_states"] == 12 * p / 8
    z3 = memory_estimate(mc, train, Launch(8, "DEEPSPEED", 3))
    assert z3["weights"] == 2 * p / 8
    fsdp = memory_estimate(mc, train, Launch(8, "FSDP"))
    assert (fsdp["weights"], fsdp["gradients"], fsdp["adam_states"]) == (4 * p / 8, 4 * p / 8, p)
    ckpt = memory_estimate(mc, {**train, "gradient_checkpointing": True}, Launch())
    assert (
        ckpt["activations"]
        == 2 * seq * rows * h * 32 + lm / 32 + 2 * 577 * rows * 1024 * 24 + vis / 24 + logits
    )
    # LoRA r 64 on q, k, v, o, gate, up, down of 32 layers (h 4096, intermediate 11008)
    per_layer = 64 * (4 * (4096 + 4096) + 3 * (4096 + 11008))
    assert trainable_params(mc, {"lora": True, "lora_r": 64}) == 32 * per_layer == 159_907_840


def test_preset_errors(tmp_path, capsys):
    assert (
        main(["reproduce", "rlhfv", "--preset", "tinyy", "--out", str(tmp_path), "--dry-run"]) == 1
    )
    err = capsys.readouterr().err
    assert "unknown preset 'tinyy' (did you mean 'tiny'?)" in err and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    raw = yaml.safe_load((PRESETS_DIR / "tiny.yaml").read_text())
    bad.write_text(yaml.safe_dump({**raw, "benchmarkz": ["demo"]}))
    assert (
        main(
            ["reproduce", "rlhfv", "--preset", str(bad), "--out", str(tmp_path / "o"), "--dry-run"]
        )
        == 1
    )
    assert "bad.yaml: unknown field 'benchmarkz'" in capsys.readouterr().err
    assert set(preset_names()) >= {
        "tiny",
        "llava15-7b-paper",
        "llava15-7b-2024",
        "llava15-7b-rlaifv-lora",
    }


def test_batch_geometry_that_does_not_divide_is_refused(tmp_path, capsys):
    argv = ["reproduce", "rlhfv", "--preset", "tiny", "--out", str(tmp_path), "--dry-run"]
    assert main([*argv, "--accelerate-config", str(ACCEL / "zero2.yaml")]) == 1
    assert (
        "global_batch_size 8 is not a multiple of per_device_batch_size x processes (4 x 8)"
        in capsys.readouterr().err
    )


def _data_only_preset(tmp_path: Path, **data) -> Path:
    """The tiny preset with a hub id as base model (nothing built): prepare checks only data."""
    raw = yaml.safe_load((PRESETS_DIR / "tiny.yaml").read_text())
    raw["base_model"] = {"model": "nobody/no-model"}
    raw["data"] = {
        **raw["data"],
        "source": str(PRESETS_DIR.parent.parent / "data" / "tiny_prefs" / "prefs.jsonl"),
        **data,
    }
    path = tmp_path / "preset.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_data_checksum_is_checked(tmp_path):
    preset = _data_only_preset(tmp_path, sha256="0" * 64)
    with pytest.raises(HalbenchError, match="differs from the preset's 0000"):
        reproduce(ReproduceOptions(str(preset), tmp_path / "o"))
    assert (
        json.loads((tmp_path / "o" / "stages" / "prepare.json").read_text())["status"] == "started"
    )


def test_missing_data_names_the_flag(tmp_path):
    preset = _data_only_preset(tmp_path)
    with pytest.raises(HalbenchError, match="preference data not found"):
        reproduce(ReproduceOptions(str(preset), tmp_path / "o", data=tmp_path / "nope.jsonl"))


def test_killed_training_resumes_from_its_last_checkpoint(tiny_run, tmp_path):
    """Killed after step 8's checkpoint (of 12): the same command continues from it and ends
    with the weights of the uninterrupted run."""
    from safetensors.torch import load_file

    out, _ = tiny_run
    copy = tmp_path / "killed"
    shutil.copytree(out, copy)
    run_dir = copy / "train" / "rlhfv-ddpo-tiny"
    manifest = copy / "stages" / "train.json"
    m = json.loads(manifest.read_text())
    m["status"] = "started"
    manifest.write_text(json.dumps(m))
    for name in ("model.safetensors", "train_record.json"):
        (run_dir / name).unlink()
    lines = (run_dir / "train_log.jsonl").read_text().splitlines()
    (run_dir / "train_log.jsonl").write_text("\n".join(lines[:8]) + "\n")
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step-4", "step-8"]
    result = reproduce(ReproduceOptions("tiny", copy, command=["test"]))
    assert "train" in result.ran and result.skipped[:2] == ["prepare", "eval-base"]
    record = json.loads((run_dir / "train_record.json").read_text())
    assert record["resumed_from"].endswith("step-8")
    first = load_file(out / "train" / "rlhfv-ddpo-tiny" / "model.safetensors")
    again = load_file(run_dir / "model.safetensors")
    assert first.keys() == again.keys()
    assert all(bool((first[k] == again[k]).all()) for k in first)
    link = json.loads((copy / "records" / "trained" / "demo.json").read_text())
    assert link["provenance"]["details"]["trained_from"]["train_record"] == str(
        run_dir / "train_record.json"
    )


def test_top_level_leaderboard_links_when_the_record_has_them(tiny_run, tmp_path, monkeypatch):
    """With the leaderboard's record fields (reproduces / trained_from / base_of) they are set."""
    import halbench.types
    from reference_models.rlhfv import reproduce_report

    class Linked(halbench.types.ResultRecord):
        reproduces: str | None = None
        trained_from: str | None = None
        base_of: str | None = None

    monkeypatch.setattr(halbench.types, "ResultRecord", Linked)
    out, _ = tiny_run
    src = out / "eval" / "trained" / "demo" / "result.json"
    dest = reproduce_report._link(
        src, tmp_path / "r.json", {"x": 1}, {"reproduces": "rlhfv-table1:RLHF-V", "base_of": None}
    )
    data = json.loads(dest.read_text())
    assert data["reproduces"] == "rlhfv-table1:RLHF-V" and data["provenance"]["details"]["x"] == 1
    assert data.get("base_of") is None
    base_fp = json.loads((out / "eval" / "base" / "demo" / "result.json").read_text())["model"]
    assert (
        reproduce_report._fingerprint(out / "eval" / "base" / "demo" / "result.json")
        == base_fp["fingerprint"]
    )


def test_training_under_accelerate_launch(tiny_run, tmp_path, monkeypatch):
    """--accelerate-config: the train stage runs `accelerate launch ... -m halbench train ddpo`
    with the resolved config written to OUT/train/ddpo-config.yaml."""
    out, _ = tiny_run
    copy = tmp_path / "launched"
    shutil.copytree(out, copy)
    (copy / "stages" / "train.json").unlink()
    shutil.rmtree(copy / "train")
    accel = tmp_path / "one-cpu.yaml"
    accel.write_text(
        "compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nmixed_precision: 'no'\n"
        "num_machines: 1\nnum_processes: 1\nuse_cpu: true\nmachine_rank: 0\n"
    )
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result = reproduce(ReproduceOptions("tiny", copy, accelerate_config=accel, command=["test"]))
    assert "train" in result.ran and "eval-trained" in result.ran
    config = yaml.safe_load((copy / "train" / "ddpo-config.yaml").read_text())
    assert config["resume_from"] == "latest" and config["output_dir"] == str(
        copy / "train" / "rlhfv-ddpo-tiny"
    )
    record = json.loads((copy / "train" / "rlhfv-ddpo-tiny" / "train_record.json").read_text())
    assert record["command"][-2:] == ["--config", str(copy / "train" / "ddpo-config.yaml")]
    assert record["resolved"]["steps"] == 12


def test_judge_flags_reach_both_evaluations(one_thread, tmp_path, monkeypatch):
    """--extractor llm / --judge-* are passed to the base and the trained evaluation (the 7B
    presets' judged benchmarks and the paper's LLM extraction), and are part of their inputs."""
    pytest.importorskip("accelerate")
    from .fake_openai import FakeOpenAI

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-reproduce")
    out = tmp_path / "judged"
    with FakeOpenAI() as server:
        server.reply = lambda text: '["clock"]'
        argv = ["-q", "reproduce", "rlhfv", "--preset", "tiny", "--out", str(out)]
        argv += ["--extractor", "llm", "--judge-model", "gpt-3.5-turbo-0613"]
        argv += ["--judge-base-url", server.url]
        assert main(argv) == 0
        calls = len(server.requests)
    for role in ("base", "trained"):
        rec = json.loads((out / "records" / role / "demo.json").read_text())
        assert rec["protocol"]["extractor"] == "llm"
        assert rec["protocol"]["judge_model"] == "gpt-3.5-turbo-0613"
        stage = json.loads((out / "stages" / f"eval-{role}.json").read_text())
        assert stage["inputs"]["judge"] == {"model": "gpt-3.5-turbo-0613", "extractor": "llm"}
    assert calls > 0  # the judge listed the objects
