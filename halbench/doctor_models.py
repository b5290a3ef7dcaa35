"""``halbench doctor``'s lines for running models: torch (CUDA build, GPUs, memory),
transformers, accelerate, vLLM, flask, matplotlib, spaCy and its models; each missing one
with the command that fixes it. Optional things are ``[--]``, never ``[!!]``."""

from __future__ import annotations

from importlib import metadata
from importlib.util import find_spec
from typing import Any

#: (distribution, what it is for, the fix when missing)
OPTIONAL = (
    ("transformers", "hf backend", "pip install 'halbench[hf]'"),
    ("accelerate", "--device-map, DDPO training", "pip install 'halbench[hf]'"),
    ("vllm", "vllm backend, GPU only", "pip install 'halbench[hf,vllm]'"),
    ("flask", "halbench annotate", "pip install 'halbench[annotate]'"),
    ("matplotlib", "leaderboard plots", "pip install 'halbench[leaderboard]'"),
    ("spacy", "--extractor llm tagger", "pip install 'halbench[spacy]'"),
)
SPACY_MODELS = ("en_core_web_trf", "en_core_web_sm")


def version_of(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def torch_lines(torch: Any | None = None) -> list[str]:
    """torch's version, CUDA build and visible GPUs (``torch`` is passed in by tests)."""
    if torch is None:
        if find_spec("torch") is None:
            return [
                "  [--] torch: missing (hf and vllm backends, training)",
                "       fix: pip install 'halbench[hf]'   (README: 'Install on a GPU machine')",
            ]
        import torch
    cuda = getattr(torch.version, "cuda", None)
    lines = [f"  [ok] torch {torch.__version__} ({f'CUDA {cuda} build' if cuda else 'CPU build'})"]
    if not cuda:
        lines.append("  [--] no CUDA in this torch build: --device cuda and vLLM need one")
        lines.append(
            "       fix (GPU machine): pip install --force-reinstall torch   (the default index "
            "has CUDA wheels)"
        )
        return lines
    if not torch.cuda.is_available():
        lines.append(
            "  [--] CUDA build, but no GPU visible: check nvidia-smi and CUDA_VISIBLE_DEVICES"
        )
        return lines
    for i in range(torch.cuda.device_count()):
        prop = torch.cuda.get_device_properties(i)
        gib = prop.total_memory / 2**30
        lines.append(f"  [ok] cuda:{i} {prop.name}, {gib:.1f} GiB")
    return lines


def model_lines() -> list[str]:
    """The section of ``halbench doctor`` about running models and optional packages."""
    lines = ["Models and optional packages", *torch_lines()]
    for dist, purpose, fix in OPTIONAL:
        v = version_of(dist)
        if v is None:
            lines.append(f"  [--] {dist}: missing ({purpose}); fix: {fix}")
        else:
            lines.append(f"  [ok] {dist} {v} ({purpose})")
    if version_of("spacy") is not None:
        for name in SPACY_MODELS:
            if find_spec(name) is None:
                lines.append(
                    f"  [--] spaCy model {name}: missing; fix: python -m spacy download {name}"
                )
            else:
                lines.append(f"  [ok] spaCy model {name}: {version_of(name) or 'installed'}")
    return lines
