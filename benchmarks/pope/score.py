"""``halbench score pope``: POPE question/label files + answers in, a ``ResultRecord`` out.

Several splits can be scored at once (``--questions`` and ``--answers`` given as pairs, in
the same order); the record then has every split and the macro mean of the split metrics
(what LLaVA-1.5 reports as the mean of the three F1s). Answers are matched to questions
by ``question_id`` (the reference zips by line position; a file with no ``question_id``
at all is matched that way too, when the lengths agree).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks.pope.metrics import Mode, parse_reference, parse_strict, pope_metrics
from halbench import scorers
from halbench.answers import align_answers
from halbench.display import pct
from halbench.errors import HalbenchError, InputError
from halbench.io import answer_lines, describe_type, file_sha256, read_jsonl, read_records
from halbench.provenance import now_utc
from halbench.registry import definition
from halbench.types import Fraction, InputFile, ResultRecord, UnscoredItem

POPE = "pope"
_AVERAGED = ("accuracy", "precision", "recall", "f1", "yes_ratio")


def split_name(path: str | Path) -> str:
    stem = Path(path).name.split(".")[0]
    return stem.removeprefix("coco_pope_")


def load_questions(path: str | Path) -> list[dict[str, Any]]:
    out, seen = [], set()
    for number, rec in read_jsonl(path):
        for key, kind in (("question_id", int), ("label", str)):
            if key not in rec:
                raise InputError(str(path), f'missing "{key}"', line=number, field=key)
            if not isinstance(rec[key], kind) or isinstance(rec[key], bool):
                raise InputError(
                    str(path),
                    f'"{key}" must be {"an integer" if kind is int else "a string"}, got {describe_type(rec[key])}',
                    line=number,
                    field=key,
                )
        if rec["question_id"] in seen:
            raise InputError(
                str(path),
                f"duplicate question_id {rec['question_id']}",
                line=number,
                field="question_id",
            )
        seen.add(rec["question_id"])
        out.append(rec)
    if not out:
        raise InputError(str(path), "no questions")
    return out


def load_answers(path: str | Path, questions: list[dict[str, Any]]) -> tuple[list[str], str]:
    """Answer texts aligned with ``questions``, and how they were aligned."""
    records = read_records(path)
    rows = answer_lines(records, path, ("answer", "text"))
    ids = [q["question_id"] for q in questions]
    texts, how = align_answers(path, rows, ids, array=records.kind == "array")
    return [t for t in texts if t is not None], how


def score_pope(
    pairs: list[tuple[str | Path, str | Path]],
    *,
    mode: Mode = "parity",
    command: list[str] | None = None,
) -> ResultRecord:
    """Score ``(questions_file, answers_file)`` pairs, one per split."""
    started, t0 = now_utc(), time.perf_counter()
    splits = []
    inputs: list[InputFile] = []
    names: set[str] = set()
    for q_path, a_path in pairs:
        name = split_name(q_path)
        if name in names:
            raise InputError(str(q_path), f"split '{name}' given twice")
        names.add(name)
        questions = load_questions(q_path)
        answers, how = load_answers(a_path, questions)
        splits.append((name, questions, answers, how))
        inputs += [
            InputFile(path=str(q_path), sha256=file_sha256(q_path), role=f"questions:{name}"),
            InputFile(path=str(a_path), sha256=file_sha256(a_path), role=f"answers:{name}"),
        ]
    return pope_record(splits, mode=mode, inputs=inputs, command=command, started=(started, t0))


def pope_record(
    splits: list[tuple[str, list[dict[str, Any]], list[str], str]],
    *,
    mode: Mode = "parity",
    inputs: list[InputFile] | None = None,
    command: list[str] | None = None,
    started: tuple[str, float] | None = None,
) -> ResultRecord:
    """``splits``: (name, questions with question_id/label, aligned answers, alignment)."""
    started_at, t0 = started or (now_utc(), time.perf_counter())
    parse = parse_reference if mode == "parity" else parse_strict
    per_split: dict[str, dict[str, Any]] = {}
    items: list[dict[str, Any]] = []
    unscored: list[UnscoredItem] = []
    not_computable: dict[str, str] = {}
    fractions: dict[str, Fraction] = {}
    alignment = {}
    for name, questions, answers, how in splits:
        alignment[name] = how
        parsed = [parse(a) for a in answers]
        result = pope_metrics(parsed, [q["label"] for q in questions])
        per_split[name] = dict(result.metrics)
        for metric, reason in result.not_computable.items():
            not_computable[f"{name}.{metric}"] = reason
        c = result.counts
        fractions[f"{name}.accuracy"] = Fraction(
            numerator=c["tp"] + c["tn"], denominator=c["scored"]
        )
        fractions[f"{name}.precision"] = Fraction(numerator=c["tp"], denominator=c["tp"] + c["fp"])
        fractions[f"{name}.recall"] = Fraction(numerator=c["tp"], denominator=c["tp"] + c["fn"])
        fractions[f"{name}.yes_ratio"] = Fraction(numerator=c["yes"], denominator=c["scored"])
        for q, answer, pred in zip(questions, answers, parsed, strict=True):
            item = {
                "split": name,
                "question_id": q["question_id"],
                "image": q.get("image"),
                "question": q.get("text"),
                "answer": answer,
                "parsed": pred,
                "label": q["label"],
            }
            if pred is None:
                reason = "answer is neither an explicit yes nor no (strict mode)"
                item["unscored"] = reason
                unscored.append(UnscoredItem(index=len(items), reason=reason))
            items.append(item)
    metrics: dict[str, Any] = {"splits": per_split}
    if len(per_split) == 1:
        (only,) = per_split.values()
        metrics.update(only)
    else:
        for metric in _AVERAGED:
            values = [s[metric] for s in per_split.values()]
            if any(v is None for v in values):
                metrics[metric] = None
                not_computable[metric] = "undefined in at least one split"
            else:
                metrics[metric] = sum(values) / len(values)
        metrics["n_scored"] = sum(s["n_scored"] for s in per_split.values())
        metrics["n_unscored"] = sum(s["n_unscored"] for s in per_split.values())
        metrics["averaged"] = "macro mean over splits: " + ", ".join(per_split)
    return scorers.build_record(
        benchmark=POPE,
        benchmark_version=definition(__file__).version,
        protocol={
            "scorer": "pope",
            "mode": mode,
            "reference_comparable": mode == "parity",
            "alignment": alignment,
        },
        metrics=metrics,
        fractions=fractions,
        not_computable=not_computable,
        n_items=len(items),
        unscored=unscored,
        items=items,
        started=(started_at, t0),
        inputs=inputs or [],
        command=command,
    )


def score_run(ctx: scorers.ScoreContext) -> ResultRecord:
    """Score the answers of a ``halbench run``."""

    splits: dict[str, tuple[list[dict[str, Any]], list[str]]] = {}
    for it in ctx.items:
        qs, ans = splits.setdefault(str(it.fields["split"]), ([], []))
        qs.append(
            {
                "question_id": it.fields["question_id"],
                "label": it.fields["label"],
                "text": it.fields.get("raw_question", it.question),
                "image": it.fields.get("coco_image"),
            }
        )
        ans.append(ctx.answers[it.id])
    record = pope_record(
        [(name, qs, ans, "item") for name, (qs, ans) in splits.items()], command=ctx.command
    )
    return scorers.finish(record, ctx)


# --------------------------------------------------------------------------- CLI

TITLE = "POPE yes/no object questions (reference parsing, or strict)"
DESCRIPTION = (
    "Score POPE answers. parity: the reference evaluate.py parser (first sentence, no "
    "commas, 'No'/'no'/'not' means no, anything else yes) and metrics with yes positive; strict: "
    "only an explicit leading yes/no counts, others are unscored (not reference-comparable)."
)
EPILOG = (
    "examples:\n  halbench score pope --questions random --answers answers_random.jsonl --output pope.json\n"
    "  halbench score pope --questions random popular adversarial \\\n"
    "      --answers ans_random.jsonl ans_popular.jsonl ans_adversarial.jsonl --output pope.json"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``halbench score pope`` flags (``--output`` is the framework's)."""
    parser.add_argument(
        "--questions",
        required=True,
        nargs="+",
        metavar="Q",
        help="question/label files (JSON lines), or the shipped splits: random, popular, adversarial",
    )
    parser.add_argument(
        "--answers",
        required=True,
        nargs="+",
        metavar="A",
        help="answer files, one per --questions, same order",
    )
    parser.add_argument("--mode", choices=["parity", "strict"], default="parity")


