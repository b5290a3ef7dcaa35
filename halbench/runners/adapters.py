"""How prompts are built and answers decoded for a Hugging Face processor.

The default adapter uses the processor's own chat template, so any checkpoint that
``AutoProcessor`` + ``AutoModelForImageTextToText`` load works without model code.
A model family that needs something else registers an adapter for its
``config.model_type`` with ``register_adapter`` (no if-chains in the runner).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from halbench.errors import HalbenchError


class ChatTemplateAdapter:
    """One user turn: the image (if any), then the question; generation prompt appended."""

    name = "chat-template"

    def prompt(self, processor: Any, question: str, has_image: bool) -> str:
        content: list[dict[str, Any]] = [{"type": "image"}] if has_image else []
        content.append({"type": "text", "text": question})
        messages = [{"role": "user", "content": content}]
        if getattr(processor, "chat_template", None) is None:
            raise HalbenchError(
                "this processor has no chat template: register an adapter for its model type "
                "(halbench.runners.adapters.register_adapter)"
            )
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def inputs(self, processor: Any, questions: Sequence[str], images: Sequence[Any]) -> Any:
        has = [img is not None for img in images]
        if any(has) and not all(has):
            raise HalbenchError("a batch mixes items with and without images; use --batch-size 1")
        texts = [self.prompt(processor, q, h) for q, h in zip(questions, has, strict=True)]
        kwargs: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
        if all(has) and images:
            kwargs["images"] = list(images)
        return processor(**kwargs)

    def decode(self, processor: Any, output_ids: Any, prompt_length: int) -> list[str]:
        new = output_ids[:, prompt_length:]
        return [t.strip() for t in processor.batch_decode(new, skip_special_tokens=True)]


_DEFAULT = ChatTemplateAdapter()
_BY_MODEL_TYPE: dict[str, Any] = {}


def register_adapter(model_type: str, adapter: Any) -> None:
    """Use ``adapter`` (with ``inputs`` and ``decode`` like ``ChatTemplateAdapter``) for ``model_type``."""
    _BY_MODEL_TYPE[model_type] = adapter


def adapter_for(model_type: str | None) -> Any:
    return _BY_MODEL_TYPE.get(model_type or "", _DEFAULT)
