"""``halbench score llava-bench``: LLaVA-Bench answers judged against GPT-4's, with any judge.

COCO (shipped data) by default; In-the-Wild passes its prepared data (``benchmarks.llava_bench_in_the_wild.prepare``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks.llava_bench_coco.metrics import (
    SYSTEM,
    context_text,
    parse_score,
    relative_scores,
    review_content,
)
from halbench import scorers
from halbench.answers import align_answers
from halbench.errors import HalbenchError
from halbench.io import answer_lines, file_sha256, read_json, read_jsonl, read_records
from halbench.judges import JudgeClient, JudgeConfig, JudgeRequest
from halbench.judges.cli import add_judge_flags, judge_config, print_estimate
from halbench.provenance import now_utc
from halbench.registry import definition
from halbench.types import InputFile, ResultRecord, UnscoredItem

LLAVA_BENCH = "llava-bench-coco"
PROMPT_VERSION = "llava-eval_gpt_review_visual@8959d5c+rule.json@181a2f8"
Failures = Literal["unscored", "llava-minus-one"]


DATA = Path(__file__).resolve().parent / "data"


def _resource(name: str) -> Path:
    return DATA / name


def load_answers(path: str | Path, questions: list[dict[str, Any]]) -> tuple[list[str], str]:
    """Answer texts in question order, and how they were matched (``halbench.answers.align_answers``):
    by ``question_id`` when the lines have one, by line position (like LLaVA) when none has."""
    records = read_records(path)
    rows = answer_lines(records, path, ("text", "answer"))
    ids = [q["question_id"] for q in questions]
    texts, alignment = align_answers(path, rows, ids, array=records.kind == "array")
    return [t for t in texts if t is not None], alignment


def score_llava_bench(
    answers_path: str | Path,
    judge: JudgeConfig,
    *,
    failures: Failures = "unscored",
    max_tokens: int = 1024,
    command: list[str] | None = None,
    on_estimate: Callable[[dict[str, Any]], None] | None = None,
    questions: list[dict[str, Any]] | None = None,
    data: BenchData | None = None,
) -> ResultRecord:
    """Score an answer file: COCO's 90 questions, or ``questions`` + ``data`` (In-the-Wild)."""
    questions = load_questions() if questions is None else questions
    answers, alignment = load_answers(answers_path, questions)
    inputs = [InputFile(path=str(answers_path), sha256=file_sha256(answers_path), role="answers")]
    return judge_llava_bench(
        questions,
        answers,
        judge,
        failures=failures,
        max_tokens=max_tokens,
        alignment=alignment,
        inputs=inputs,
        command=command,
        on_estimate=on_estimate,
        data=data,
    )


def load_questions() -> list[dict[str, Any]]:
    return [rec for _, rec in read_jsonl(_resource("qa90_questions.jsonl"))]


@dataclass(frozen=True)
class BenchData:
    """What the judge request needs besides the question and answer, per LLaVA-Bench variant."""

    benchmark: str
    version: str
    prompt_version: str
    references: dict[Any, str]  # question_id -> GPT-4's reference answer
    contexts: dict[str, str]  # image -> the [Context] text
    rule_prefix: str = ""  # In-the-Wild: "llava_bench_" + category
    scorer: str = "llava-bench"  # the leaderboard keys its columns by this
    inputs: list[InputFile] = field(default_factory=list)  # data files, with their sha256
    protocol: dict[str, Any] = field(default_factory=dict)  # extra protocol fields


def coco_data() -> BenchData:
    refs = {
        rec["question_id"]: rec["text"]
        for _, rec in read_jsonl(_resource("qa90_gpt4_answer.jsonl"))
    }
    contexts = {
        rec["image"]: context_text(rec)
        for _, rec in read_jsonl(_resource("caps_boxes_coco2014_val_80.jsonl"))
    }
    return BenchData(LLAVA_BENCH, definition(__file__).version, PROMPT_VERSION, refs, contexts)