def score_command(args: argparse.Namespace) -> ResultRecord:
    if len(args.questions) != len(args.answers):
        raise HalbenchError(
            f"{len(args.questions)} --questions but {len(args.answers)} --answers: "
            "give one answer file per split"
        )
    pairs = [(_questions(q), a) for q, a in zip(args.questions, args.answers, strict=True)]
    return score_pope(pairs, mode=args.mode, command=args.argv)


def _questions(name: str) -> str:
    """A shipped split by name (random, popular, adversarial), or a file."""
    if name in ("random", "popular", "adversarial") and not Path(name).exists():
        return str(Path(__file__).resolve().parent / "data" / f"coco_pope_{name}.json")
    return name


def format_table(record: ResultRecord) -> str:
    m = record.metrics
    lines = [
        f"POPE ({record.benchmark_version}, mode={record.protocol.get('mode')}): {record.n_scored} scored, {record.n_unscored} unscored",
        f"  {'split':<14}{'accuracy':>10}{'precision':>11}{'recall':>9}{'F1':>9}{'yes-ratio':>11}",
    ]
    rows = list(m["splits"].items())
    if len(rows) > 1:
        rows.append(("macro mean", m))
    for name, s in rows:
        vals = "".join(
            f"{pct(s.get(k)):>10}" for k in ("accuracy", "precision", "recall", "f1", "yes_ratio")
        )
        lines.append(f"  {name:<14}{vals}")
    return "\n".join(lines)
