"""One scored Object HalBench record, and copies of it under other model names (leaderboard tests)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from benchmarks.object_halbench.score import ObjectHalbenchOptions, score_object_halbench
from halbench.types import ResultRecord

from .conftest import CAPS_BOXES, DEMO_ANSWERS

ENTRIES = Path(__file__).resolve().parents[1] / "leaderboard" / "entries"


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
    **metrics: float,
) -> Path:
    """A copy of the scored record as ``model`` (an API model, so the name is kept as given)."""
    rec = ResultRecord.model_validate_json(_scored(cache_root))
    rec.model = {"backend": "openai", "model": model, "fingerprint": "openai:x"}
    rec.provenance.created_at = created_at
    rec.metrics.update(metrics)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rec.to_json())
    return path
