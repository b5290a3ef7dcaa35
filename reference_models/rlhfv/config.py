"""The DDPO training config: a documented dataclass, loaded from YAML with strict checks.

Every field has a type, a default and a meaning (``help``); ``docs/ddpo.md`` renders the
same table (``config_reference()``). Unknown fields, wrong types and bad values raise
``InputError`` naming the file and field (with a "did you mean").
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from halbench.errors import HalbenchError, InputError


def _f(default: Any, help: str) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    # model
    model: str = _f(
        "", "base (SFT) checkpoint: a local directory or a hub id; it is also the reference model"
    )
    build_tiny_if_missing: bool = _f(
        False,
        "if `model` is a path that does not exist, build halbench's tiny offline LLaVA there first (for configs/tiny.yaml)",
    )
    dtype: Literal["float32", "bfloat16", "float16"] = _f(
        "float32",
        "dtype of the trained (master) weights; keep float32 and use mixed_precision for bf16 compute: in bfloat16 weights, updates at lr 5e-7 are mostly rounded away",
    )
    attn_implementation: str | None = _f(
        None, "eager, sdpa or flash_attention_2; None = transformers' default"
    )
    trust_remote_code: bool = _f(
        False, "allow custom model code from the checkpoint (off unless you ask)"
    )
    gradient_checkpointing: bool = _f(False, "trade compute for activation memory")
    freeze: list[Literal["vision_tower", "projector"]] = _f(
        [],
        "parts that do not train (RLAIF-V's recipe: [vision_tower, projector]): no gradient, no optimizer state",
    )
    model_is_muffin: bool = _f(
        False,
        "declare `model` a Muffin checkpoint: only then are the log-probs stored in the paper's TSV used as the reference (they are Muffin's); otherwise they are recomputed (train_record.json says which)",
    )
    image_preprocess: Literal["processor", "pad-square"] = _f(
        "processor",
        "pad-square: pad to a square with the processor's mean colour (LLaVA-1.5's expand2square; the paper uses no cropping); processor: the processor alone (CLIP centre-crops non-square images). Evaluate with the same `halbench run --image-preprocess`",
    )
    # data
    data: str = _f(
        "",
        "preference data: interchange JSONL, RLHF-V-Dataset parquet (file or directory) or a `datasets` directory; relative paths are relative to the config file",
    )
    data_format: Literal["auto", "jsonl", "parquet", "hf", "tsv"] = _f(
        "auto",
        "format of `data`; auto detects from the suffix / directory contents (tsv: the paper's 1,401-pair RLHF-V TSV, base64 [question, chosen, rejected, logps] rows)",
    )
    data_filter: dict[str, Any] | None = _f(
        None,
        "select pairs: {origin_split: [names], max_pairs: N}: keep pairs whose origin_split (the model that wrote the answer) is listed, then the first N in file order",
    )
    bad_records: Literal["fail", "skip"] = _f(
        "fail",
        "what to do with records with a missing or unreadable image, an empty response or identical chosen/rejected: fail the run listing them, or skip them (listed in the log and train_record.json)",
    )
    max_length: int | None = _f(
        None,
        "cap on prompt+completion tokens; completions are cut, prompts (image tokens) never: a longer prompt is an error",
    )
    append_eos: bool = _f(
        True,
        "append the tokenizer's EOS to a completion the chat template does not end with it (as TRL)",
    )
    prompt_special_tokens: bool = _f(
        True,
        "tokenize the prompt with the tokenizer's special tokens (BOS), as `halbench run` does at inference; false = as TRL",
    )
    # objective
    loss: Literal["ddpo-paper", "ddpo-sum", "dpo"] = _f(
        "ddpo-paper",
        "ddpo-paper: weighted mean (paper Eq. 5); ddpo-sum: weighted sum (released script); dpo: standard DPO (gamma 1)",
    )
    beta: float | None = _f(
        None, "DPO beta; None = the variant's (ddpo-paper 0.5, ddpo-sum 0.1, dpo 0.1)"
    )
    gamma: float | None = _f(
        None,
        "weight of corrected tokens; None = the variant's (ddpo-paper 5, ddpo-sum 1.1, dpo 1; dpo accepts only 1)",
    )
    min_match: int = _f(
        3, "diff: matching runs shorter than this many tokens are dropped (released code: 3)"
    )
    autojunk: bool = _f(True, "diff: difflib's autojunk heuristic (released code: on)")
    edit_policy: Literal["substitutions", "all_edits"] = _f(
        "substitutions",
        "diff: weight only gaps non-empty on both sides (released code) or every edit, insertions and deletions too",
    )
    diff_scope: Literal["completion", "full"] = _f(
        "completion",
        "diff: the completion token ids (spec's recommendation) or, for parity with the released code, the whole prompt+completion sequence minus its first token (differs when the responses share fewer than min_match tokens at the start, and through autojunk on 200+ tokens)",
    )
    sft_weight: float = _f(
        0.0, "weight of the optional SFT term (minus the chosen score), off in the released code"
    )
    # optimisation
    learning_rate: float = _f(5e-7, "peak learning rate (AdamW)")
    weight_decay: float = _f(0.0, "AdamW weight decay")
    adam_beta1: float = _f(0.9, "AdamW beta1")
    adam_beta2: float = _f(0.999, "AdamW beta2")
    adam_epsilon: float = _f(1e-8, "AdamW epsilon")
    max_grad_norm: float | None = _f(1.0, "gradient clipping norm; None = no clipping")
    epochs: int = _f(1, "passes over the data (ignored when max_steps is set)")
    max_steps: int | None = _f(None, "optimizer steps in total; None = epochs x steps per epoch")
    global_batch_size: int = _f(
        32,
        "pairs per optimizer step over all processes (per_device_batch_size x processes x accumulation)",
    )
    per_device_batch_size: int = _f(
        1, "pairs per forward on one process (each is 2 rows: chosen and rejected)"
    )
    lr_scheduler: Literal["cosine", "linear", "constant"] = _f("cosine", "decay after warm-up")
    warmup_ratio: float = _f(0.1, "fraction of the steps with linear warm-up from 0")
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = _f(
        "auto", "accelerate mixed precision; auto = bf16 where supported (CUDA with bf16), else no"
    )
    seed: int = _f(0, "seed for the data order and initialisation of new parameters (LoRA)")
    # LoRA
    lora: bool = _f(
        False,
        "train LoRA adapters (peft) instead of all parameters; merged into the saved checkpoint",
    )
    lora_r: int = _f(64, "LoRA rank")
    lora_alpha: int = _f(16, "LoRA alpha")
    lora_dropout: float = _f(0.05, "LoRA dropout")
    lora_target_modules: str = _f(
        r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
        "peft target_modules regex (default: the language model's linear layers; not the vision tower, projector or lm_head)",
    )
    # reference log-probs
    ref_cache_dir: str | None = _f(
        None, "where reference log-probs are cached; None = <halbench home>/cache/ddpo-ref"
    )
    ref_batch_size: int = _f(8, "pairs per forward when computing reference log-probs")
    # output, logging, checkpoints
    output_dir: str = _f(
        "runs/ddpo",
        "the trained checkpoint (loads with `halbench run --model`), logs, train_record.json",
    )
    logging_steps: int = _f(1, "write a log line every N steps")
    save_steps: int = _f(0, "save a resumable checkpoint every N steps (0 = only at the end)")
    save_total_limit: int | None = _f(2, "keep at most this many resumable checkpoints")
    resume_from: str | None = _f(
        None,
        "a checkpoint directory, or `latest` for the newest complete one under output_dir/checkpoints (incomplete ones are skipped with a note; a fresh start when there is none)",
    )
    overwrite_output_dir: bool = _f(
        False,
        "allow a fresh run into an output_dir that already holds a run (otherwise an error, so nothing is lost)",
    )
    tensorboard: bool = _f(True, "also log to TensorBoard when it is installed")

    def resolved(self) -> tuple[float, float]:
        from reference_models.rlhfv.loss import get_variant

        v = get_variant(self.loss)
        beta = v.beta if self.beta is None else self.beta
        gamma = v.gamma if self.gamma is None else self.gamma
        return beta, gamma

    def validate(self, where: str = "config") -> None:
        def bad(name: str, msg: str) -> None:
            raise InputError(where, f"{name}: {msg}", field=name)

        if not self.model:
            bad("model", "required")
        if not self.data:
            bad("data", "required")
        beta, gamma = self.resolved()
        if beta <= 0:
            bad("beta", "must be > 0")
        if self.loss == "dpo" and gamma != 1.0:
            bad(
                "gamma",
                "loss dpo has no token weights: gamma must be 1 (use ddpo-sum with gamma 1 for the same loss)",
            )
        if gamma <= 0:
            bad("gamma", "must be > 0")
        for name in (
            "global_batch_size",
            "per_device_batch_size",
            "epochs",
            "ref_batch_size",
            "logging_steps",
            "min_match",
        ):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        if self.global_batch_size % self.per_device_batch_size:
            bad("global_batch_size", "must be a multiple of per_device_batch_size")
        if not 0 <= self.warmup_ratio < 1:
            bad("warmup_ratio", "must be in [0, 1)")
        if self.learning_rate <= 0:
            bad("learning_rate", "must be > 0")
        if self.max_steps is not None and self.max_steps < 1:
            bad("max_steps", "must be >= 1")
        if self.save_steps < 0:
            bad("save_steps", "must be >= 0")
        if len(set(self.freeze)) != len(self.freeze):
            bad("freeze", "lists a part twice")
        if self.lora and self.freeze:
            bad("freeze", "LoRA already trains only its adapters: leave freeze empty with lora")
        if self.data_filter is not None:
            for key, value in self.data_filter.items():
                if key == "origin_split":
                    if not (
                        isinstance(value, list) and value and all(isinstance(v, str) for v in value)
                    ):
                        bad("data_filter", "origin_split must be a non-empty list of names")
                elif key == "max_pairs":
                    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                        bad("data_filter", "max_pairs must be an integer >= 1")
                else:
                    close = difflib.get_close_matches(str(key), ["origin_split", "max_pairs"], n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    bad("data_filter", f"unknown key {key!r}{hint}")


def _check_type(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return value in typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_check_type(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is list:
        (arg,) = typing.get_args(tp)
        return isinstance(value, list) and all(_check_type(v, arg) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    if tp is Any:
        return True
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of ({_type_name(typing.get_args(tp)[0])})"
    if origin is dict:
        return "mapping"
    return "null" if tp is type(None) else tp.__name__


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def from_dict(values: dict[str, Any], where: str = "config") -> TrainConfig:
    hints = _hints()
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(where, f"unknown field {key!r}{hint}", field=str(key))
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and _check_type(float(value), hints[key])
            and not _check_type(value, hints[key])
        ):
            value = float(value)
        if not _check_type(value, hints[key]):
            raise InputError(
                where, f"{key}: expected {_type_name(hints[key])}, got {value!r}", field=key
            )
        kwargs[key] = value
    cfg = TrainConfig(**kwargs)
    cfg.validate(where)
    return cfg


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value read as YAML (``lr=1e-5``, ``lora=true``, ``beta=null``)."""
    import yaml

    if "=" not in text:
        raise HalbenchError(f"--set expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config and apply ``overrides``. A relative ``data`` path is resolved against
    the config file's folder (so shipped configs find their data); ``model`` and
    ``output_dir`` are used as given (relative to the working directory)."""
    try:
        import yaml
    except ImportError:
        raise HalbenchError(
            "DDPO training needs the train extra: pip install 'halbench[train]'"
        ) from None
    p = Path(path)
    try:
        values = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise InputError(str(p), "config file not found") from None
    except yaml.YAMLError as exc:
        raise InputError(str(p), f"invalid YAML: {exc}") from None
    if not isinstance(values, dict):
        raise InputError(str(p), "the config must be a mapping of field: value")
    base = p.resolve().parent
    if isinstance(values.get("data"), str) and not Path(values["data"]).is_absolute():
        values["data"] = str((base / values["data"]).resolve())
    values = {**values, **(overrides or {})}  # overrides: relative to the working directory
    return from_dict(values, str(p))


def config_reference() -> str:
    """The Markdown table of every field (type, default, meaning) for docs/ddpo.md."""
    hints = _hints()
    lines = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for f in dataclasses.fields(TrainConfig):
        t = _type_name(hints[f.name]).replace("|", "\\|")
        value = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
        default = repr(value).replace("|", "\\|")
        lines.append(f"| `{f.name}` | {t} | `{default}` | {f.metadata['help']} |")
    return "\n".join(lines)
