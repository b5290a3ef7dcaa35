"""Presets of ``halbench reproduce rlhfv`` and what ``--dry-run`` prints: the plan, the batch
geometry and a per-GPU memory estimate. Nothing here loads a model or touches the network: the
sizes come from the preset's ``model_config`` table.

Memory estimate (bytes per GPU; P parameters, T trainable, N processes; docs/ddpo.md
"Reproducing RLHF-V"):

- weights: P x bytes(dtype), divided by N under ZeRO-3 / FSDP (parameters sharded); under
  DeepSpeed with bf16 the model is held in bf16 (2 bytes) and the fp32 master copy of the
  trainable weights (4 T) counts with the optimizer;
- gradients: T x bytes(dtype) (2 under DeepSpeed bf16), divided by N under ZeRO-2/3 and FSDP;
- Adam states: 2 x T x 4 (two fp32 moments), divided by N under any ZeRO stage and FSDP;
- reference model: 0 (halbench caches the reference log-probs per token before training, computed
  with the same weights: no second copy is held while training);
- activations, a rough upper bound per micro batch of R = 2 x per-device pairs rows (chosen and
  rejected) and S = image + text tokens: 34 x S x R x h bytes per decoder layer at 2-byte compute
  (Korthikanti et al. 2022, attention scores not stored: sdpa/flash), or, with gradient
  checkpointing, 2 x S x R x h per layer plus one layer's 34 x S x R x h; the vision tower the same
  with its own width and token count; plus the logits of the text positions in fp32 with their
  gradient, 2 x R x text x V x 4.
Not counted: CUDA context and allocator fragmentation (add 1-3 GiB), communication buffers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError, InputError

PRESETS_DIR = Path(__file__).parent / "configs" / "presets"
GIB = 1024**3
MODEL_CONFIG_KEYS = (
    "params_total",
    "params_vision",
    "params_projector",
    "hidden_size",
    "intermediate_size",
    "num_layers",
    "num_heads",
    "num_kv_heads",
    "vocab_size",
    "image_tokens",
    "text_tokens",
    "vision_hidden_size",
    "vision_layers",
)
PRESET_KEYS = {
    "description",
    "reproduces",
    "base_model",
    "data",
    "benchmarks",
    "eval",
    "trained_name",
    "train",
    "model_config",
    "backend",
    "released_model",
}


@dataclass
class Preset:
    name: str
    path: Path
    description: str
    base_model: dict[str, Any]
    data: dict[str, Any] | None
    benchmarks: list[str]
    eval: dict[str, Any]
    trained_name: str | None
    train: dict[str, Any] | None
    model_config: dict[str, int]
    reproduces: dict[str, Any] = field(default_factory=dict)
    backend: str = "auto"
    released_model: dict[str, Any] | None = None


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name: str) -> Preset:
    """A shipped preset by name, or a preset YAML file by path; errors name the file and field."""
    import yaml

    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = PRESETS_DIR / f"{name}.yaml"
    if not path.exists():
        import difflib

        close = difflib.get_close_matches(name, preset_names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise HalbenchError(
            f"unknown preset {name!r}{hint}; shipped presets: {', '.join(preset_names())}"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(str(path), f"invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InputError(str(path), "a preset is a mapping of field: value")
    unknown = sorted(set(raw) - PRESET_KEYS)
    if unknown:
        raise InputError(str(path), f"unknown field {unknown[0]!r}", field=unknown[0])
    for key in ("description", "base_model", "benchmarks", "model_config"):
        if key not in raw:
            raise InputError(str(path), f"{key}: required", field=key)
    mc = raw["model_config"]
    missing = [k for k in MODEL_CONFIG_KEYS if not isinstance(mc.get(k), int)]
    if missing:
        raise InputError(
            str(path), f"model_config.{missing[0]}: an integer is required", field=missing[0]
        )
    if raw.get("train") is not None and not raw.get("data"):
        raise InputError(str(path), "data: required when the preset trains", field="data")
    return Preset(
        name=path.stem,
        path=path,
        description=str(raw["description"]),
        base_model=dict(raw["base_model"]),
        data=raw.get("data"),
        benchmarks=[str(b) for b in raw["benchmarks"]],
        eval=dict(raw.get("eval") or {}),
        trained_name=raw.get("trained_name"),
        train=raw.get("train"),
        model_config={k: int(mc[k]) for k in MODEL_CONFIG_KEYS},
        reproduces=dict(raw.get("reproduces") or {}),
        backend=str(raw.get("backend", "auto")),
        released_model=raw.get("released_model"),
    )


@dataclass
class Launch:
    """How training is launched: from ``--accelerate-config`` (one process without it)."""

    world: int = 1
    distributed: str = "NO"  # NO, MULTI_GPU, FSDP, DEEPSPEED
    zero_stage: int = 0
    config: str | None = None

    @property
    def sharding(self) -> str:
        if self.distributed == "DEEPSPEED":
            return f"ZeRO-{self.zero_stage}"
        if self.distributed == "FSDP":
            return "FSDP full shard"
        return "none (each process holds everything)"


def read_launch(path: str | Path | None) -> Launch:
    if path is None:
        return Launch()
    import yaml

    p = Path(path)
    try:
        cfg = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise InputError(str(p), "accelerate config not found") from None
    except yaml.YAMLError as exc:
        raise InputError(str(p), f"invalid YAML: {exc}") from None
    if not isinstance(cfg, dict):
        raise InputError(str(p), "not an accelerate config (a mapping)")
    world = int(cfg.get("num_processes", 1)) * int(cfg.get("num_machines", 1) or 1)
    kind = str(cfg.get("distributed_type", "NO")).upper()
    stage = (
        int((cfg.get("deepspeed_config") or {}).get("zero_stage", 0)) if kind == "DEEPSPEED" else 0
    )
    return Launch(world=max(world, 1), distributed=kind, zero_stage=stage, config=str(p))


@dataclass
class Geometry:
    world: int
    per_device_batch: int
    accumulation: int
    global_batch: int
    pairs: int
    pairs_known: bool  # False: the preset's expected count (data not prepared yet)
    steps_per_epoch: int
    steps: int
    warmup_steps: int
    epochs: float


def geometry(train: dict[str, Any], launch: Launch, pairs: int, pairs_known: bool) -> Geometry:
    """The trainer's own arithmetic (trainer.py): drop the incomplete last batch of each epoch,
    total = max_steps or epochs x steps per epoch, warm-up = ceil(ratio x total)."""
    gb = int(train.get("global_batch_size", 32))
    pd = int(train.get("per_device_batch_size", 1))
    if gb % (pd * launch.world):
        raise HalbenchError(
            f"global_batch_size {gb} is not a multiple of per_device_batch_size x processes ({pd} x {launch.world}): choose another --accelerate-config or preset"
        )
    per_epoch = pairs // gb
    if per_epoch == 0:
        raise HalbenchError(f"{pairs} pairs make no full batch of {gb}")
    total = int(train.get("max_steps") or per_epoch * int(train.get("epochs", 1)))
    warmup = int(math.ceil(float(train.get("warmup_ratio", 0.1)) * total))
    return Geometry(
        launch.world,
        pd,
        gb // (pd * launch.world),
        gb,
        pairs,
        pairs_known,
        per_epoch,
        total,
        warmup,
        total / per_epoch,
    )


def trainable_params(mc: dict[str, int], train: dict[str, Any]) -> int:
    """All parameters, or with LoRA r x (in + out) per adapted linear layer of the language model
    (q, k, v, o, gate, up, down: the default target_modules)."""
    if not train.get("lora"):
        return mc["params_total"]
    r, h, i = int(train.get("lora_r", 64)), mc["hidden_size"], mc["intermediate_size"]
    kv = h * mc["num_kv_heads"] // mc["num_heads"]
    per_layer = r * ((h + h) * 2 + (h + kv) * 2 + (h + i) * 3)
    return per_layer * mc["num_layers"]


def memory_estimate(mc: dict[str, int], train: dict[str, Any], launch: Launch) -> dict[str, float]:
    """Per-GPU bytes by term (the module docstring gives the formula)."""
    n = launch.world
    p, t = mc["params_total"], trainable_params(mc, train)
    wbytes = {"float32": 4, "bfloat16": 2, "float16": 2}[str(train.get("dtype", "float32"))]
    mixed = str(train.get("mixed_precision", "auto")) in ("bf16", "fp16", "auto")
    ds = launch.distributed == "DEEPSPEED"
    fsdp = launch.distributed == "FSDP"
    stage = launch.zero_stage
    shard_w = n if (fsdp or (ds and stage >= 3)) else 1
    shard_g = n if (fsdp or (ds and stage >= 2)) else 1
    shard_o = n if (fsdp or (ds and stage >= 1)) else 1
    model_bytes = 2 if (ds and mixed) else wbytes
    terms = {
        "weights": p * model_bytes / shard_w,
        "gradients": t * model_bytes / shard_g,
        "adam_states": (2 * t * 4 + (t * 4 if ds and mixed else 0)) / shard_o,
        "reference_model": 0.0,
    }
    rows = 2 * int(train.get("per_device_batch_size", 1))
    text = mc["text_tokens"]
    if train.get("max_length"):
        text = max(1, min(text, int(train["max_length"]) - mc["image_tokens"]))
    seq = mc["image_tokens"] + text
    cbytes = 2 if mixed else 4
    layer = 34 * seq * rows * mc["hidden_size"] * cbytes / 2
    vis_tokens = mc["image_tokens"] + 1
    vis_layer = 34 * vis_tokens * rows * mc["vision_hidden_size"] * cbytes / 2
    if train.get("gradient_checkpointing"):
        lm = 2 * seq * rows * mc["hidden_size"] * cbytes / 2 * mc["num_layers"] + layer
        vis = (
            2 * vis_tokens * rows * mc["vision_hidden_size"] * cbytes / 2 * mc["vision_layers"]
            + vis_layer
        )
    else:
        lm = layer * mc["num_layers"]
        vis = vis_layer * mc["vision_layers"]
    terms["activations"] = lm + vis + 2 * rows * text * mc["vocab_size"] * 4
    terms["total"] = sum(terms.values())
    return terms


def format_plan(
    preset: Preset,
    stages: list[tuple[str, str, str]],
    launch: Launch,
    geo: Geometry | None,
    memory: dict[str, float] | None,
) -> str:
    lines = [f"preset {preset.name}: {preset.description}", f"  ({preset.path})", "", "plan:"]
    for i, (name, status, what) in enumerate(stages, 1):
        lines.append(f"  {i}. {name:<13} [{status}] {what}")
    if geo is not None:
        src = "prepared data" if geo.pairs_known else "the preset's expected count"
        lines += [
            "",
            "batch geometry:",
            f"  world size {geo.world} ({launch.config or 'no --accelerate-config: one process'}; sharding {launch.sharding})",
            f"  per-device batch {geo.per_device_batch} pairs x gradient accumulation {geo.accumulation} x {geo.world} processes = global batch {geo.global_batch}",
            f"  {geo.pairs} pairs ({src}) -> {geo.steps_per_epoch} steps per epoch; {geo.steps} steps ({geo.epochs:.2f} epochs), {geo.warmup_steps} warm-up steps",
        ]
    if memory is not None:
        mb = {k: v / GIB for k, v in memory.items()}
        lines += [
            "",
            "memory per GPU (rough estimate, GiB; formula: docs/ddpo.md 'Reproducing RLHF-V'):",
            f"  weights {mb['weights']:.2f} + gradients {mb['gradients']:.2f} + Adam states {mb['adam_states']:.2f}"
            f" + reference model {mb['reference_model']:.2f} (cached log-probs) + activations {mb['activations']:.2f}"
            f" = {mb['total']:.2f} GiB (+ 1-3 GiB CUDA context and fragmentation)",
        ]
    lines += ["", "--dry-run: nothing was started."]
    return "\n".join(lines)
