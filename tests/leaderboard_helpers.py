"""One scored Object HalBench record, and copies of it under other model names (leaderboard tests)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from benchmarks.object_halbench.score import ObjectHalbenchOptions, score_object_halbench
from halbench.types import ResultRecord

from .conftest import CAPS_BOXES, DEMO_ANSWERS

ENTRIES = Path(__file__).resolve().parents[1] / "halbench" / "leaderboard" / "entries"


@cache
def _scored(cache_root: Path) -> str:
    return score_object_halbench(
        DEMO_ANSWERS, CAPS_BOXES, ObjectHalbenchOptions(cache_root=cache_root)
    ).to_json()


def write_record(
    path: Path,
    model: str,
    *,
    created_at: str = "2026-11-21T10:00:00+00:00",
    cache_root: Path,
    full: bool = False,
    protocol: dict | None = None,
    version_suffix: str = "",
    fingerprint: str = "openai:x",
    model_extra: dict | None = None,
    reproduces: str | None = None,
    trained_from: str | None = None,
    **metrics: float,
) -> Path:
    """A copy of the scored record as ``model`` (an API model, so the name is kept as given).

    ``full``: 300 items (the 30 answers ten times), as a complete official run has;
    ``protocol``: overrides (``{"extractor": "llm"}``); ``version_suffix``: ``+sample`` data.
    """
    rec = ResultRecord.model_validate_json(_scored(cache_root))
    rec.model = {"backend": "openai", "model": model, "fingerprint": fingerprint, "limit": None}
    rec.model.update(model_extra or {})
    rec.provenance.created_at = created_at
    rec.metrics.update(metrics)
    rec.protocol.update(protocol or {})
    rec.benchmark_version += version_suffix
    rec.reproduces = reproduces
    rec.trained_from = trained_from
    if full:
        rec.items = rec.items * 10
        rec.n_items = rec.n_scored = len(rec.items)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rec.to_json())
    return path
