"""``halbench score mmhal-bench``: MMHal-Bench answers rated 0-6 by an LLM judge."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.mmhal_bench.metrics import (
    Failures,
    aggregate,
    judge_prompt,
    parse_rating,
    ratings_found,
    reported,
)
from benchmarks.mmhal_bench.mmhal_data import (
    N_QUESTIONS,
    judge_prompt_dir,
    load_judge_prompt,
    load_template,
)
from halbench import scorers
from halbench.answers import align_answers, clean_answer
from halbench.errors import InputError
from halbench.io import (
    answer_lines,
    file_sha256,
    read_records,
)
from halbench.judges import JudgeClient, JudgeConfig, JudgeRequest
from halbench.judges.cli import add_judge_flags, judge_config, print_estimate
from halbench.provenance import now_utc
from halbench.registry import definition
from halbench.types import Fraction, InputFile, ResultRecord, UnscoredItem

MMHAL = "mmhal-bench"
_FIELDS = ("text", "answer", "model_answer")


def load_answers(path: str | Path) -> tuple[dict[int, str], str]:
    """Template index -> cleaned answer, and how they were matched.

    A JSON list (LLaVA-RLHF's response file: the template with ``model_answer`` filled)
    or JSONL lines are merged **by index** like the reference (96 of them) when no record
    has a ``question_id``; when they have one (0..95), ids decide
    (``halbench.answers.align_answers``).
    """
    path = Path(path)
    records = read_records(path)  # a JSON list or JSONL, told apart by content
    rows: list[tuple[int, Any, str]] = []
    if records.kind == "array":
        for i, (line, rec) in enumerate(records.rows):
            name = next((f for f in ("model_answer", "text", "answer") if f in rec), None)
            if name is None or not isinstance(rec[name], str):
                raise InputError(
                    str(path),
                    f"record {i}: no string model_answer/text/answer",
                    line=line,
                    field="model_answer",
                )
            rows.append((line, rec.get("question_id"), rec[name]))
    elif records.kind == "object":
        raise InputError(
            str(path),
            f"expected a JSON list of {N_QUESTIONS} records or JSONL, got one JSON object",
        )
    else:
        rows = answer_lines(records, path, _FIELDS)
    if not rows:
        raise InputError(str(path), "no answers in file")
    texts, how = align_answers(
        path, rows, range(N_QUESTIONS), allow_missing=True, array=records.kind == "array"
    )
    return {i: clean_answer(t) for i, t in enumerate(texts) if t is not None}, how


def mmhal_record(
    answers: dict[int, str],
    judge: JudgeConfig,
    *,
    failures: Failures = "unscored",
    judge_prompt_file: Path | None = None,
    data_dir: Path | None = None,
    max_tokens: int | None = 512,
    alignment: str = "item",
    questions: Sequence[int] | None = None,
    inputs: Sequence[InputFile] = (),
    command: list[str] | None = None,
    on_estimate: Callable[[dict[str, Any]], None] | None = None,
) -> ResultRecord:
    """Judge ``answers`` (template index -> text); ``questions`` without an answer are unscored."""
    started, t0 = now_utc(), time.perf_counter()
    template, prompt_info = load_judge_prompt(judge_prompt_file, data_dir)
    records = load_template()
    params: dict[str, Any] = {"temperature": 0.0}
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    indices = sorted(answers)
    requests = [
        JudgeRequest(
            str(i),
            [{"role": "user", "content": judge_prompt(template, records[i], answers[i])}],
            params,
        )
        for i in indices
    ]
    client = JudgeClient(judge)
    if on_estimate is not None:
        on_estimate(client.estimate(requests))
    results = dict(zip(indices, client.run(requests), strict=True))
    judge_info = client.describe()
    client.close()
    items, unscored, scores, types = [], [], [], []
    n_parity_zero = 0
    for i in sorted(set(indices) | set(questions or ())):
        rec, res = records[i], results.get(i)
        if res is None:
            reason = "no answer in the answer file"
            items.append(
                {
                    "index": i,
                    "question_type": rec["question_type"],
                    "question": rec["question"],
                    "unscored": reason,
                }
            )
            unscored.append(UnscoredItem(index=len(items) - 1, reason=reason))
            scores.append(None)
            types.append(rec["question_type"])
            continue
        item = {
            "index": i,
            "question_type": rec["question_type"],
            "question_topic": rec["question_topic"],
            "image_id": rec["image_id"],
            "question": rec["question"],
            "answer": answers[i],
            "review": res.content,
            "judge_model_returned": res.returned_model,
        }
        score: int | None = None
        if res.content is None:
            reason = f"judge call failed: {res.error}"
        else:
            found = ratings_found(res.content)
            item["ratings_found"] = found
            score = parse_rating(res.content)
            reason = (
                ""
                if score is not None
                else (
                    "judge reply has no 'rating: N'"
                    if not found
                    else f"judge reply has several ratings {found}"
                )
            )
            if score is None and failures == "parity":
                item["parity_score_0"] = f"reference rule: {reason} -> score 0"
                score, reason = 0, ""
                n_parity_zero += 1
        if score is None:
            item["unscored"] = reason
            unscored.append(UnscoredItem(index=len(items), reason=reason))
        else:
            item["rating"] = score
            item["hallucination"] = score < 3
        scores.append(score)
        types.append(rec["question_type"])
        items.append(item)
    metrics = aggregate(scores, types)
    overall = metrics["overall"]
    fractions, not_computable = {}, {}
    if overall["n"]:
        fractions = {
            "hallucination_rate": Fraction(
                numerator=overall["hallucinated"], denominator=overall["n"]
            ),
            "informativeness": Fraction(
                numerator=overall["informativeness_points"], denominator=3 * overall["n"]
            ),
            "average_score_0_6": Fraction(numerator=overall["score_sum"], denominator=overall["n"]),
        }
    else:
        not_computable = {
            "average_score": "no item was judged",
            "hallucination_rate": "no item was judged",
        }
    for name in ("average_score", "hallucination_rate", "informativeness"):  # headline copies
        metrics[name] = overall[name]
    metrics["reported"] = reported(metrics)
    metrics["n_parity_score_0"] = n_parity_zero
    mode = "parity" if failures == "parity" else "unscored"
    return scorers.build_record(
        benchmark=MMHAL,
        benchmark_version=definition(__file__).version,
        protocol={
            "scorer": "mmhal-bench",
            "mode": mode,
            "failures": failures,
            "failures_note": "parity: no/several ratings score 0 as in eval_gpt_mmhal.py"
            if mode == "parity"
            else "no/several ratings: unscored (halbench default; the reference scores 0)",
            "judge_model": judge.model,
            "judge_params": params,
            "alignment": alignment,
            **prompt_info,
        },
        metrics=metrics,
        fractions=fractions,
        not_computable=not_computable,
        n_items=len(items),
        unscored=unscored,
        items=items,
        started=(started, t0),
        inputs=list(inputs),
        command=command,
        details={"judge": judge_info},
    )


def score_mmhal_bench(answers_path: str | Path, judge: JudgeConfig, **kwargs: Any) -> ResultRecord:
    answers, alignment = load_answers(answers_path)
    inputs = [InputFile(path=str(answers_path), sha256=file_sha256(answers_path), role="answers")]
    return mmhal_record(
        answers, judge, alignment=alignment, questions=range(N_QUESTIONS), inputs=inputs, **kwargs
    )


def check_judge(data_dir: Path | None) -> None:
    """Before generating: the judge prompt must be prepared (raises with the fix)."""
    load_judge_prompt(None, data_dir)


def score_run(ctx: scorers.ScoreContext) -> ResultRecord:
    """Score the answers of a ``halbench run``."""

    from halbench.answers import clean_answer

    if ctx.judge is None:
        return scorers.not_judged(ctx)
    answers = {int(it.fields["mmhal_index"]): clean_answer(ctx.answers[it.id]) for it in ctx.items}
    record = mmhal_record(
        answers,
        ctx.judge.config,
        data_dir=ctx.data_dir,
        command=ctx.command,
        on_estimate=ctx.judge.on_estimate,
    )
    return scorers.finish(record, ctx)


# --------------------------------------------------------------------------- CLI

TITLE = "MMHal-Bench: LLM-judge ratings 0-6, hallucination rate, informativeness"
DESCRIPTION = (
    "Rate answers to MMHal-Bench's 96 questions with LLaVA-RLHF's judge prompt, parsed as "
    "eval_gpt_mmhal.py does (exactly one distinct 'rating: N' substring). A reply with none or several "
    "ratings, or a failed call, makes the item unscored; --failures parity scores such replies 0 as "
    "the reference does (labelled). The prompt is GPL-3.0 and not shipped: prepare it with "
    "halbench data prepare mmhal-bench --judge-prompt-from eval_gpt_mmhal.py, or give --judge-prompt."
)
EPILOG = (
    "example:\n  halbench score mmhal-bench --answers runs/m/mmhal-bench/answers.jsonl \\\n"
    "      --judge-model gpt-4o-2024-11-20 --output mmhal.json"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``halbench score mmhal-bench`` flags (``--output`` is the framework's)."""
    parser.add_argument(
        "--answers",
        required=True,
        help="JSONL (text/answer/model_answer; question_id 0..95 or one line per question in order) "
        "or LLaVA-RLHF's response JSON (the template with model_answer filled)",
    )
    parser.add_argument(
        "--failures",
        choices=["unscored", "parity"],
        default="unscored",
        help="replies with no or several ratings: unscored (default) or parity (score 0, as the reference)",
    )
    parser.add_argument(
        "--judge-prompt",
        type=Path,
        metavar="FILE",
        help="a template of your own with four {} slots (recorded as non-parity with its sha256)",
    )
    parser.add_argument(
        "--judge-max-tokens",
        type=int,
        default=512,
        help="RLHF-V/RLAIF-V: 512 (default); LLaVA-RLHF sent none (0 = none)",
    )
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help="prepared data root")
    add_judge_flags(parser)


