"""vLLM backend (GPU only, optional extra ``[vllm]``): offline batched generation.

Prompts are built with the checkpoint's Hugging Face processor chat template (the same
text the ``hf`` backend feeds the model); images go in as ``multi_modal_data``.
``--tensor-parallel-size`` splits the model over GPUs; ``--data-parallel-size`` runs
that many engine replicas (vLLM's own data parallelism, an engine argument). Importing halbench never imports
vLLM; only constructing this runner does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from halbench.errors import HalbenchError
from halbench.runners.adapters import adapter_for
from halbench.runners.base import GenerationSettings, ModelInfo, Request
from halbench.runners.hf import check_model_reference, load_image, local_fingerprint


class VLLMRunner:
    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        trust_remote_code: bool = False,
        dtype: str | None = None,
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        seed: int = 0,
        load: bool = True,
    ) -> None:
        try:
            import vllm
        except ImportError:
            raise HalbenchError(
                "the 'vllm' backend needs vLLM (GPU only): pip install 'halbench[vllm]'"
            ) from None
        from transformers import AutoConfig, AutoProcessor

        local = check_model_reference(model)
        source = str(local) if local else model
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
        self.processor = AutoProcessor.from_pretrained(source, trust_remote_code=trust_remote_code)
        self.adapter = adapter_for(config.model_type)
        kwargs: dict[str, Any] = {
            "model": source,
            "tensor_parallel_size": tensor_parallel_size,
            "trust_remote_code": trust_remote_code,
            "seed": seed,
            "gpu_memory_utilization": gpu_memory_utilization,
            "limit_mm_per_prompt": {"image": 1},
        }
        if dtype:
            kwargs["dtype"] = dtype
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if data_parallel_size < 1 or tensor_parallel_size < 1:
            raise HalbenchError("--tensor-parallel-size and --data-parallel-size must be >= 1")
        if data_parallel_size > 1:  # vLLM's own data parallelism (an engine argument)
            kwargs["data_parallel_size"] = data_parallel_size
        self._engine_args = kwargs
        self.llm: Any = None
        self._vllm = vllm
        if local:
            fingerprint, weights = local_fingerprint(local)
            details: dict[str, Any] = {"weights_sha256": weights}
        else:
            commit = getattr(config, "_commit_hash", None) or "unknown"
            fingerprint, details = f"hub:{model}@{commit}", {"hub_revision": commit}
        details.update(
            model_type=config.model_type,
            vllm=vllm.__version__,
            tensor_parallel_size=tensor_parallel_size,
            data_parallel_size=data_parallel_size,
        )
        self.info = ModelInfo(backend="vllm", model=model, fingerprint=fingerprint, details=details)
        self.failures: dict[str, str] = {}
        if load:
            self.load()

    def load(self) -> None:
        """Start the engine (``halbench run`` does only when some answer is not stored)."""
        if self.llm is None:
            self.llm = self._vllm.LLM(**self._engine_args)

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings, *, batch_size: int
    ) -> Iterator[tuple[str, str]]:
        if settings.num_beams != 1:
            raise HalbenchError("the vllm backend does not do beam search here; use --backend hf")
        params = self._vllm.SamplingParams(
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_tokens=settings.max_new_tokens,
            repetition_penalty=settings.repetition_penalty,
            seed=settings.seed,
        )
        # vLLM batches continuously on its own; chunks only bound memory for images and let
        # answers reach the store as they are produced.
        chunk = max(batch_size, 64)
        for start in range(0, len(requests), chunk):
            part = requests[start : start + chunk]
            prompts = []
            for r in part:
                entry: dict[str, Any] = {
                    "prompt": self.adapter.prompt(self.processor, r.question, r.image is not None)
                }
                if r.image is not None:
                    entry["multi_modal_data"] = {"image": load_image(r.image)}
                prompts.append(entry)
            outputs = self.llm.generate(prompts, params, use_tqdm=False)
            for r, out in zip(part, outputs, strict=True):
                yield r.key, out.outputs[0].text.strip()

    def close(self) -> None:
        self.llm = None
