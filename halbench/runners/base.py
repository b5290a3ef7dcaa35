"""What every model backend provides: one interface, one settings record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings. Defaults are deterministic: greedy, fixed seed.

    ``temperature == 0`` means greedy (or beam search with ``num_beams > 1``).
    Everything here is part of the answer store's key: changing any field never
    reuses an answer generated with another value.
    """

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    num_beams: int = 1
    repetition_penalty: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Request:
    """One prompt for the model: a question about one image (or none)."""

    key: str  # the item id: unique within a call to generate()
    question: str
    image: Path | None
    image_id: int | None = None  # COCO id where the benchmark has one (used by replay matching)


@dataclass
class ModelInfo:
    """Identity of the model that produced answers (goes into records and the store key)."""

    backend: str
    model: str  # path, hub id or API model name as given
    fingerprint: str  # content-based where possible (config + weights checksum, hub revision)
    details: dict[str, Any] = field(default_factory=dict)


class Runner(Protocol):
    """A model backend.

    ``generate`` yields ``(request.key, answer_text)`` for every request, as answers
    are produced (so callers can store them at once), in any order. A request that
    cannot be answered is left out of the output and described in ``failures``
    (key -> reason); its item is then reported unscored, never filled in.
    """

    info: ModelInfo
    failures: dict[str, str]

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings, *, batch_size: int
    ) -> Iterator[tuple[str, str]]: ...

    def close(self) -> None: ...
