"""Text tables for the terminal (rounding and percent signs happen only here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from halbench.types import ResultRecord


def pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:6.2f} %"


def format_object_halbench(record: ResultRecord) -> str:
    """The metrics table for an Object HalBench record (percentages, 2 decimals)."""
    m, f = record.metrics, record.fractions
    rows = [
        ("CHAIRs_refine (Resp.)", "lower", pct(m.get("CHAIRs_refine")), f.get("CHAIRs_refine")),
        ("CHAIRi (Mention)", "lower", pct(m.get("CHAIRi")), f.get("CHAIRi")),
        ("CHAIRs", "lower", pct(m.get("CHAIRs")), f.get("CHAIRs")),
        ("coverage (obj_rec)", "higher", pct(m.get("coverage")), f.get("coverage")),
    ]
    avg = m.get("avg_words")
    lines = [
        f"{record.benchmark} ({record.benchmark_version}, {record.protocol.get('extractor')} extractor): "
        f"{record.n_scored} scored, {record.n_unscored} unscored",
        f"  {'metric':<24}{'better':<8}{'value':>10}   fraction",
    ]
    for name, better, value, frac in rows:
        frac_txt = f"{frac.numerator} / {frac.denominator}" if frac is not None else ""
        lines.append(f"  {name:<24}{better:<8}{value:>10}   {frac_txt}")
    lines.append(f"  {'avg words':<24}{'':<8}{'n/a' if avg is None else f'{avg:8.2f}':>10}")
    for name, reason in record.not_computable.items():
        lines.append(f"  {name}: not computable ({reason})")
    if record.n_unscored:
        lines.append(
            f"  unscored items: {record.n_unscored} (listed under 'unscored' in the record)"
        )
    if record.protocol.get("coh_applied"):
        lines.append("  note: Chain-of-Hindsight marker sentences were cut from answers (--coh)")
    return "\n".join(lines)


#: metrics shown in the run summary, per benchmark scorer
HEADLINE = {"object-halbench": ("CHAIRs_refine", "CHAIRi")}


def format_run_summary(outcomes: Sequence[Any]) -> str:
    """One line per benchmark of a ``halbench run``."""
    lines = [f"{'benchmark':<20}{'items':>6}{'new':>6}{'stored':>8}{'unscored':>10}   headline"]
    for o in outcomes:
        rec = o.record
        shown = HEADLINE.get(rec.protocol.get("scorer", ""), ())
        if rec.protocol.get("status") == "not scored":
            headline = "not scored: " + (
                rec.unscored[0].reason.split(";")[0] if rec.unscored else ""
            )
        else:
            headline = "  ".join(
                f"{k} {pct(rec.metrics.get(k)).strip()}" for k in shown if k in rec.metrics
            )
        lines.append(
            f"{rec.benchmark:<20}{rec.n_items:>6}{o.generated:>6}{o.reused:>8}{rec.n_unscored:>10}   {headline}"
        )
    for o in outcomes:
        lines.append(f"  {o.name}: {o.record_path}  (answers: {o.answers_path})")
        for item_id, reason in list(o.failed.items())[:3]:
            lines.append(f"    generation failed for item {item_id}: {reason}")
    return "\n".join(lines)
