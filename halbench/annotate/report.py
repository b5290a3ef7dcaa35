"""``halbench annotate report``: MHumanEval from the annotation store.

Per response: hallucinated or not, and by which types. Rates: responses with at least
one segment of a type / judged responses (the paper's Object, Position, Number and All
columns; All = any type; with the full 146 judged the denominator is the paper's 146),
with counts and Wilson 95% intervals; the same per source subset (``source`` field of
the items, e.g. MMHal-Bench's 96, the human "MMHal Resp." column), per annotator, and
the agreement between annotators.

Several annotators on one response are combined per label (each type, and All) by
``combine``: ``majority`` (default; at least half of the response's annotators, so a
tie counts as hallucinated), ``any`` or ``all``. A response no annotator has judged is
unscored: excluded from the denominators, counted and listed.

Only annotations of the ``mhumaneval`` benchmark make an MHumanEval record (scorer
``mhumaneval``, the leaderboard's MHumanEval columns); the same report on another
benchmark's run is benchmark ``<name>-human``, scorer ``human-judgement``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from pathlib import Path
from typing import Any

from halbench.annotate import TYPES
from halbench.annotate.agreement import cohen_kappa, fleiss_kappa, span_f1, wilson
from halbench.annotate.store import AnnotationStore
from halbench.errors import HalbenchError
from halbench.provenance import make_provenance, now_utc
from halbench.types import Fraction, InputFile, ResultRecord, UnscoredItem

COMBINE = ("majority", "any", "all")
LABELS = (*TYPES, "all")


def _labels(judgement: dict[str, Any]) -> set[str]:
    """The labels one annotator gave one response: its span types, plus "all" if any."""
    types = {s["type"] for s in judgement["spans"]}
    return types | ({"all"} if types else set())


def _combine(per_annotator: list[set[str]], rule: str) -> set[str]:
    n = len(per_annotator)
    out = set()
    for label in LABELS:
        k = sum(1 for labels in per_annotator if label in labels)
        if (
            (rule == "any" and k > 0)
            or (rule == "all" and k == n)
            or (rule == "majority" and 2 * k >= n and k > 0)
        ):
            out.add(label)
    return out


def _rates(labelled: list[set[str]]) -> tuple[dict[str, Any], dict[str, Fraction]]:
    n = len(labelled)
    metrics: dict[str, Any] = {}
    fractions: dict[str, Fraction] = {}
    counts, intervals = {}, {}
    for label in LABELS:
        k = sum(1 for labels in labelled if label in labels)
        counts[label] = k
        metrics[label] = k / n if n else None
        fractions[label] = Fraction(numerator=k, denominator=n)
        ci = wilson(k, n)
        intervals[label] = list(ci) if ci else None
    metrics["counts"] = counts
    metrics["n"] = n
    metrics["intervals"] = intervals
    return metrics, fractions


def _agreement(
    judged: dict[str, dict[str, dict[str, Any]]], names: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Response-level kappas (per label) and span overlap F1 between annotators."""
    out: dict[str, Any] = {"annotators": names}
    why: dict[str, str] = {}
    pairs = []
    for x, y in itertools.combinations(names, 2):
        common = [j for j in judged.values() if x in j and y in j]
        entry: dict[str, Any] = {"a": x, "b": y, "items": len(common), "cohen_kappa": {}}
        for label in LABELS:
            entry["cohen_kappa"][label] = cohen_kappa(
                [label in _labels(j[x]) for j in common], [label in _labels(j[y]) for j in common]
            )
        spans_x = [[(s["start"], s["end"], s["type"]) for s in j[x]["spans"]] for j in common]
        spans_y = [[(s["start"], s["end"], s["type"]) for s in j[y]["spans"]] for j in common]
        entry["span_f1_any_type"] = span_f1(spans_x, spans_y)
        entry["span_f1_same_type"] = span_f1(spans_x, spans_y, same_type=True)
        pairs.append(entry)
    out["pairs"] = pairs
    if len(names) < 2:
        why["agreement"] = "fewer than two annotators"
        return out, why
    if len(names) == 2:
        out["method"] = "cohen"
        out["kappa"] = pairs[0]["cohen_kappa"]
        out["kappa_items"] = pairs[0]["items"]
    else:
        out["method"] = "fleiss"
        full = [j for j in judged.values() if all(n in j for n in names)]
        out["kappa_items"] = len(full)
        out["kappa"] = {
            label: fleiss_kappa([[label in _labels(j[n]) for n in names] for j in full])
            if full
            else None
            for label in LABELS
        }
    for label, value in out["kappa"].items():
        if value is None:
            why[f"agreement.kappa.{label}"] = (
                "no response judged by every annotator"
                if not out["kappa_items"]
                else "undefined: every label of this kind is the same class (expected agreement 1)"
            )
    f1s = [p["span_f1_any_type"]["f1"] for p in pairs if p["span_f1_any_type"]["f1"] is not None]
    out["span_f1_any_type_mean"] = sum(f1s) / len(f1s) if f1s else None
    f1t = [p["span_f1_same_type"]["f1"] for p in pairs if p["span_f1_same_type"]["f1"] is not None]
    out["span_f1_same_type_mean"] = sum(f1t) / len(f1t) if f1t else None
    if not f1s:
        why["agreement.span_f1"] = "no spans on the responses annotators judged in common"
    return out, why


