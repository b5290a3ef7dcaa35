"""What a DDPO run leaves behind besides its weights: ``train_record.json``, the loss-curve
summary; and the distributed helpers the trainer's set-up and save use."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError
from reference_models.rlhfv import checkpoint
from reference_models.rlhfv.config import TrainConfig


@contextlib.contextmanager
def whole_model_load(accelerator: Any) -> Iterator[None]:
    """Load the model whole, also under ZeRO-3: the reference log-probs are computed by the full
    model before ``prepare`` partitions it. accelerate registers its DeepSpeed config with
    transformers whenever a ZeRO-3 plugin is selected (whatever ``zero3_init_flag`` says), and
    transformers then loads under ``deepspeed.zero.Init`` (partitioned: the reference forward
    fails on empty weights); the registration is lifted for the load and restored after."""
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is None or not plugin.hf_ds_config.is_zero3():
        yield
        return
    if plugin.zero3_init_flag:
        raise HalbenchError(
            "zero3_init_flag: true is not supported: the reference log-probs are computed by the whole model before DeepSpeed partitions it (set zero3_init_flag: false)"
        )
    from transformers.integrations import unset_hf_deepspeed_config

    unset_hf_deepspeed_config()
    try:
        yield
    finally:
        plugin.set_deepspeed_weakref()


def distributed_name(accelerator: Any) -> str:
    name = str(accelerator.distributed_type).rsplit(".", 1)[-1]  # NO, MULTI_CPU, FSDP, ...
    if name == "FSDP":
        name += str(accelerator.state.fsdp_plugin.fsdp_version)
    return name


def curve_summary(out: Path) -> dict[str, Any]:
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "loss" in r]
    if not rows:
        return {}
    k = max(1, len(rows) // 10)
    mean = lambda rs, key: sum(r[key] for r in rs) / len(rs)  # noqa: E731
    return {
        "logged_steps": len(rows),
        "first_loss": rows[0]["loss"],
        "last_loss": rows[-1]["loss"],
        "min_loss": min(r["loss"] for r in rows),
        "mean_loss_first_10pct": mean(rows[:k], "loss"),
        "mean_loss_last_10pct": mean(rows[-k:], "loss"),
        "reward_accuracy_first_10pct": mean(rows[:k], "rewards/accuracies"),
        "reward_accuracy_last_10pct": mean(rows[-k:], "rewards/accuracies"),
        "last_margin": rows[-1]["rewards/margins"],
    }


def write_record(
    cfg: TrainConfig,
    out: Path,
    data: Any,
    fingerprint: str,
    beta: float,
    gamma: float,
    ref_dir: Path,
    ref_stats: dict[str, Any],
    resume: Path | None,
    command: list[str] | None,
    seconds: float,
    extra: dict[str, Any],
    recipe: dict[str, Any] | None = None,
) -> None:
    from halbench.provenance import git_revision, halbench_version, now_utc, package_versions

    rev, dirty = git_revision()
    record = {
        "kind": "halbench-ddpo-train-record/1",
        "created_at": now_utc(),
        "config": dataclasses.asdict(cfg),
        "resolved": {"loss": cfg.loss, "beta": beta, "gamma": gamma, **extra},
        "recipe": recipe or {},
        "data": {
            "source": data.source,
            "checksum": data.checksum,
            "n_pairs": len(data.records),
            "skipped_bad_records": [dataclasses.asdict(b) for b in data.bad],
        },
        "base_model": {"model": cfg.model, "fingerprint": fingerprint},
        "reference_cache": {"dir": str(ref_dir), **ref_stats},
        "resumed_from": str(resume) if resume else None,
        "loss_curve": curve_summary(out),
        "versions": {
            "halbench": halbench_version(),
            "git_revision": rev,
            "git_dirty": dirty,
            **package_versions(
                ("torch", "transformers", "accelerate", "peft", "safetensors", "trl", "datasets")
            ),
        },
        "command": command,
        "duration_s": round(seconds, 3),
    }
    checkpoint.write_text_atomic(
        out / "train_record.json", json.dumps(record, ensure_ascii=False, indent=1) + "\n"
    )
