"""OpenAI-compatible chat-completions backend (OpenAI, vLLM/SGLang servers, ...).

``--model openai:MODEL [--base-url URL]``. The API key is read from the environment
(``OPENAI_API_KEY`` by default, ``--api-key-env`` to name another variable) and is
never written anywhere: error texts go through ``halbench.redact.redact`` where they are made,
so an endpoint that echoes the key cannot put it into a record or a log. Images are sent inline as base64 data URLs. Requests run
concurrently; the ``openai`` client retries 429/5xx/timeouts with backoff. A request
that still fails is reported and its item left unanswered (unscored), never filled in.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError
from halbench.progress import track
from halbench.redact import add_secret, redact
from halbench.runners.base import GenerationSettings, ModelInfo, Request

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class GenerationFailed(Exception):
    """One request failed after the client's retries (the run reports the item unscored)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(redact(message))
        self.key = key


def image_data_url(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


class OpenAIRunner:
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 5,
    ) -> None:
        try:
            import openai
        except ImportError:
            raise HalbenchError(
                "the 'openai' backend needs the openai package: pip install 'halbench[openai]'"
            ) from None
        url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        key = os.environ.get(api_key_env)
        if not key:
            if url == DEFAULT_BASE_URL:
                raise HalbenchError(
                    f"${api_key_env} is not set: the OpenAI API needs a key (export {api_key_env}=...)"
                )
            key = "EMPTY"  # local servers usually accept anything
        add_secret(key)
        self._client = openai.OpenAI(
            base_url=url, api_key=key, timeout=timeout, max_retries=max_retries
        )
        self._model = model
        self._concurrency = max(1, concurrency)
        self.failures: dict[str, str] = {}
        self.info = ModelInfo(
            backend="openai",
            model=f"openai:{model}",
            fingerprint=f"openai:{url}:{model}",
            details={"base_url": url, "served_model": None, "concurrency": self._concurrency},
        )

    def _one(self, req: Request, settings: GenerationSettings) -> tuple[str, str]:
        import openai

        content: list[dict[str, Any]] = [{"type": "text", "text": req.question}]
        if req.image is not None:
            content.append({"type": "image_url", "image_url": {"url": image_data_url(req.image)}})
        try:
            resp = self._client.chat.completions.create(
                model=self._model,
                messages=[{"role": "user", "content": content}],
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_tokens=settings.max_new_tokens,
                seed=settings.seed,
            )
        except openai.OpenAIError as exc:
            raise GenerationFailed(
                req.key, redact(f"{type(exc).__name__}: {exc}".splitlines()[0])
            ) from None
        if not resp.choices or resp.choices[0].message.content is None:
            raise GenerationFailed(req.key, "the reply had no message content")
        if self.info.details.get("served_model") is None:
            self.info.details["served_model"] = resp.model
        return req.key, resp.choices[0].message.content.strip()

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings, *, batch_size: int
    ) -> Iterator[tuple[str, str]]:
        if settings.num_beams != 1 or settings.repetition_penalty != 1.0:
            raise HalbenchError(
                "the openai backend supports neither --num-beams nor --repetition-penalty"
            )
        with ThreadPoolExecutor(max_workers=self._concurrency) as pool:
            futures = [pool.submit(self._one, r, settings) for r in requests]
            for fut in track(
                as_completed(futures), total=len(futures), desc="generating", unit="req"
            ):
                try:
                    yield fut.result()
                except GenerationFailed as exc:
                    self.failures[exc.key] = str(exc)

    def close(self) -> None:
        self._client.close()
