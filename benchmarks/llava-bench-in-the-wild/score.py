"""LLaVA-Bench (In-the-Wild) scoring: the judge request of LLaVA 181a2f8's eval_gpt_review_bench.py."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.llava_bench_coco import score as coco
from benchmarks.llava_bench_coco.score import judge_llava_bench
from halbench import scorers
from halbench.judges import JudgeConfig
from halbench.judges.cli import judge_config
from halbench.types import ResultRecord

from .prepare import STRING_CAPTION, load_data


def check_judge(data_dir: Path | None) -> None:
    """Before generating: the prepared files, checked against their manifest checksums."""
    load_data(data_dir)


def score_run(ctx: scorers.ScoreContext) -> ResultRecord:
    """Score the answers of a ``halbench run``."""
    if ctx.judge is None:
        return scorers.not_judged(ctx)
    all_questions, data = load_data(ctx.data_dir)
    by_id = {str(q["question_id"]): q for q in all_questions}
    questions = [by_id[it.id] for it in ctx.items]  # items.jsonl was prepared from these
    answers = [ctx.answers[it.id] for it in ctx.items]
    record = judge_llava_bench(
        questions,
        answers,
        ctx.judge.config,
        command=ctx.command,
        on_estimate=ctx.judge.on_estimate,
        data=data,
    )
    return scorers.finish(record, ctx)


def score_llava_bench_wild(
    answers_path: str | Path,
    judge: JudgeConfig,
    *,
    data_dir: Path | None = None,
    string_caption: str = "llava",
    on_estimate: Callable[[dict[str, Any]], None] | None = None,
    **options: Any,
) -> ResultRecord:
    questions, data = load_data(data_dir, string_caption=string_caption)
    return coco.score_llava_bench(
        answers_path, judge, questions=questions, data=data, on_estimate=on_estimate, **options
    )


# --------------------------------------------------------------------------- CLI

TITLE = "LLaVA-Bench (In-the-Wild): relative score against GPT-4's answers, with an LLM judge"
DESCRIPTION = (
    "Judge answers to LLaVA-Bench (In-the-Wild)'s 60 questions against GPT-4's reference answers "
    "with the request of LLaVA 181a2f8's eval_gpt_review_bench.py, aggregated like "
    "summarize_gpt_review.py (relative score = ratio of mean scores, per category). Prepare the "
    "data first: halbench data prepare llava-bench-in-the-wild --from DIR."
)
EPILOG = (
    "example:\n  halbench score llava-bench-in-the-wild --answers runs/m/llava-bench-in-the-wild/answers.jsonl \\\n"
    "      --judge-model gpt-4o-2024-11-20 --output wild.json"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """LLaVA-Bench (COCO)'s flags, and where the prepared data is and how captions are sent."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="prepared data root (default: $HALBENCH_HOME/data)",
    )
    parser.add_argument(
        "--string-caption",
        choices=STRING_CAPTION,
        default="llava",
        help="a caption that is a plain string: llava (default) joins it like LLaVA, one "
        "character per line; as-is sends it unchanged",
    )
    coco.add_arguments(parser)


def score_command(args: argparse.Namespace) -> ResultRecord:
    judge = judge_config(args, Path(args.output).parent)
    options = coco.judge_options(args)
    return score_llava_bench_wild(
        args.answers, judge, data_dir=args.data_dir, string_caption=args.string_caption, **options
    )


format_table = coco.format_table
headline = coco.headline
