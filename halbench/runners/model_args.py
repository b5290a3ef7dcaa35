"""``--model-args key=value,...``: checked options for ``from_pretrained`` (hf backend).

Only the keys below are accepted (an unknown key is an error with "did you mean"); each
value is parsed and validated here, so a typo fails before anything is loaded. The parsed
options are recorded in the model's details and, because they can change the answers
(quantization, attention kernels, dtype), in its fingerprint: the answer store never
reuses answers made with other options.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from halbench.errors import HalbenchError

_DTYPES = ("auto", "float32", "bfloat16", "float16")
_ATTN = ("eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")
_QUANT = ("nf4", "fp4")


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    return parse


def _text(text: str) -> str:
    if not text:
        raise ValueError("empty")
    return text


#: key -> (parser, help). ``torch_dtype`` is the older name of ``dtype``.
ALLOWED: dict[str, tuple[Callable[[str], Any], str]] = {
    "attn_implementation": (_choice(_ATTN), "attention kernels"),
    "dtype": (_choice(_DTYPES), "weights dtype (like --dtype)"),
    "torch_dtype": (_choice(_DTYPES), "older name of dtype"),
    "revision": (_text, "hub revision (like --revision)"),
    "low_cpu_mem_usage": (_bool, "load weights without a full copy in CPU memory"),
    "load_in_8bit": (_bool, "bitsandbytes 8-bit quantization"),
    "load_in_4bit": (_bool, "bitsandbytes 4-bit quantization"),
    "bnb_4bit_quant_type": (_choice(_QUANT), "4-bit quantization type"),
    "bnb_4bit_compute_dtype": (_choice(_DTYPES[1:]), "4-bit compute dtype"),
    "use_safetensors": (_bool, "load only .safetensors weights"),
    "variant": (_text, "weights variant (e.g. fp16)"),
}
_BNB = ("load_in_8bit", "load_in_4bit", "bnb_4bit_quant_type", "bnb_4bit_compute_dtype")


def parse_model_args(text: str | None) -> dict[str, Any]:
    """``"a=1,b=x"`` -> ``{"a": 1, "b": "x"}``, checked against ``ALLOWED``."""
    out: dict[str, Any] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            raise HalbenchError(f"--model-args: {part!r} is not key=value")
        if key not in ALLOWED:
            close = difflib.get_close_matches(key, list(ALLOWED), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise HalbenchError(
                f"--model-args: unknown key {key!r}{hint} (allowed: {', '.join(ALLOWED)})"
            )
        if key in out:
            raise HalbenchError(f"--model-args: {key} given twice")
        try:
            out[key] = ALLOWED[key][0](value)
        except ValueError as exc:
            raise HalbenchError(f"--model-args: {key}={value!r}: {exc}") from None
    if "torch_dtype" in out:
        if "dtype" in out:
            raise HalbenchError("--model-args: give dtype or torch_dtype, not both")
        out["dtype"] = out.pop("torch_dtype")
    if out.get("load_in_8bit") and out.get("load_in_4bit"):
        raise HalbenchError("--model-args: load_in_8bit and load_in_4bit exclude each other")
    if any(k.startswith("bnb_4bit") for k in out) and not out.get("load_in_4bit"):
        raise HalbenchError("--model-args: bnb_4bit_* options need load_in_4bit=true")
    return out


def from_pretrained_kwargs(args: dict[str, Any], torch: Any) -> dict[str, Any]:
    """The keyword arguments for ``from_pretrained`` (quantization as a config object)."""
    kw = {k: v for k, v in args.items() if k not in _BNB and k not in ("dtype", "revision")}
    if args.get("load_in_8bit") or args.get("load_in_4bit"):
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise HalbenchError(
                "--model-args load_in_8bit/load_in_4bit need bitsandbytes (CUDA): "
                "pip install bitsandbytes"
            ) from None
        q: dict[str, Any] = {k: v for k, v in args.items() if k in _BNB and v is not False}
        if "bnb_4bit_compute_dtype" in q:
            q["bnb_4bit_compute_dtype"] = getattr(torch, q["bnb_4bit_compute_dtype"])
        kw["quantization_config"] = BitsAndBytesConfig(**q)
    return kw
