"""Text tables for the terminal (rounding and percent signs happen only here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from halbench import registry
from halbench.types import ResultRecord


def pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:6.2f} %"


def format_run_summary(outcomes: Sequence[Any]) -> str:
    """One line per benchmark of a ``halbench run``."""
    lines = [f"{'benchmark':<24}{'items':>6}{'new':>6}{'stored':>8}{'unscored':>10}   headline"]
    for o in outcomes:
        rec = o.record
        specs = registry.scorer_metrics(registry.scorer_of(rec))
        shown = [m.key for m in specs if m.headline]
        status = rec.protocol.get("status")
        if status == "not judged":
            headline = "not judged (no --judge-model): answers stored"
        elif status == "not scored":
            headline = "not scored: " + (
                rec.unscored[0].reason.split(";")[0] if rec.unscored else ""
            )
        else:
            headline = "  ".join(
                f"{k} {pct(rec.metrics.get(k)).strip()}" for k in shown if k in rec.metrics
            )
            custom = _scorer_function(rec, "headline")
            if custom is not None:
                headline = custom(rec)
        lines.append(
            f"{rec.benchmark:<24}{rec.n_items:>6}{o.generated:>6}{o.reused:>8}{rec.n_unscored:>10}   {headline}"
        )
    for o in outcomes:
        lines.append(f"  {o.name}: {o.record_path}  (answers: {o.answers_path})")
        for item_id, reason in list(o.failed.items())[:3]:
            lines.append(f"    generation failed for item {item_id}: {reason}")
    return "\n".join(lines)


def _scorer_function(record: ResultRecord, name: str) -> Any:
    """A function of the scorer's ``score.py`` (e.g. ``headline``, ``format_table``), or None."""
    home = registry.scorer_home(registry.scorer_of(record))
    return None if home is None else getattr(home.module("score"), name, None)


def format_record_table(record: ResultRecord) -> str:
    """The scorer's own terminal table for a scored record ("" when not scored)."""
    fn = _scorer_function(record, "format_table")
    if fn is None or record.protocol.get("status") in ("not judged", "not scored"):
        return ""
    return fn(record)