def judge_llava_bench(
    questions: list[dict[str, Any]],
    answers: list[str],
    judge: JudgeConfig,
    *,
    failures: Failures = "unscored",
    max_tokens: int = 1024,
    alignment: str = "item",
    inputs: list[InputFile] | None = None,
    command: list[str] | None = None,
    on_estimate: Callable[[dict[str, Any]], None] | None = None,
    data: BenchData | None = None,
) -> ResultRecord:
    """Judge ``answers`` to ``questions`` (aligned lists; COCO's 90 unless ``data`` says otherwise)."""
    started, t0 = now_utc(), time.perf_counter()
    data = data or coco_data()
    rules = read_json(_resource("rule.json"))
    requests = []
    for q, ans in zip(questions, answers, strict=True):
        rule = rules[data.rule_prefix + q["category"]]
        content = review_content(
            data.contexts[q["image"]], q["text"], data.references[q["question_id"]], ans, rule
        )
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}]
        requests.append(
            JudgeRequest(
                str(q["question_id"]), messages, {"temperature": 0.2, "max_tokens": max_tokens}
            )
        )
    client = JudgeClient(judge)
    if on_estimate is not None:
        on_estimate(client.estimate(requests))
    results = client.run(requests)
    items, unscored, scored = [], [], []
    for index, (q, ans, res) in enumerate(zip(questions, answers, results, strict=True)):
        item = {
            "question_id": q["question_id"],
            "category": q["category"],
            "image": q["image"],
            "question": q["text"],
            "answer": ans,
            "review": res.content,
            "judge_model_returned": res.returned_model,
        }
        pair = parse_score(res.content) if res.content is not None else None
        if pair is None:
            reason = (
                f"judge call failed: {res.error}"
                if res.content is None
                else "judge reply has no score pair on its first line"
            )
            item["unscored"] = reason
            unscored.append(UnscoredItem(index=index, reason=reason))
            if failures == "llava-minus-one":  # LLaVA's summarizer keeps [-1, -1] in the means
                scored.append((q["category"], (-1.0, -1.0)))
        else:
            item["scores"] = list(pair)
            scored.append((q["category"], pair))
        items.append(item)
    reported = relative_scores(scored)
    unscored_by_category: dict[str, int] = {}
    for u in unscored:
        cat = questions[u.index]["category"]
        unscored_by_category[cat] = unscored_by_category.get(cat, 0) + 1
    relative = {}
    for cat in reported:
        pairs = [p for c, p in scored if c == cat or cat == "all"]
        ref_sum = sum(p[0] for p in pairs)
        relative[cat] = (sum(p[1] for p in pairs) / ref_sum) if ref_sum else None
    judge_info = client.describe()
    client.close()
    prompt_sha = hashlib.sha256(json.dumps([SYSTEM, rules], sort_keys=True).encode()).hexdigest()
    return scorers.build_record(
        benchmark=data.benchmark,
        benchmark_version=data.version,
        protocol={
            "scorer": data.scorer,
            "mode": "parity" if failures == "unscored" else "llava-minus-one",
            "failures": failures,
            "judge_model": judge.model,
            "prompt_version": data.prompt_version,
            "prompt_sha256": prompt_sha,
            "alignment": alignment,
            **data.protocol,
        },
        metrics={
            "relative": relative,
            **{f"relative_{cat}": value for cat, value in relative.items()},  # leaderboard columns
            "reported": reported,
            "n_judged": len(items) - len(unscored),
            "n_unscored_by_category": unscored_by_category,
        },
        not_computable={} if scored else {"relative": "no item was judged"},
        n_items=len(items),
        unscored=unscored,
        items=items,
        started=(started, t0),
        inputs=[*(inputs or []), *data.inputs],
        command=command,
        details={"judge": judge_info},
    )


