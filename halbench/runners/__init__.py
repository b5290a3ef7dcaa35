"""Model backends behind one interface (``base.Runner``), chosen by ``make_runner``.

``--backend auto`` picks ``openai`` for ``openai:MODEL``, ``replay`` for ``replay:FILE``
and ``hf`` otherwise (a local checkpoint directory or a hub id). Backends are imported
only when chosen, so heavy optional dependencies (torch, vLLM) stay out of the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from halbench.errors import HalbenchError
from halbench.runners.base import GenerationSettings, ModelInfo, Request, Runner

BACKENDS = ("auto", "hf", "vllm", "openai", "replay", "muffin")

__all__ = [
    "BACKENDS",
    "BackendOptions",
    "GenerationSettings",
    "ModelInfo",
    "Request",
    "Runner",
    "make_runner",
    "resolve_backend",
]


@dataclass
class BackendOptions:
    """Backend-specific settings from the command line (each backend reads its own)."""

    device: str | None = None
    dtype: str | None = None
    trust_remote_code: bool = False
    revision: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    max_retries: int = 5
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    max_model_len: int | None = None
    seed: int = 0
    device_map: str | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    image_preprocess: str = "processor"  # hf: processor | pad-square (LLaVA-1.5's expand2square)


def resolve_backend(model: str, backend: str) -> tuple[str, str]:
    """(backend, model reference without its scheme)."""
    if backend not in BACKENDS:
        raise HalbenchError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    scheme, sep, rest = model.partition(":")
    if sep and scheme in ("openai", "replay"):
        if backend not in ("auto", scheme):
            raise HalbenchError(f"--model {model} is a {scheme} model but --backend is {backend}")
        return scheme, rest
    if backend in ("openai", "replay"):
        return backend, model
    return ("hf" if backend == "auto" else backend), model


def make_runner(model: str, backend: str, options: BackendOptions, *, load: bool = True) -> Any:
    """The runner; with ``load=False`` the hf and vllm runners check and identify the model
    (``info``) without loading weights: call ``runner.load()`` before generating."""
    kind, ref = resolve_backend(model, backend)
    if kind != "hf" and (options.device_map or options.model_args):
        raise HalbenchError(
            f"--device-map and --model-args apply to the hf backend, not {kind} "
            "(vllm: --tensor-parallel-size, --data-parallel-size)"
        )
    if kind != "vllm" and options.data_parallel_size != 1:
        raise HalbenchError(
            f"--data-parallel-size is vLLM's engine argument; the {kind} backend has none"
        )
    if options.image_preprocess != "processor" and kind != "hf":
        raise HalbenchError(f"--image-preprocess {options.image_preprocess} needs the hf backend")
    if kind == "replay":
        from halbench.runners.replay import ReplayRunner

        return ReplayRunner(ref)
    if kind == "openai":
        from halbench.runners.openai_api import OpenAIRunner

        return OpenAIRunner(
            ref,
            base_url=options.base_url,
            api_key_env=options.api_key_env,
            concurrency=options.concurrency,
            max_retries=options.max_retries,
        )
    if kind == "vllm":
        from halbench.runners.vllm import VLLMRunner

        return VLLMRunner(
            ref,
            tensor_parallel_size=options.tensor_parallel_size,
            data_parallel_size=options.data_parallel_size,
            trust_remote_code=options.trust_remote_code,
            dtype=options.dtype,
            max_model_len=options.max_model_len,
            seed=options.seed,
            load=load,
        )
    if kind == "muffin":
        from halbench.runners.muffin import MuffinRunner

        return MuffinRunner(ref, device=options.device, seed=options.seed)
    from halbench.runners.hf import HFRunner

    return HFRunner(
        ref,
        device=options.device,
        dtype=options.dtype,
        trust_remote_code=options.trust_remote_code,
        revision=options.revision,
        device_map=options.device_map,
        model_args=options.model_args,
        load=load,
        image_preprocess=options.image_preprocess,
    )
