"""Scorers as ``halbench run`` calls them: a benchmark's items and answers in, a record out.

Each benchmark definition names its scorer (``scorer = "..."`` in ``benchmark.toml``);
this registry maps the name to a function. The functions are thin: the scoring itself
lives in ``halbench.scoring`` (pure) and ``halbench.score`` (files).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halbench.benchmarks import Benchmark, Item
from halbench.errors import HalbenchError
from halbench.provenance import make_provenance, now_utc
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


ScorerFn = Callable[[ScoreContext], ResultRecord]
_SCORERS: dict[str, ScorerFn] = {}
#: scorers whose benchmarks can be run but not yet scored in this version: name -> reason
PENDING: dict[str, str] = {
    "mhumaneval": "MHumanEval is judged by people: halbench annotate serve --run RUN_DIR "
    "--benchmark mhumaneval, then halbench annotate report",
}
#: scorers that need an LLM judge: without --judge-model their answers are stored, "not judged"
JUDGED = {"llava-bench", "llava-bench-wild", "mmhal-bench"}


def register_scorer(name: str) -> Callable[[ScorerFn], ScorerFn]:
    def deco(fn: ScorerFn) -> ScorerFn:
        _SCORERS[name] = fn
        return fn

    return deco


def check_scorer(bench: Benchmark) -> None:
    if bench.scorer not in _SCORERS and bench.scorer not in PENDING:
        raise HalbenchError(f"benchmark '{bench.name}' names an unknown scorer '{bench.scorer}'")


def needs_ground_truth(bench: Benchmark) -> bool:
    return bench.scorer == "object-halbench"


def check_judge(bench: Benchmark, judge: JudgeSetup | None, data_dir: Path | None) -> None:
    """Before any generation: what a judged scorer needs besides the judge itself."""
    if judge is None:
        return
    if bench.scorer == "mmhal-bench":
        from halbench.mmhal_data import load_judge_prompt

        load_judge_prompt(None, data_dir)  # raises with the fix when the prompt is not prepared
    if bench.scorer == "llava-bench-wild":
        from halbench.llava_wild import load_data

        load_data(data_dir)  # the prepared files, checked against their manifest checksums


def not_judged(ctx: ScoreContext) -> ResultRecord:
    record = _pending(
        ctx,
        f"not judged: {ctx.benchmark.name} is scored by an LLM judge; give --judge-model to "
        f"halbench run, or score OUT/{ctx.benchmark.name}/answers.jsonl with halbench score",
    )
    record.protocol["status"] = "not judged"
    return record


def score(ctx: ScoreContext) -> ResultRecord:
    fn = _SCORERS.get(ctx.benchmark.scorer)
    record = _pending(ctx, PENDING[ctx.benchmark.scorer]) if fn is None else fn(ctx)
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


@register_scorer("object-halbench")
def _object_halbench(ctx: ScoreContext) -> ResultRecord:
    from halbench.answers import Answer, clean_answer
    from halbench.score import ObjectHalbenchOptions, score_object_halbench_answers

    if ctx.ground_truth is None:  # pragma: no cover - the run checks this before generating
        raise HalbenchError(f"{ctx.benchmark.name}: no ground truth given")
    answers = []
    for item in ctx.items:
        if item.image_id is None:
            raise HalbenchError(
                f"{ctx.benchmark.name}: item {item.id} has no image_id (needed for CHAIR)"
            )
        raw = ctx.answers[item.id]
        answers.append(
            Answer(item.image_id, clean_answer(raw), item.question, item_fields(item, raw))
        )
    opts = ObjectHalbenchOptions(**ctx.options)
    if ctx.judge is not None and ctx.judge.extractor == "llm":
        from halbench.score_objhal_llm import LlmExtraction, score_llm_answers

        llm = LlmExtraction(ctx.judge.config, ctx.judge.spacy_model)
        record = score_llm_answers(answers, ctx.ground_truth, opts, llm, command=ctx.command,
                                   source=ctx.benchmark.name, on_estimate=ctx.judge.on_estimate)  # fmt: skip
    else:
        record = score_object_halbench_answers(
            answers, ctx.ground_truth, opts, command=ctx.command, source=ctx.benchmark.name
        )
    return _rename(record, ctx)


@register_scorer("llava-bench")
def _llava_bench(ctx: ScoreContext) -> ResultRecord:
    from halbench.score_llava_bench import judge_llava_bench, load_questions

    if ctx.judge is None:
        return not_judged(ctx)
    by_id = {str(q["question_id"]): q for q in load_questions()}
    try:
        questions = [by_id[it.id] for it in ctx.items]
    except KeyError as exc:
        raise HalbenchError(f"{ctx.benchmark.name}: item {exc.args[0]} is not a LLaVA-Bench question id") from None  # fmt: skip
    answers = [ctx.answers[it.id] for it in ctx.items]
    record = judge_llava_bench(questions, answers, ctx.judge.config, command=ctx.command,
                               on_estimate=ctx.judge.on_estimate)  # fmt: skip
    return _rename(record, ctx)


@register_scorer("llava-bench-wild")
def _llava_bench_wild(ctx: ScoreContext) -> ResultRecord:
    from halbench.llava_wild import load_data
    from halbench.score_llava_bench import judge_llava_bench

    if ctx.judge is None:
        return not_judged(ctx)
    all_questions, data = load_data(ctx.data_dir)
    by_id = {str(q["question_id"]): q for q in all_questions}
    questions = [by_id[it.id] for it in ctx.items]  # items.jsonl was prepared from these
    answers = [ctx.answers[it.id] for it in ctx.items]
    record = judge_llava_bench(questions, answers, ctx.judge.config, command=ctx.command,
                               on_estimate=ctx.judge.on_estimate, data=data)  # fmt: skip
    return _rename(record, ctx)


@register_scorer("mmhal-bench")
def _mmhal_bench(ctx: ScoreContext) -> ResultRecord:
    from halbench.answers import clean_answer
    from halbench.score_mmhal import mmhal_record

    if ctx.judge is None:
        return not_judged(ctx)
    answers = {int(it.fields["mmhal_index"]): clean_answer(ctx.answers[it.id]) for it in ctx.items}
    record = mmhal_record(answers, ctx.judge.config, data_dir=ctx.data_dir, command=ctx.command,
                          on_estimate=ctx.judge.on_estimate)  # fmt: skip
    return _rename(record, ctx)


def _rename(record: ResultRecord, ctx: ScoreContext) -> ResultRecord:
    record.benchmark = ctx.benchmark.name
    record.benchmark_version = ctx.benchmark_version
    return record


@register_scorer("vqav2")
def _vqav2(ctx: ScoreContext) -> ResultRecord:
    from halbench.score_vqav2 import load_annotations, vqav2_record

    ann_path = ctx.manifest.get("annotations")
    if not ann_path:  # test-dev: the answers are only for the evaluation server
        return _pending(
            ctx,
            "no public annotations for these questions (e.g. test-dev): submit with halbench export vqav2-testdev",
        )
    by_id = {q.question_id: q for q in load_annotations(ann_path)}
    try:  # in item order (prepared in annotation order), so records line up with items
        questions = [by_id[int(it.fields["question_id"])] for it in ctx.items]
    except KeyError as exc:
        raise HalbenchError(
            f"{ctx.benchmark.name}: question {exc.args[0]} is not in {ann_path}"
        ) from None
    texts = {
        int(it.fields["question_id"]): {
            "question": it.fields.get("raw_question", it.question),
            "image_id": it.image_id,
        }
        for it in ctx.items
    }
    preds = {int(it.fields["question_id"]): ctx.answers[it.id] for it in ctx.items}
    record = vqav2_record(questions, texts, preds, source=ctx.benchmark.name, command=ctx.command)
    return _rename(record, ctx)


@register_scorer("pope")
def _pope(ctx: ScoreContext) -> ResultRecord:
    from halbench.score_pope import pope_record

    splits: dict[str, tuple[list[dict[str, Any]], list[str]]] = {}
    for it in ctx.items:
        qs, ans = splits.setdefault(str(it.fields["split"]), ([], []))
        qs.append({"question_id": it.fields["question_id"], "label": it.fields["label"], "text": it.fields.get("raw_question", it.question), "image": it.fields.get("coco_image")})  # fmt: skip
        ans.append(ctx.answers[it.id])
    record = pope_record(
        [(name, qs, ans, "item") for name, (qs, ans) in splits.items()], command=ctx.command
    )
    return _rename(record, ctx)


@register_scorer("amber")
def _amber(ctx: ScoreContext) -> ResultRecord:
    from halbench.score_amber import amber_record

    responses = [(int(it.fields["amber_id"]), ctx.answers[it.id], None) for it in ctx.items]
    return _rename(amber_record(responses, command=ctx.command), ctx)


def _pending(ctx: ScoreContext, reason: str) -> ResultRecord:
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
