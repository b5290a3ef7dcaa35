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
HEADLINE = {"object-halbench": ("CHAIRs_refine", "CHAIRi"),
            "mmhal-bench": ("hallucination_rate", "informativeness")}  # fmt: skip


def format_run_summary(outcomes: Sequence[Any]) -> str:
    """One line per benchmark of a ``halbench run``."""
    lines = [f"{'benchmark':<24}{'items':>6}{'new':>6}{'stored':>8}{'unscored':>10}   headline"]
    for o in outcomes:
        rec = o.record
        shown = HEADLINE.get(rec.protocol.get("scorer", ""), ())
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
            if rec.protocol.get("scorer") in ("llava-bench", "llava-bench-wild"):
                rel = rec.metrics.get("reported", {}).get("all", {}).get("relative")
                headline = f"relative score {'n/a' if rel is None else rel}"
        lines.append(
            f"{rec.benchmark:<24}{rec.n_items:>6}{o.generated:>6}{o.reused:>8}{rec.n_unscored:>10}   {headline}"
        )
    for o in outcomes:
        lines.append(f"  {o.name}: {o.record_path}  (answers: {o.answers_path})")
        for item_id, reason in list(o.failed.items())[:3]:
            lines.append(f"    generation failed for item {item_id}: {reason}")
    return "\n".join(lines)


def format_vqav2(record: ResultRecord) -> str:
    m = record.metrics
    rep = m.get("reported", {})
    lines = [f"VQAv2 ({record.benchmark_version}, normalize={record.protocol.get('normalize')}): "
             f"{record.n_scored} scored, {record.n_unscored} unscored",
             f"  overall accuracy        {rep.get('overall', 'n/a')}"]  # fmt: skip
    for k, v in sorted(rep.get("perAnswerType", {}).items()):
        lines.append(f"  {k:<24}{v}")
    lines.append("  (percent, rounded like the official script; fractions in the record)")
    return "\n".join(lines)


def format_pope(record: ResultRecord) -> str:
    m = record.metrics
    lines = [f"POPE ({record.benchmark_version}, mode={record.protocol.get('mode')}): {record.n_scored} scored, {record.n_unscored} unscored",
             f"  {'split':<14}{'accuracy':>10}{'precision':>11}{'recall':>9}{'F1':>9}{'yes-ratio':>11}"]  # fmt: skip
    rows = list(m["splits"].items())
    if len(rows) > 1:
        rows.append(("macro mean", m))
    for name, s in rows:
        vals = "".join(
            f"{pct(s.get(k)):>10}" for k in ("accuracy", "precision", "recall", "f1", "yes_ratio")
        )
        lines.append(f"  {name:<14}{vals}")
    return "\n".join(lines)


def format_amber(record: ResultRecord) -> str:
    m = record.metrics
    lines = [
        f"AMBER ({record.benchmark_version}, mode={record.protocol.get('mode')}): {record.n_scored} scored, {record.n_unscored} unscored"
    ]
    rep = m.get("reported", {})
    if "discriminative" in rep:
        lines.append(
            f"  {'dimension':<12}{'Acc':>7}{'P':>7}{'R':>7}{'F1':>7}   (reference rounding)"
        )
        for g in ("overall", "existence", "attribute", "state", "number", "action", "relation"):
            r = rep["discriminative"][g]
            lines.append(
                f"  {g:<12}{r['accuracy']:>7}{r['precision']:>7}{r['recall']:>7}{r['f1']:>7}"
            )
    elif "discriminative" in m:
        for g, r in m["discriminative"].items():
            lines.append(
                f"  {g:<12} acc {pct(r['accuracy'])}  F1 {pct(r['f1'])}  unscored {r.get('n_unscored', 0)}"
            )
    if "generative" in rep:
        g = rep["generative"]
        lines.append(
            f"  generative  CHAIR {g['CHAIR']}  Cover {g['Cover']}  Hal {g['Hal']}  Cog {g['Cog']}  ({m.get('similarity_backend')})"
        )
    if "amber_score" in m:
        lines.append(f"  AMBER score {m['amber_score']:.2f}")
    for name, reason in record.not_computable.items():
        lines.append(f"  {name}: not computed: {reason}")
    return "\n".join(lines)


