"""Scoring inside ``halbench run``: a benchmark's items and answers in, a record out.

Each benchmark definition names its scorer (``scorer = "..."`` in ``benchmark.toml``);
the scorer is the ``score_run(ctx)`` function of the ``score.py`` in the folder of the
benchmark that defines it (``halbench.registry.scorer_home``), imported only when used.
This module holds what every scorer shares: the context, the judge set-up, the record
for answers that are not (yet) scored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError
from halbench.provenance import make_provenance, now_utc
from halbench.registry import Benchmark, Item
from halbench.types import ResultRecord, UnscoredItem


@dataclass
class JudgeSetup:
    """The LLM judge for judge-scored benchmarks (``halbench run --judge-model ...``)."""

    config: Any  # halbench.judges.JudgeConfig
    extractor: str = "synonym"  # object-halbench: "llm" uses the judge to list objects
    spacy_model: str | None = None
    on_estimate: Callable[[dict[str, Any]], None] | None = None


@dataclass
class ScoreContext:
    benchmark: Benchmark
    items: list[Item]  # the answered items, in benchmark order
    answers: dict[str, str]  # item id -> raw answer text
    benchmark_version: str
    ground_truth: Path | None = None
    command: list[str] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)  # the prepared data's manifest.json
    judge: JudgeSetup | None = None  # None: judge-scored benchmarks are reported "not judged"
    data_dir: Path | None = None


def check_scorer(bench: Benchmark) -> None:
    bench.scorer_module()  # raises when the scorer is unknown


def check_judge(bench: Benchmark, judge: JudgeSetup | None, data_dir: Path | None) -> None:
    """Before any generation: what a judged scorer needs besides the judge itself."""
    if judge is None:
        return
    check = getattr(bench.scorer_module(), "check_judge", None)
    if check is not None:
        check(data_dir)


def not_judged(ctx: ScoreContext) -> ResultRecord:
    record = pending_record(
        ctx,
        f"not judged: {ctx.benchmark.name} is scored by an LLM judge; give --judge-model to "
        f"halbench run, or score OUT/{ctx.benchmark.name}/answers.jsonl with halbench score",
    )
    record.protocol["status"] = "not judged"
    return record


def score(ctx: ScoreContext) -> ResultRecord:
    record = ctx.benchmark.scorer_module().score_run(ctx)
    record.protocol.setdefault("scorer", ctx.benchmark.scorer)
    return record


def item_fields(item: Item, answer: str) -> dict[str, Any]:
    """What an answered item looks like in records and answers.jsonl."""
    rec: dict[str, Any] = {"item_id": item.id}
    if item.image_id is not None:
        rec["image_id"] = item.image_id
    rec["question"] = item.question
    rec["answer"] = answer
    rec.update({k: v for k, v in item.fields.items() if k not in rec})
    return rec


def finish(record: ResultRecord, ctx: ScoreContext) -> ResultRecord:
    """A scorer's record, named after the benchmark that was run (a custom folder too)."""
    record.benchmark = ctx.benchmark.name
    record.benchmark_version = ctx.benchmark_version
    return record


def require_image_ids(ctx: ScoreContext) -> None:
    for item in ctx.items:
        if item.image_id is None:
            raise HalbenchError(
                f"{ctx.benchmark.name}: item {item.id} has no image_id (needed for CHAIR)"
            )


def build_record(
    *,
    benchmark: str,
    benchmark_version: str,
    protocol: dict[str, Any],
    metrics: dict[str, Any],
    items: list[dict[str, Any]],
    unscored: list[UnscoredItem],
    started: tuple[str, float],
    inputs: list[Any] | None = None,
    command: list[str] | None = None,
    details: dict[str, Any] | None = None,
    fractions: dict[str, Any] | None = None,
    not_computable: dict[str, str] | None = None,
    n_items: int | None = None,
    n_scored: int | None = None,
) -> ResultRecord:
    """The one way a scorer makes its record: counts from ``items``/``unscored`` (an item is
    scored or listed as unscored, never both), provenance from ``started`` = (created_at,
    ``time.perf_counter()`` at the start) and the inputs read."""
    created_at, t0 = started
    n = len(items) if n_items is None else n_items
    return ResultRecord(
        benchmark=benchmark,
        benchmark_version=benchmark_version,
        protocol=protocol,
        metrics=metrics,
        fractions=fractions or {},
        not_computable=not_computable or {},
        n_items=n,
        n_scored=n - len(unscored) if n_scored is None else n_scored,
        n_unscored=len(unscored),
        unscored=unscored,
        items=items,
        provenance=make_provenance(
            inputs=list(inputs or []),
            duration_s=time.perf_counter() - t0,
            created_at=created_at,
            command=command,
            details=details,
        ),
    )


def pending_record(ctx: ScoreContext, reason: str) -> ResultRecord:
    """Every answered item unscored for ``reason`` (answers kept; never a 0)."""
    items = [{**item_fields(it, ctx.answers[it.id]), "unscored": reason} for it in ctx.items]
    return ResultRecord(
        benchmark=ctx.benchmark.name,
        benchmark_version=ctx.benchmark_version,
        protocol={"scorer": ctx.benchmark.scorer, "status": "not scored"},
        metrics={},
        n_items=len(items),
        n_scored=0,
        n_unscored=len(items),
        unscored=[UnscoredItem(index=i, reason=reason) for i in range(len(items))],
        items=items,
        provenance=make_provenance(
            inputs=[], duration_s=0.0, created_at=now_utc(), command=ctx.command
        ),
    )
