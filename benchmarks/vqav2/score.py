"""``halbench score vqav2``: official VQA v2 files in, a ``ResultRecord`` out."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Literal

from benchmarks.vqav2.metrics import Normalize, VqaQuestion, score_vqa
from halbench import scorers
from halbench.answers import align_answers
from halbench.errors import HalbenchError, InputError
from halbench.io import describe_type, file_sha256, read_json, read_records
from halbench.provenance import now_utc
from halbench.registry import definition
from halbench.types import Fraction, InputFile, ResultRecord, UnscoredItem

VQAV2 = "vqav2"
Missing = Literal["error", "unscored"]


def _field(obj: Any, key: str, kind: type | tuple[type, ...], path: Path, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(str(path), f'{where}: missing "{key}"', field=key)
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = {int: "an integer", str: "a string", list: "an array"}
        kinds = kind if isinstance(kind, tuple) else (kind,)
        want = " or ".join(names.get(k, k.__name__) for k in kinds)
        raise InputError(
            str(path), f'{where}: "{key}" must be {want}, got {describe_type(value)}', field=key
        )
    return value


def load_annotations(path: str | Path) -> list[VqaQuestion]:
    p = Path(path)
    data = read_json(p)
    anns = _field(data, "annotations", list, p, "top level")
    out = []
    seen: set[int] = set()
    for k, ann in enumerate(anns):
        where = f"annotations[{k}]"
        qid = _field(ann, "question_id", int, p, where)
        if qid in seen:
            raise InputError(str(p), f"{where}: duplicate question_id {qid}", field="question_id")
        seen.add(qid)
        answers = _field(ann, "answers", list, p, where)
        texts = tuple(
            _field(a, "answer", str, p, f"{where}.answers[{j}]") for j, a in enumerate(answers)
        )
        if not texts:
            raise InputError(str(p), f"{where}: no human answers", field="answers")
        out.append(
            VqaQuestion(
                qid,
                texts,
                _field(ann, "answer_type", str, p, where),
                _field(ann, "question_type", str, p, where),
            )
        )
    if not out:
        raise InputError(str(p), "no annotations")
    return out


def load_questions(path: str | Path) -> dict[int, dict[str, Any]]:
    p = Path(path)
    data = read_json(p)
    qs = _field(data, "questions", list, p, "top level")
    out: dict[int, dict[str, Any]] = {}
    for k, q in enumerate(qs):
        where = f"questions[{k}]"
        qid = _field(q, "question_id", int, p, where)
        out[qid] = {
            "question": _field(q, "question", str, p, where),
            "image_id": _field(q, "image_id", int, p, where),
        }
    return out


def load_predictions(path: str | Path) -> dict[int, str]:
    """The official results format (JSON array of {question_id, answer}) or JSONL (answer/text),
    told apart by content."""
    p = Path(path)
    records = read_records(p)
    if records.kind == "object":
        raise InputError(
            str(p),
            'expected a JSON array of {"question_id", "answer"} objects or JSONL, '
            "got one JSON object",
        )
    records_ = [
        ({"line": n, "prefix": records.where(k)}, rec) for k, (n, rec) in enumerate(records.rows)
    ]
    if not records_:
        raise InputError(str(p), "no answers in file")
    rows: list[tuple[int, int, str]] = []
    for where, rec in records_:
        prefix, line = where["prefix"], where["line"]
        qid = rec.get("question_id")
        if not isinstance(qid, int) or isinstance(qid, bool):
            raise InputError(
                str(p),
                f'{prefix}"question_id" must be an integer, got {describe_type(qid)}',
                line=line,
                field="question_id",
            )
        name = "answer" if "answer" in rec else "text" if "text" in rec else None
        if name is None:
            raise InputError(
                str(p), f'{prefix}missing "answer" or "text"', line=line, field="answer"
            )
        if not isinstance(rec[name], str):
            raise InputError(
                str(p),
                f'{prefix}"{name}" must be a string, got {describe_type(rec[name])}',
                line=line,
                field=name,
            )
        rows.append((line, qid, rec[name]))
    # the one rule (halbench.answers): a question answered twice names its line
    align_answers(p, rows, None, by_position=False, array=records.kind == "array")
    return {qid: text for _, qid, text in rows}


def score_vqav2(
    answers_path: str | Path,
    annotations_path: str | Path,
    questions_path: str | Path,
    *,
    normalize: Normalize = "official",
    missing: Missing = "error",
    command: list[str] | None = None,
) -> ResultRecord:
    started, t0 = now_utc(), time.perf_counter()
    questions = load_annotations(annotations_path)
    texts = load_questions(questions_path)
    preds = load_predictions(answers_path)
    inputs = [
        InputFile(path=str(answers_path), sha256=file_sha256(answers_path), role="answers"),
        InputFile(
            path=str(annotations_path), sha256=file_sha256(annotations_path), role="annotations"
        ),
        InputFile(path=str(questions_path), sha256=file_sha256(questions_path), role="questions"),
    ]
    return vqav2_record(
        questions,
        texts,
        preds,
        normalize=normalize,
        missing=missing,
        source=str(answers_path),
        questions_source=str(questions_path),
        inputs=inputs,
        command=command,
        started=(started, t0),
    )


def vqav2_record(
    questions: list[VqaQuestion],
    texts: dict[int, dict[str, Any]],
    preds: dict[int, str],
    *,
    normalize: Normalize = "official",
    missing: Missing = "error",
    source: str = "answers",
    questions_source: str = "questions",
    inputs: list[InputFile] | None = None,
    command: list[str] | None = None,
    started: tuple[str, float] | None = None,
) -> ResultRecord:
    """Score predictions (question id -> answer) for ``questions`` (annotation order)."""
    started_at, t0 = started or (now_utc(), time.perf_counter())
    answers_path, questions_path = source, questions_source
    ann_ids = {q.question_id for q in questions}
    extra = sorted(set(preds) - ann_ids)
    if extra:
        raise InputError(
            str(answers_path),
            f"{len(extra)} answer(s) for questions not in the annotations, e.g. {extra[:5]}",
        )
    absent = [q.question_id for q in questions if q.question_id not in preds]
    if absent and missing == "error":
        raise InputError(
            str(answers_path),
            f"{len(absent)} of {len(questions)} annotated questions have no answer, e.g. {absent[:5]} "
            "(the official evaluation requires all; --missing unscored reports them as unscored)",
        )
    no_text = [q.question_id for q in questions if q.question_id not in texts]
    if no_text:
        raise InputError(
            str(questions_path),
            f"{len(no_text)} annotated question(s) missing here, e.g. {no_text[:5]}",
        )
    score = score_vqa(questions, preds, normalize)
    by_id = {it.question_id: it for it in score.items}
    items, unscored = [], []
    for index, q in enumerate(questions):
        base = {
            "question_id": q.question_id,
            "image_id": texts[q.question_id]["image_id"],
            "question": texts[q.question_id]["question"],
            "answer_type": q.answer_type,
            "question_type": q.question_type,
        }
        it = by_id.get(q.question_id)
        if it is None:
            reason = "no answer"
            unscored.append(UnscoredItem(index=index, reason=reason))
            items.append({**base, "unscored": reason})
        else:
            items.append(
                {
                    **base,
                    "answer": preds[q.question_id],
                    "prediction": it.prediction,
                    "normalized": it.normalized,
                    "accuracy": it.accuracy,
                }
            )
    n = len(score.items)
    return scorers.build_record(
        benchmark=VQAV2,
        benchmark_version=definition(__file__).version,
        protocol={
            "scorer": "vqav2",
            "mode": "parity" if normalize == "official" else "normalize-always",
            "normalize": normalize,
            "alignment": "question_id",  # the official format: every answer names its question
        },
        metrics={
            "accuracy": score.accuracy,
            "per_answer_type": score.per_answer_type,
            "per_question_type": score.per_question_type,
            "n_questions": n,
            "reported": score.reported,
        },
        fractions={
            "accuracy": Fraction(numerator=sum(it.accuracy for it in score.items), denominator=n)
        }
        if n
        else {},
        not_computable={} if n else {"accuracy": "no answered questions"},
        n_items=len(questions),
        n_scored=n,
        unscored=unscored,
        items=items,
        started=(started_at, t0),
        inputs=inputs or [],
        command=command,
    )


def score_run(ctx: scorers.ScoreContext) -> ResultRecord:
    """Score the answers of a ``halbench run``."""

    ann_path = ctx.manifest.get("annotations")
    if not ann_path:  # test-dev: the answers are only for the evaluation server
        return scorers.pending_record(
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
    return scorers.finish(record, ctx)


# --------------------------------------------------------------------------- CLI

TITLE = "VQAv2 accuracy, identical to the official evaluation (2021)"
DESCRIPTION = (
    "Score VQA answers exactly like GT-Vision-Lab/VQA vqaEval.py (2021): answers are "
    "normalised only when the ten human answers disagree; accuracy = mean over leave-one-out "
    "subsets of min(1, matches/3)."
)
EPILOG = (
    "example:\n  halbench score vqav2 --answers results.json --annotations v2_mscoco_val2014_annotations.json "
    "\\\n      --questions v2_OpenEnded_mscoco_val2014_questions.json --output vqav2.json"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``halbench score vqav2`` flags (``--output`` is the framework's)."""
    parser.add_argument(
        "--answers",
        required=True,
        help='official results JSON [{"question_id", "answer"}] or JSONL (answer/text)',
    )
    parser.add_argument("--annotations", required=True, help="VQA v2 annotations JSON")
    parser.add_argument("--questions", required=True, help="VQA v2 questions JSON")
    parser.add_argument(
        "--normalize",
        choices=["official", "always"],
        default="official",
        help="'always' also normalises when the humans agree (what some toolkits do; not the official metric)",
    )
    parser.add_argument(
        "--missing",
        choices=["error", "unscored"],
        default="error",
        help="questions without an answer: error (the official evaluation requires all) or unscored",
    )


def score_command(args: argparse.Namespace) -> ResultRecord:
    return score_vqav2(
        args.answers,
        args.annotations,
        args.questions,
        normalize=args.normalize,
        missing=args.missing,
        command=args.argv,
    )


def format_table(record: ResultRecord) -> str:
    m = record.metrics
    rep = m.get("reported", {})
    lines = [
        f"VQAv2 ({record.benchmark_version}, normalize={record.protocol.get('normalize')}): "
        f"{record.n_scored} scored, {record.n_unscored} unscored",
        f"  overall accuracy        {rep.get('overall', 'n/a')}",
    ]
    for k, v in sorted(rep.get("perAnswerType", {}).items()):
        lines.append(f"  {k:<24}{v}")
    lines.append("  (percent, rounded like the official script; fractions in the record)")
    return "\n".join(lines)