def score_command(args: argparse.Namespace) -> ResultRecord:
    judge = judge_config(args, Path(args.output).parent)
    return score_mmhal_bench(
        args.answers,
        judge,
        failures=args.failures,
        judge_prompt_file=args.judge_prompt,
        data_dir=args.data_dir,
        max_tokens=args.judge_max_tokens or None,
        command=args.argv,
        on_estimate=print_estimate,
    )


def format_table(record: ResultRecord) -> str:
    m, rep = record.metrics, record.metrics.get("reported", {})
    mode = record.protocol.get("failures")
    parity = m.get("n_parity_score_0", 0)
    lines = [
        f"MMHal-Bench, judge {record.protocol.get('judge_model')} (prompt {record.protocol.get('prompt_version')}): "
        f"{record.n_scored} rated, {record.n_unscored} unscored"
        + (
            f", {parity} scored 0 by the reference rule (--failures parity)"
            if mode == "parity"
            else ""
        ),
        f"  average score {rep.get('average_score')} (0-6)   hallucination rate {rep.get('hallucination_rate')}"
        f"   informativeness {rep.get('informativeness')}",
        f"  {'type':<13}{'avg':>6}{'hall.':>7}{'n':>4}{'unscored':>10}",
    ]
    for t, g in m.get("per_type", {}).items():
        avg = "n/a" if g["average_score"] is None else f"{g['average_score']:.2f}"
        hall = "n/a" if g["hallucination_rate"] is None else f"{g['hallucination_rate']:.2f}"
        lines.append(f"  {t:<13}{avg:>6}{hall:>7}{g['n']:>4}{g['n_unscored']:>10}")
    return "\n".join(lines)


def doctor_lines() -> list[str]:
    """``halbench doctor``: is the (GPL-3.0, not shipped) judge prompt prepared?"""
    prompt = judge_prompt_dir() / "template.txt"
    if prompt.is_file():
        return [f"  [ok] MMHal-Bench judge prompt: {prompt}"]
    return [
        "  [--] MMHal-Bench judge prompt: not prepared (GPL-3.0, not shipped);",
        "       fix: halbench data prepare mmhal-bench --judge-prompt-from eval_gpt_mmhal.py",
    ]
