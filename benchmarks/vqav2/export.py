"""``halbench export vqav2-testdev``: the EvalAI submission file for VQAv2 test-dev."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from halbench.errors import InputError
from halbench.io import atomic_write_text, read_jsonl


def export_vqav2_testdev(answers: str | Path, questions: str | Path, output: str | Path) -> int:
    """Write the EvalAI submission (``[{"question_id", "answer"}]``) for every question in ``questions``.

    ``answers`` is a run's ``vqav2/answers.jsonl`` (``question_id`` + ``answer``). Answers
    are stripped and otherwise sent as generated (the server applies the official metric).
    """
    from benchmarks.vqav2.score import load_questions

    wanted = load_questions(questions)
    got: dict[int, str] = {}
    for number, rec in read_jsonl(answers):
        qid = rec.get("question_id")
        if (
            not isinstance(qid, int)
            or isinstance(qid, bool)
            or not isinstance(rec.get("answer"), str)
        ):
            raise InputError(
                str(answers),
                'each line needs an integer "question_id" and a string "answer"',
                line=number,
            )
        got[qid] = rec["answer"].strip()
    missing = [qid for qid in wanted if qid not in got]
    if missing:
        raise InputError(
            str(answers),
            f"{len(missing)} of {len(wanted)} questions have no answer, e.g. {missing[:5]}",
        )
    extra = sorted(set(got) - set(wanted))
    if extra:
        raise InputError(
            str(answers),
            f"{len(extra)} answers are for questions not in {questions}, e.g. {extra[:5]}",
        )
    atomic_write_text(
        output, json.dumps([{"question_id": qid, "answer": got[qid]} for qid in wanted])
    )
    return len(wanted)


# --------------------------------------------------------------------------- CLI

DESCRIPTION = (
    "vqav2-testdev: the EvalAI submission file from a run's vqav2/answers.jsonl, checked "
    "against the test-dev question file (every question answered, no others)."
)
EPILOG = (
    "example:\n  halbench export vqav2-testdev --answers runs/m/vqav2/answers.jsonl \\\n"
    "      --questions v2_OpenEnded_mscoco_test-dev2015_questions.json --output submission.json"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--answers", required=True, type=Path, help="a run's vqav2/answers.jsonl")
    parser.add_argument(
        "--questions", required=True, type=Path, help="the official test-dev questions JSON"
    )
    parser.add_argument(
        "--output", required=True, type=Path, metavar="OUT.json", help="the submission file"
    )


def export_command(args: argparse.Namespace) -> int:
    n = export_vqav2_testdev(args.answers, args.questions, args.output)
    print(f"wrote {n} answers to {args.output}")
    return 0