def score_run(ctx: scorers.ScoreContext) -> ResultRecord:
    """Score the answers of a ``halbench run``."""

    if ctx.judge is None:
        return scorers.not_judged(ctx)
    by_id = {str(q["question_id"]): q for q in load_questions()}
    try:
        questions = [by_id[it.id] for it in ctx.items]
    except KeyError as exc:
        raise HalbenchError(
            f"{ctx.benchmark.name}: item {exc.args[0]} is not a LLaVA-Bench question id"
        ) from None
    answers = [ctx.answers[it.id] for it in ctx.items]
    record = judge_llava_bench(
        questions, answers, ctx.judge.config, command=ctx.command, on_estimate=ctx.judge.on_estimate
    )
    return scorers.finish(record, ctx)


# --------------------------------------------------------------------------- CLI

TITLE = "LLaVA-Bench (COCO): relative score against GPT-4's answers, with an LLM judge"
DESCRIPTION = (
    "Judge answers to LLaVA-Bench's 90 COCO questions against GPT-4's reference answers, "
    "exactly as LLaVA's eval_gpt_review_visual.py asks and summarize_gpt_review.py aggregates "
    "(relative score = ratio of mean scores, per category). A reply without a score pair, or a "
    "failed call, makes the item unscored (RLHF-V's summarizer skips them too)."
)
EPILOG = (
    "example:\n  halbench score llava-bench --answers runs/m/llava-bench-coco/answers.jsonl \\\n"
    "      --judge-model gpt-4o-2024-11-20 --output llava-bench.json"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``halbench score llava-bench-coco`` flags (``--output`` is the framework's)."""
    parser.add_argument(
        "--answers",
        required=True,
        help="JSONL with question_id (or one line per question in order) and text/answer",
    )
    parser.add_argument(
        "--failures",
        choices=["unscored", "llava-minus-one"],
        default="unscored",
        help="unscored (default; RLHF-V) or llava-minus-one (LLaVA's summarizer averages in [-1, -1])",
    )
    parser.add_argument(
        "--judge-max-tokens", type=int, default=1024, help="LLaVA: 1024; RLHF-V: 180"
    )

    add_judge_flags(parser)


def judge_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments both LLaVA-Bench sets take from the command line."""
    return {
        "failures": args.failures,
        "max_tokens": args.judge_max_tokens,
        "command": args.argv,
        "on_estimate": print_estimate,
    }


def score_command(args: argparse.Namespace) -> ResultRecord:
    judge = judge_config(args, Path(args.output).parent)
    return score_llava_bench(args.answers, judge, **judge_options(args))


def format_table(record: ResultRecord) -> str:
    rep = record.metrics.get("reported", {})
    title = (
        "LLaVA-Bench (In-the-Wild)"
        if record.protocol.get("scorer") == "llava-bench-wild"
        else "LLaVA-Bench (COCO)"
    )
    lines = [
        f"{title}, judge {record.protocol.get('judge_model')}: {record.n_scored} judged, "
        f"{record.n_unscored} unscored ({record.protocol.get('failures')})",
        f"  {'category':<10}{'relative':>10}{'GPT-4 mean':>12}{'model mean':>12}{'n':>5}",
    ]
    for cat, r in rep.items():
        lines.append(
            f"  {cat:<10}{r['relative'] if r['relative'] is not None else 'n/a':>10}{r['reference_mean']:>12}{r['model_mean']:>12}{r['n']:>5}"
        )
    if (
        record.protocol.get("n_string_captions")
        and record.protocol.get("string_caption") == "llava"
    ):
        lines.append(
            f"  note: {record.protocol['n_string_captions']} image caption(s) are plain strings, joined one "
            "character per line as LLaVA's script does (--string-caption as-is sends them unchanged)"
        )
    return "\n".join(lines)


def headline(record: ResultRecord) -> str:
    """The run summary's headline: the overall relative score, as LLaVA's summarizer prints it."""
    rel = record.metrics.get("reported", {}).get("all", {}).get("relative")
    return f"relative score {'n/a' if rel is None else rel}"
