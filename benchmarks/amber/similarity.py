"""Word similarity backends for AMBER's generative matching.

The reference compares two words with spaCy ``en_core_web_lg``: ``nlp(a).similarity(nlp(b))``
(1.0 for identical token texts, 0.0 when a vector is missing, else the cosine of the mean
token vectors). halbench never substitutes silently; the backend is named in every record:

* ``spacy:MODEL`` — a spaCy pipeline with static vectors (``en_core_web_lg`` reproduces the
  reference);
* ``table:FILE`` — a JSON table of precomputed similarities between vocabulary words
  (``{"meta": {...}, "words": [...], "similarity": [[...], ...]}``), e.g. computed once with
  the real model where it is installed; every AMBER comparison is between two vocabulary
  words, so a table reproduces the model exactly;
* ``exact`` — 1.0 for identical strings, else 0.0 (then CHAIR and Hal are upper bounds and
  Cover and Cog lower bounds of the reference values; labelled not reference-comparable).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError, InputError
from halbench.io import file_sha256

REFERENCE_MODEL = "en_core_web_lg"


class ExactSimilarity:
    name = "exact"
    reference_comparable = False

    def __call__(self, a: str, b: str) -> float:
        return 1.0 if a == b else 0.0

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "reference_comparable": False}


class SpacySimilarity:
    def __init__(self, model: str) -> None:
        try:
            import spacy
        except ImportError:
            raise HalbenchError(
                "the spacy similarity backend needs spaCy: pip install spacy (and the model)"
            ) from None
        try:
            self._nlp = spacy.load(model)
        except OSError as exc:
            raise HalbenchError(
                f"spaCy model {model!r} is not installed ({exc})".splitlines()[0]
            ) from None
        self.name = f"spacy:{model}"
        self.reference_comparable = model == REFERENCE_MODEL
        self._memo: dict[tuple[str, str], float] = {}
        self._spacy_version = spacy.__version__

    def __call__(self, a: str, b: str) -> float:
        key = (a, b)
        got = self._memo.get(key)
        if got is None:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the reference hides the empty-vector warning too
                got = self._memo[key] = float(self._nlp(a).similarity(self._nlp(b)))
        return got

    def describe(self) -> dict[str, Any]:
        meta = getattr(self._nlp, "meta", {})
        return {
            "backend": self.name,
            "spacy": self._spacy_version,
            "model_version": meta.get("version"),
            "vectors": list(getattr(self._nlp.vocab.vectors, "shape", ())),
            "reference_comparable": self.reference_comparable,
        }


class TableSimilarity:
    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(str(p), "similarity table not found") from None
        except ValueError as exc:
            raise InputError(str(p), f"invalid JSON: {exc}") from None
        words, matrix = data.get("words"), data.get("similarity")
        if not isinstance(words, list) or not isinstance(matrix, list) or len(matrix) != len(words):
            raise InputError(
                str(p), 'expected {"words": [...], "similarity": [[...]]} with one row per word'
            )
        self._index = {w: i for i, w in enumerate(words)}
        self._matrix = matrix
        self.meta = data.get("meta", {})
        self.name = f"table:{p.name}"
        self.reference_comparable = self.meta.get("model") == REFERENCE_MODEL
        self._describe = {
            "backend": self.name,
            "sha256": file_sha256(p),
            "meta": self.meta,
            "reference_comparable": self.reference_comparable,
        }

    def __call__(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        try:
            return float(self._matrix[self._index[a]][self._index[b]])
        except KeyError as exc:
            raise HalbenchError(f"{self.name}: no similarity for {exc.args[0]!r}") from None

    def describe(self) -> dict[str, Any]:
        return self._describe


def make_similarity(spec: str | None) -> Any:
    """``None``/"auto": spaCy en_core_web_lg if installed, else None (generative left unscored)."""
    if spec in (None, "auto"):
        try:
            return SpacySimilarity(REFERENCE_MODEL)
        except HalbenchError:
            return None
    if spec == "exact":
        return ExactSimilarity()
    kind, _, arg = spec.partition(":")
    if kind == "spacy" and arg:
        return SpacySimilarity(arg)
    if kind == "table" and arg:
        return TableSimilarity(arg)
    raise HalbenchError(
        f"unknown similarity backend {spec!r}: use auto, exact, spacy:MODEL or table:FILE"
    )