def _judge_section(
    labels: dict[str, dict[str, Any]],
    human: dict[str, dict[str, Any]],
    judged_all: dict[str, dict[str, dict[str, Any]]],
    names: list[str],
    decisions: dict[str, int],
) -> dict[str, Any]:
    """A judge's own rates (never mixed into the human ones) and its agreement with people."""
    ok = {i: j for i, j in labels.items() if j["status"] == "labelled"}
    section, _ = _rates([_labels(j) for j in ok.values()])
    section["failed"] = {i: j["error"] for i, j in labels.items() if j["status"] != "labelled"}
    section["proposals"] = sum(len(j["spans"]) for j in ok.values())
    section["decisions"] = {
        "accepted": decisions.get("accepted", 0),
        "rejected": decisions.get("rejected", 0),
    }
    common = [i for i in ok if i in human]
    kappa = {}
    for label in LABELS:
        kappa[label] = cohen_kappa(
            [label in _labels(ok[i]) for i in common],
            [
                human[i]["hallucinated_response"] if label == "all" else label in human[i]["types"]
                for i in common
            ],
        )
    f1 = {}
    for name in names:
        both = [i for i in common if name in judged_all[i]]
        f1[name] = span_f1(
            [[(s["start"], s["end"], s["type"]) for s in ok[i]["spans"]] for i in both],
            [
                [(s["start"], s["end"], s["type"]) for s in judged_all[i][name]["spans"]]
                for i in both
            ],
        )
    section["agreement_with_humans"] = {
        "items": len(common),
        "cohen_kappa_vs_combined_humans": kappa,
        "span_f1_any_type": f1,
    }
    return section


def build_report(
    db: str | Path, *, combine: str = "majority", command: list[str] | None = None
) -> ResultRecord:
    if combine not in COMBINE:
        raise HalbenchError(f"--combine must be one of {', '.join(COMBINE)}")
    t0 = time.perf_counter()
    db = Path(db)
    if not db.exists():
        raise HalbenchError(
            f"{db}: annotation store not found (halbench annotate serve creates it)"
        )
    store = AnnotationStore(db)
    try:
        meta = store.meta()
        rows = store.items()
        judged_all = store.judgements()
        names = [a.name for a in store.annotators()]
        judges = store.judge_labels()
        decisions = store.decision_counts()
    finally:
        store.close()
    if not rows:
        raise HalbenchError(
            f"{db}: no items (load a run with halbench annotate serve --run RUN_DIR)"
        )
    items, unscored, labelled = [], [], []
    by_source: dict[str, list[set[str]]] = {}
    for index, row in enumerate(rows):
        fields = json.loads(row["fields"])
        base = {"item_id": row["item_id"], "question": row["question"], "answer": row["answer"]}
        if "source" in fields:
            base["source"] = fields["source"]
        judgements = judged_all.get(row["item_id"], {})
        if not judgements:
            reason = "not judged by any annotator"
            items.append({**base, "unscored": reason})
            unscored.append(UnscoredItem(index=index, reason=reason))
            continue
        labels = _combine([_labels(j) for j in judgements.values()], combine)
        labelled.append(labels)
        if "source" in fields:
            by_source.setdefault(str(fields["source"]), []).append(labels)
        items.append(
            {
                **base,
                "hallucinated_response": "all" in labels,
                "types": [t for t in TYPES if t in labels],
                "judgements": judgements,
            }
        )
    metrics, fractions = _rates(labelled)
    not_computable: dict[str, str] = {}
    if not labelled:
        for label in LABELS:
            not_computable[label] = "no response judged yet"
    metrics["by_source"] = {src: _rates(lab)[0] for src, lab in sorted(by_source.items())}
    per_annotator = {}
    for name in names:
        mine = [j[name] for j in judged_all.values() if name in j]
        m, _ = _rates([_labels(j) for j in mine])
        m["segments"] = sum(len(j["spans"]) for j in mine)
        per_annotator[name] = m
    metrics["per_annotator"] = per_annotator
    metrics["segments"] = {n: per_annotator[n]["segments"] for n in names}
    metrics["agreement"], why = _agreement(judged_all, names)
    not_computable.update(why)
    human = {it["item_id"]: it for it in items if "unscored" not in it}
    metrics["judges"] = {
        judge: _judge_section(labels, human, judged_all, names, decisions.get(judge, {}))
        for judge, labels in sorted(judges.items())
    }
    model = json.loads(meta.get("model") or "{}") or None
    bench = meta.get("benchmark", "unknown")
    # a benchmark judged by people (``human_judged`` in its definition: MHumanEval) gets its
    # own record; human judgement of another benchmark's answers is "<benchmark>-human",
    # never shown in the human-judged benchmark's columns
    human_scorer = _human_judged_scorer(bench)
    digest = hashlib.sha256(json.dumps(judged_all, sort_keys=True).encode()).hexdigest()
    return ResultRecord(
        benchmark=bench if human_scorer else f"{bench}-human",
        benchmark_version=meta.get("benchmark_version", "unknown"),
        protocol={
            "scorer": human_scorer or "human-judgement",
            "judgement": "human",
            "combine": combine,
            "interval": "Wilson score, 95%",
            "types": list(TYPES),
            "denominator": "responses judged by at least one annotator",
            "annotators": len(names),
        },
        metrics=metrics,
        fractions=fractions,
        not_computable=not_computable,
        n_items=len(rows),
        n_scored=len(labelled),
        n_unscored=len(unscored),
        unscored=unscored,
        items=items,
        provenance=make_provenance(
            inputs=[
                InputFile(
                    path=str(db.resolve()),
                    sha256=digest,
                    role="annotations (sha256 of the judgements as sorted JSON)",
                )
            ],
            duration_s=time.perf_counter() - t0,
            created_at=now_utc(),
            command=command,
            details={"run_dir": meta.get("run_dir")},
        ),
        model=model,
    )


def _human_judged_scorer(name: str) -> str | None:
    """The scorer of benchmark ``name`` when its definition says people judge it."""
    from halbench import registry

    try:
        bench = registry.get_benchmark(name)
    except registry.UnknownBenchmark:
        return None
    return bench.scorer if bench.spec.get("human_judged") else None