def format_llava_bench(record: ResultRecord) -> str:
    rep = record.metrics.get("reported", {})
    title = "LLaVA-Bench (In-the-Wild)" if record.protocol.get("scorer") == "llava-bench-wild" else "LLaVA-Bench (COCO)"  # fmt: skip
    lines = [f"{title}, judge {record.protocol.get('judge_model')}: {record.n_scored} judged, "
             f"{record.n_unscored} unscored ({record.protocol.get('failures')})",
             f"  {'category':<10}{'relative':>10}{'GPT-4 mean':>12}{'model mean':>12}{'n':>5}"]  # fmt: skip
    for cat, r in rep.items():
        lines.append(
            f"  {cat:<10}{r['relative'] if r['relative'] is not None else 'n/a':>10}{r['reference_mean']:>12}{r['model_mean']:>12}{r['n']:>5}"
        )
    if (
        record.protocol.get("n_string_captions")
        and record.protocol.get("string_caption") == "llava"
    ):
        lines.append(f"  note: {record.protocol['n_string_captions']} image caption(s) are plain strings, joined one "
                     "character per line as LLaVA's script does (--string-caption as-is sends them unchanged)")  # fmt: skip
    return "\n".join(lines)


def format_mmhal(record: ResultRecord) -> str:
    m, rep = record.metrics, record.metrics.get("reported", {})
    mode = record.protocol.get("failures")
    parity = m.get("n_parity_score_0", 0)
    lines = [f"MMHal-Bench, judge {record.protocol.get('judge_model')} (prompt {record.protocol.get('prompt_version')}): "
             f"{record.n_scored} rated, {record.n_unscored} unscored"
             + (f", {parity} scored 0 by the reference rule (--failures parity)" if mode == "parity" else ""),
             f"  average score {rep.get('average_score')} (0-6)   hallucination rate {rep.get('hallucination_rate')}"
             f"   informativeness {rep.get('informativeness')}",
             f"  {'type':<13}{'avg':>6}{'hall.':>7}{'n':>4}{'unscored':>10}"]  # fmt: skip
    for t, g in m.get("per_type", {}).items():
        avg = "n/a" if g["average_score"] is None else f"{g['average_score']:.2f}"
        hall = "n/a" if g["hallucination_rate"] is None else f"{g['hallucination_rate']:.2f}"
        lines.append(f"  {t:<13}{avg:>6}{hall:>7}{g['n']:>4}{g['n_unscored']:>10}")
    return "\n".join(lines)


def format_object_halbench_llm(record: ResultRecord) -> str:
    """The LLM-extraction table, then both paths side by side on the same items and their agreement."""
    p, ag = record.protocol, record.metrics.get("agreement", {})
    lines = [format_object_halbench(record),
             f"  judge {p.get('judge_model')}, prompt {p.get('prompt_version')}, lemmatizer {p.get('lemmatizer')} ({p.get('mode')})"]  # fmt: skip
    if p.get("lemmatizer_note"):
        lines.append(f"  note: {p['lemmatizer_note']}")
    lines.append(f"  LLM vs synonym path on the same {ag.get('n_items', 0)} items:")
    lines.append(f"  {'metric':<16}{'llm':>10}{'synonym':>10}")
    for name, v in ag.get("side_by_side", {}).items():
        lines.append(f"  {name:<16}{pct(v['llm']):>10}{pct(v['synonym']):>10}")
    same, jac = ag.get("same_class_set"), ag.get("mean_class_jaccard")
    lines.append(f"  per-item agreement: same COCO classes {pct(same)} ({ag.get('same_class_set_count')}/{ag.get('n_items')}), "
                 f"same mentions {ag.get('same_mentions_count')}/{ag.get('n_items')}, "
                 f"mean Jaccard {'n/a' if jac is None else f'{jac:.3f}'}")  # fmt: skip
    return "\n".join(lines)
