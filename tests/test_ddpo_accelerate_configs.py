"""The shipped accelerate configs (reference_models/rlhfv/configs/accelerate/) against the
installed accelerate's own loader, launcher argument schema and plugins, and against the DDPO
configs' batch geometry and mixed precision."""

from __future__ import annotations

from pathlib import Path

import pytest

accelerate = pytest.importorskip("accelerate")

from accelerate.commands.config.config_args import load_config_from_file  # noqa: E402
from accelerate.commands.launch import _validate_launch_command, launch_command_parser  # noqa: E402

PKG = Path(__file__).resolve().parents[1] / "reference_models" / "rlhfv" / "configs"
NAMES = ("ddp", "fsdp", "zero2", "zero3")


def _launch_env(name: str) -> tuple[dict[str, str], object]:
    """What ``accelerate launch --config_file NAME.yaml --num_processes 2`` puts in the
    processes' environment (accelerate's own argument handling, no process started)."""
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(
        [
            "--config_file",
            str(PKG / "accelerate" / f"{name}.yaml"),
            "--num_processes",
            "2",
            "train.py",
        ]
    )
    args, defaults, mp_from_config = _validate_launch_command(args)
    if name.startswith("zero"):  # as launch_command() does before deepspeed_launcher()
        fields = list(defaults.deepspeed_config) + (["mixed_precision"] if mp_from_config else [])
        args.deepspeed_fields_from_accelerate_config = ",".join(fields)
        _, env = prepare_deepspeed_cmd_env(args)
    else:
        env = prepare_multi_gpu_env(args)
    return env, defaults


@pytest.mark.parametrize("name", NAMES)
def test_every_key_is_known_to_the_installed_accelerate(name):
    path = PKG / "accelerate" / f"{name}.yaml"
    cfg = load_config_from_file(str(path))  # unknown top-level keys raise here
    dests = {a.dest for a in launch_command_parser()._actions}
    # nested keys are copied onto the launcher's arguments without a check: unknown ones would
    # be silently ignored, so each must be one of `accelerate launch`'s options
    for key in cfg.fsdp_config:
        assert (key if key.startswith("fsdp") else "fsdp_" + key) in dests, (
            f"{name}: fsdp_config.{key}"
        )
    for key in cfg.deepspeed_config:
        assert key in dests, f"{name}: deepspeed_config.{key}"
    # the batch geometry (accumulation, micro batch) and clipping come from the DDPO config only
    assert "gradient_accumulation_steps" not in cfg.deepspeed_config
    assert "gradient_clipping" not in cfg.deepspeed_config
    assert "deepspeed_config_file" not in cfg.deepspeed_config


@pytest.mark.parametrize("name", NAMES)
def test_mixed_precision_matches_the_paper_config(name):
    """train() refuses an accelerate mixed precision that differs from the DDPO config's."""
    from reference_models.rlhfv.config import load_config

    paper = load_config(PKG / "rlhfv-paper.yaml")
    env, _ = _launch_env(name)
    assert env["ACCELERATE_MIXED_PRECISION"] == paper.mixed_precision == "bf16"
    # accumulation and clipping are the trainer's (from global_batch_size / max_grad_norm)
    assert not [k for k in env if "GRADIENT_ACCUMULATION" in k or "GRADIENT_CLIPPING" in k]


@pytest.mark.parametrize("name", NAMES)
def test_process_count_divides_the_paper_batch(name):
    from reference_models.rlhfv.config import load_config

    paper = load_config(PKG / "rlhfv-paper.yaml")
    n = load_config_from_file(str(PKG / "accelerate" / f"{name}.yaml")).num_processes
    assert paper.global_batch_size % (paper.per_device_batch_size * n) == 0  # 32 = 1 x 8 x 4


def test_fsdp_config_builds_accelerates_fsdp2_plugin(monkeypatch):
    from accelerate.utils import FullyShardedDataParallelPlugin

    env, _ = _launch_env("fsdp")
    assert env["ACCELERATE_USE_FSDP"] == "true"
    for k, v in env.items():
        if k.startswith(("FSDP_", "ACCELERATE_")):
            monkeypatch.setenv(k, v)
    plugin = FullyShardedDataParallelPlugin()  # reads and validates the FSDP_* variables
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True
    assert plugin.transformer_cls_names_to_wrap == ["LlamaDecoderLayer"]
    assert str(plugin.state_dict_type).endswith("FULL_STATE_DICT")  # one full file on rank 0
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer  # the class exists

    assert LlamaDecoderLayer.__name__ == "LlamaDecoderLayer"


@pytest.mark.parametrize(("name", "stage"), [("zero2", "2"), ("zero3", "3")])
def test_deepspeed_configs_reach_the_plugin_settings(name, stage):
    env, defaults = _launch_env(name)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
    assert env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == stage
    assert env["ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE"] == "none"
    if stage == "3":
        assert env["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true"
        assert env["ACCELERATE_DEEPSPEED_ZERO3_INIT"] == "false"
