"""DDPO training on the tiny offline model (CPU): learning, a pinned loss curve, resume, scoring."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from halbench.cli import main

PKG = Path(__file__).resolve().parents[1] / "reference_models" / "rlhfv"
TINY = PKG / "configs" / "tiny.yaml"
PINNED = Path(__file__).parent / "data" / "ddpo_tiny_curve.json"

pytest.importorskip("accelerate")


def _train(out: Path, model: Path, cache: Path, *extra: str) -> Path:
    args = [
        "-q",
        "train",
        "ddpo",
        "--config",
        str(TINY),
        "--out",
        str(out),
        "--set",
        f"model={model}",
        "--set",
        f"ref_cache_dir={cache}",
        "--set",
        "tensorboard=false",
        *extra,
    ]
    assert main(args) == 0
    return out


def _log(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory):
    base = tmp_path_factory.mktemp("ddpo")
    return _train(base / "full", tiny_model, base / "ref"), base


def test_training_lowers_loss_and_raises_reward_accuracy(trained):
    out, _ = trained
    rows = _log(out)
    assert [r["step"] for r in rows] == list(range(1, 25))  # 24 pairs / 8 per step x 8 epochs
    assert rows[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)  # policy == reference at step 0
    assert rows[0]["rewards/accuracies"] == 0.0 and rows[0]["lr"] == 0.0
    first, last = rows[:4], rows[-4:]
    mean = lambda rs, k: sum(r[k] for r in rs) / len(rs)  # noqa: E731
    assert mean(last, "loss") < mean(first, "loss") - 0.1
    assert mean(last, "rewards/accuracies") > mean(first, "rewards/accuracies") + 0.5
    assert mean(last, "rewards/margins") > 0.2
    assert mean(last, "logps/chosen") - mean(last, "logps/ref_chosen") > mean(
        last, "logps/rejected"
    ) - mean(last, "logps/ref_rejected")
    rec = json.loads((out / "train_record.json").read_text())
    assert rec["resolved"] == {
        "loss": "ddpo-paper",
        "beta": 0.5,
        "gamma": 5.0,
        "mixed_precision": "no",
        "processes": 1,
        "gradient_accumulation_steps": 2,
        "steps": 24,
        "distributed_type": "NO",
        "frozen_unused_parameters": [],
    }
    assert rec["data"]["n_pairs"] == 24 and len(rec["data"]["checksum"]) == 64
    assert rec["base_model"]["fingerprint"].startswith("sha256:")
    assert rec["loss_curve"]["last_loss"] == rows[-1]["loss"]
    assert rec["reference_cache"]["computed"] == 1 and "torch" in rec["versions"]


def test_pinned_loss_curve(trained):
    """Catches silent changes to the loss, the diff, tokenization, the schedule or the data order.

    To re-pin after a deliberate change: delete tests/data/ddpo_tiny_curve.json and rerun."""
    out, _ = trained
    losses = [round(r["loss"], 6) for r in _log(out)]
    if not PINNED.exists():
        PINNED.write_text(
            json.dumps(
                {"config": "reference_models/rlhfv/configs/tiny.yaml", "loss": losses}, indent=1
            )
            + "\n"
        )
        pytest.skip("pinned the curve (first run)")
    pinned = json.loads(PINNED.read_text())["loss"]
    assert losses == pytest.approx(pinned, abs=2e-4)


def test_resume_gives_the_same_final_weights(trained, tiny_model):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    out, base = trained
    ck = out / "checkpoints" / "step-16"
    assert (ck / "trainer_state.json").exists()
    # an interrupted run: its output dir as it was, minus the final model; log lines past step 16
    resumed = base / "resumed"
    shutil.copytree(out, resumed)
    (resumed / "model.safetensors").unlink()
    _train(resumed, tiny_model, base / "ref", "--resume-from", "latest")
    a, b = load_file(out / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = _log(resumed)
    assert rows == _log(out)  # lines 1-16 kept from before, 17-24 written after resuming
    rec = json.loads((resumed / "train_record.json").read_text())
    assert rec["resumed_from"] == str(resumed / "checkpoints" / "step-16")
    assert rec["reference_cache"]["reused"] == 1
    base_w = load_file(Path(tiny_model) / "model.safetensors")
    assert any(not torch.equal(base_w[k], a[k]) for k in a)  # training did change the weights


def test_trained_checkpoint_is_scored_by_halbench_run(trained, tmp_path):
    out, _ = trained
    assert (
        main(
            ["-q", "run", "--model", str(out), "--benchmarks", "demo", "--out", str(tmp_path / "r")]
        )
        == 0
    )
    res = json.loads((tmp_path / "r" / "demo" / "result.json").read_text())
    assert res["n_items"] == 6 and res["n_scored"] == 6


def test_lora_new_gamma_reuses_the_reference_cache_and_bad_config(
    trained, tiny_model, tmp_path, capsys
):
    pytest.importorskip("peft")
    _, base = trained
    out = _train(
        tmp_path / "lora",
        tiny_model,
        base / "ref",
        "--set",
        "lora=true",
        "--set",
        "lora_r=4",
        "--set",
        "max_steps=3",
        "--set",
        "learning_rate=0.01",
        "--set",
        "gamma=2",
    )
    rec = json.loads((out / "train_record.json").read_text())
    assert rec["resolved"]["gamma"] == 2.0
    assert (rec["reference_cache"]["computed"], rec["reference_cache"]["reused"]) == (0, 1)
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(out)  # merged: plain checkpoint
    assert not any("lora" in n for n, _ in model.named_parameters())
    assert _log(out)[-1]["step"] == 3
    code = main(["-q", "train", "ddpo", "--config", "tiny", "--set", "gama=2"])  # shipped, by name
    assert code == 1 and "unknown field 'gama' (did you mean 'gamma'?)" in capsys.readouterr().err
    again = [
        "-q",
        "train",
        "ddpo",
        "--config",
        "tiny",
        "--out",
        str(out),
        "--set",
        f"model={tiny_model}",
    ]
    assert main(again) == 1 and "already holds a run" in capsys.readouterr().err


ACC = PKG / "configs" / "accelerate"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(
    launcher: list[str],
    script: list[str],
    out: Path,
    model: Path,
    cache: Path,
    *extra: str,
    env: dict | None = None,
):
    """``accelerate launch`` 2 CPU processes (gloo). ``--cpu`` would start ONE process (accelerate's
    simple launcher): the multi-process launcher with ACCELERATE_USE_CPU=true starts two."""
    import os
    import subprocess
    import sys

    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *launcher,
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        *script,
        "-q",
        "train",
        "ddpo",
        "--config",
        str(TINY),
        "--out",
        str(out),
        "--set",
        f"model={model}",
        "--set",
        f"ref_cache_dir={cache}",
        "--set",
        "tensorboard=false",
        *extra,
    ]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "ACCELERATE_USE_CPU": "true",
        **(env or {}),
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    errors = [x for x in proc.stderr.splitlines() if "Error" in x or "error:" in x]
    assert proc.returncode == 0, "\n".join(errors[-10:]) + proc.stderr[-2000:]
    return json.loads((out / "train_record.json").read_text())


@pytest.mark.slow
def test_accelerate_launch_two_processes_matches_one(trained, tiny_model, tmp_path):
    """DDP (gloo, 2 CPU processes, 4 pairs each) == 1 process with 2 accumulation steps."""
    out, base = trained
    rec = _launch(
        ["--multi_gpu"],
        ["-m", "halbench"],
        tmp_path / "ddp",
        tiny_model,
        tmp_path / "ref",
        "--set",
        "save_steps=0",
    )
    assert (rec["resolved"]["processes"], rec["resolved"]["gradient_accumulation_steps"]) == (2, 1)
    assert rec["resolved"]["distributed_type"] == "MULTI_CPU"
    one = [r["loss"] for r in _log(out)]
    two = [r["loss"] for r in _log(tmp_path / "ddp")]
    assert two == pytest.approx(one, abs=1e-6)  # measured: 3e-8 (float32 reduction order)
    assert rec["reference_cache"]["shards"] == 1


def _dist_report(prefix: Path) -> list[dict]:
    return [json.loads(Path(f"{prefix}-rank{r}.json").read_text()) for r in (0, 1)]


SHARDED = {  # accelerate config -> (distributed_type recorded, extra environment)
    "fsdp": ("FSDP2", {}),
    # DeepSpeed: ACCELERATE_USE_CPU would skip accelerate's DeepSpeed set-up altogether
    "zero2": ("DEEPSPEED", {"ACCELERATE_USE_CPU": "false"}),
    "zero3": ("DEEPSPEED", {"ACCELERATE_USE_CPU": "false"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SHARDED))
def test_sharded_two_cpu_processes_match_one_resume_and_save_a_full_checkpoint(
    name, trained, tiny_model, tmp_path
):
    """The shipped fsdp.yaml (FSDP2) / zero2.yaml / zero3.yaml, 2 CPU processes (gloo), through
    accelerate launch; accelerate's refusal to set these up without an accelerator is patched by
    tests/cpu_dist_launch.py (see there and docs/ddpo.md). DeepSpeed tests skip without it.

    Tolerances: the two processes sum gradients in another order than one process accumulating
    two micro-batches (float32): measured max |loss diff| 9e-8 and max |weight diff| 1.4e-6 over
    the 24 steps (AdamW at lr 1e-3 amplifies rounding in near-zero second moments)."""
    torch = pytest.importorskip("torch")
    if name.startswith("zero"):
        pytest.importorskip("deepspeed")
    from safetensors.torch import load_file

    kind, env = SHARDED[name]
    out, base = trained
    launcher = (
        ["--config_file", str(ACC / f"{name}.yaml")],
        [str(Path(__file__).parent / "cpu_dist_launch.py")],
    )
    run = tmp_path / name
    report = tmp_path / "prepared"
    rec = _launch(
        *launcher,
        run,
        tiny_model,
        tmp_path / "ref",
        env={**env, "HALBENCH_TEST_DIST_REPORT": str(report)},
    )
    assert rec["resolved"]["distributed_type"] == kind
    assert (rec["resolved"]["processes"], rec["resolved"]["gradient_accumulation_steps"]) == (2, 1)
    for row in _dist_report(report):  # each rank holds half, not a replica
        if name == "fsdp":
            assert row["class"] == "FSDPLlavaForConditionalGeneration"
            assert row["dtensor_params"] == row["params"] > 0
        else:
            assert row["class"] == "DeepSpeedEngine"
            assert row["optimizer_numel"] < 0.6 * row["full_numel"]  # ZeRO-1/2: optimizer state
        if name != "zero2":  # FSDP and ZeRO-3 also partition the weights
            assert row["local_numel"] < 0.6 * row["full_numel"]
    one = [r["loss"] for r in _log(out)]
    assert [r["loss"] for r in _log(run)] == pytest.approx(one, abs=1e-6)
    # the vision layer LLaVA never reads (vision_feature_layer -2) is frozen, as one process
    # leaves it anyway (no gradient); otherwise FSDP2 refuses to resume (no optimizer state)
    frozen = rec["resolved"]["frozen_unused_parameters"]
    assert frozen and all("vision_tower" in n for n in frozen)
    base_w, a = (
        load_file(Path(tiny_model) / "model.safetensors"),
        load_file(out / "model.safetensors"),
    )
    saved = [n.removeprefix("model.") for n in frozen]  # checkpoint keys: vision_tower.*
    assert set(saved) <= set(a)
    assert all(torch.equal(base_w[n], a[n]) for n in saved)
    b = load_file(run / "model.safetensors")
    assert (
        a.keys() == b.keys()
    )  # gathered into one full checkpoint, plain names (no wrapper prefix)
    assert all(a[k].shape == b[k].shape and a[k].dtype == b[k].dtype for k in a)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    # the reference log-probs were computed before sharding, by the full model: same as one process
    ref = lambda d: [load_file(p) for p in sorted(d.glob("*/shard-*.safetensors"))]  # noqa: E731
    (r1,), (r2,) = ref(base / "ref"), ref(tmp_path / "ref")
    assert torch.allclose(r1["chosen_logps"], r2["chosen_logps"], atol=1e-6)
    assert torch.allclose(r1["rejected_logps"], r2["rejected_logps"], atol=1e-6)
    assert rec["reference_cache"]["computed"] == 1
    # resume the sharded run from its step-16 checkpoint (weights, optimizer, scheduler)
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    (resumed / "model.safetensors").unlink()
    rec2 = _launch(
        *launcher, resumed, tiny_model, tmp_path / "ref", "--resume-from", "latest", env=env
    )
    assert rec2["resumed_from"] == str(resumed / "checkpoints" / "step-16")
    assert rec2["reference_cache"]["reused"] == 1
    c = load_file(resumed / "model.safetensors")
    assert max((b[k] - c[k]).abs().max().item() for k in b) < 1e-6
    assert [r["loss"] for r in _log(resumed)] == pytest.approx(
        [r["loss"] for r in _log(run)], abs=1e-7
    )
    # and halbench run loads and scores the checkpoint
    assert (
        main(
            ["-q", "run", "--model", str(run), "--benchmarks", "demo", "--out", str(tmp_path / "r")]
        )
        == 0
    )
    res = json.loads((tmp_path / "r" / "demo" / "result.json").read_text())
    assert res["n_items"] == 6 and res["n_scored"] == 6


@pytest.mark.gpu
def test_bf16_training_on_gpu_starts_at_ln2(tiny_model, tmp_path):
    torch = pytest.importorskip("torch")
    if not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
        pytest.skip("needs a CUDA GPU with bf16")
    out = _train(
        tmp_path / "gpu",
        tiny_model,
        tmp_path / "ref",
        "--set",
        "mixed_precision=auto",
        "--set",
        "max_steps=4",
        "--set",
        "save_steps=0",
    )
    rows = _log(out)
    rec = json.loads((out / "train_record.json").read_text())
    assert rec["resolved"]["mixed_precision"] == "bf16"
    assert rows[0]["loss"] == pytest.approx(
        math.log(2), abs=1e-2
    )  # cached reference in bf16 autocast
    assert all(math.isfinite(r["loss"]) for r in rows)
