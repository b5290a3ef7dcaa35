"""Read model answers for Object HalBench, as RLHF-V's loader reads them, with strict errors.

Accepted inputs (``load_object_halbench_answers``):

* JSONL, one object per line: an image id (``image_id``: an integer, a COCO id
  string such as ``"000000441147"``, or a file name such as
  ``"COCO_val2014_000000441147.jpg"``), a question (``prompt``, else ``question``)
  and an answer (``text``, else ``answer``; the reference's order). Other fields are
  kept and echoed in the scored items. RLHF-V's generator writes no ``image_id``:
  give its question file with ``questions_path`` and ids are taken by line
  position, as the reference does.
* a JSON array of such objects, or the LisaAnne/CHAIR format
  (``{"imgToEval": {...: {"image_id", "caption"}}}``). The format is told by content
  (``halbench.io.read_records``), not by the file's suffix.

As in the reference, every ``"Assistant:"`` is deleted from the answer, then it is
stripped. For Chain-of-Hindsight outputs the reference cuts answers at CoH marker
sentences when the answer file's path contains "coh"; ``coh="auto"`` keeps that
rule, ``"on"``/``"off"`` force it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from halbench.coco import coco_id_field
from halbench.errors import InputError
from halbench.io import Records, describe_type, read_jsonl, read_records

CohMode = Literal["auto", "on", "off"]
T = TypeVar("T")

_COH_MARKERS = (
    # (marker, keep the part after it?) in the reference's order of checks
    ("The following is a response without hallucination.", True),
    ("The following is a response with hallucination.", False),
    ("Generate a response without errors.", True),
    ("Generate a response with errors.", False),
)


@dataclass(frozen=True)
class Answer:
    """One answer to score."""

    image_id: int
    answer: str  # as scored: "Assistant:" removed, stripped, CoH-cut if enabled
    question: str | None
    fields: dict[str, Any]  # the input record, echoed in the output item
    line: int | None = None  # 1-based line where the record starts (JSONL or JSON array)
    alignment: str = "item"  # "image_id" (its own), "position" (question file), "item" (a run)


def clean_answer(text: str) -> str:
    """The reference's cleaning: delete every "Assistant:", then strip."""
    return text.replace("Assistant:", "").strip()


def coh_cut(text: str) -> str:
    """Keep the part of a Chain-of-Hindsight output the reference keeps."""
    for marker, keep_after in _COH_MARKERS:
        if marker in text:
            return text.split(marker)[-1].strip() if keep_after else text.split(marker)[0].strip()
    return text


def load_object_halbench_answers(
    path: str | Path,
    *,
    questions_path: str | Path | None = None,
    coh: CohMode = "auto",
) -> list[Answer]:
    """Read and validate every answer; raise ``InputError`` (file, line, field) on the first problem."""
    p = Path(path)
    use_coh = coh == "on" or (coh == "auto" and "coh" in str(path))
    records = read_records(p)  # JSON array, CHAIR's JSON object or JSONL, by content
    first = records.rows[0][1] if len(records.rows) == 1 else None
    if records.kind == "object" or (first is not None and "imgToEval" in first):
        answers = _from_chair(p, records)
    elif records.kind == "array":
        answers = _from_json(p, records)
    else:
        questions = _question_ids(questions_path) if questions_path is not None else None
        answers = _from_jsonl(p, records, questions, questions_path)
    if not answers:
        raise InputError(str(path), "no answers in file (empty file?)")
    if use_coh:
        answers = [
            Answer(a.image_id, coh_cut(a.answer), a.question, a.fields, a.line, a.alignment)
            for a in answers
        ]
    return answers


def require_string_questions(path: str | Path, answers: Sequence[Answer]) -> None:
    """For a scorer that reads the question (Object HalBench's LLM extractor puts it in the
    judge's prompt): a question that is not a string is an error there, not on the rule path."""
    for a in answers:
        name = next((n for n in ("prompt", "question") if n in a.fields), None)
        if a.question is None and name is not None:
            raise InputError(
                str(path),
                f'"{name}" must be a string for the LLM extractor (its prompt holds it), '
                f"got {describe_type(a.fields[name])}",
                line=a.line,
                field=name,
            )


def answers_alignment(answers: Sequence[Answer]) -> str:
    """How answers were matched with images: ``"image_id"``, ``"position"`` or ``"item"``."""
    return answers[0].alignment if answers else "item"


def _text_field(
    rec: dict[str, Any], names: tuple[str, ...], path: Path, where: dict[str, Any]
) -> str:
    for name in names:
        if name in rec:
            value = rec[name]
            if not isinstance(value, str):
                raise InputError(
                    str(path),
                    f'"{name}" must be a string, got {describe_type(value)}',
                    field=name,
                    **where,
                )
            return value
    wanted = " or ".join(f'"{n}"' for n in names)
    raise InputError(str(path), f"missing {wanted}", field=names[0], **where)


def _question(rec: dict[str, Any], path: Path, where: dict[str, Any]) -> str | None:
    """The question when it is a string, else ``None``. The rule path never reads it, so
    another value (mPLUG-Owl's captions in POPE have a list, which RLHF-V scores) is echoed
    in the item, not rejected; a missing or null question stays an error (the LLM path
    puts it in the judge's prompt)."""
    for name in ("prompt", "question"):
        if name in rec:
            if rec[name] is None:
                raise InputError(
                    str(path), f'"{name}" must be a string, got null', field=name, **where
                )
            return rec[name] if isinstance(rec[name], str) else None
    raise InputError(str(path), 'missing "prompt" or "question"', field="prompt", **where)


def _image_id(value: Any, name: str, path: str, where: dict[str, Any]) -> int:
    return coco_id_field({name: value}, name, path, where.get("line"))


def _from_jsonl(
    path: Path, records: Records, question_ids: list[int] | None, questions_path: Any
) -> list[Answer]:
    if question_ids is not None:
        rows = [(n, rec.get("image_id"), None) for n, rec in records.rows]
        if any(qid is not None for _, qid, _ in rows) and any(q is None for _, q, _ in rows):
            # some lines name their image and others do not: neither rule is safe
            align_answers(path, rows, [], key="image_id")
    answers = []
    for index, (number, rec) in enumerate(records.rows):
        where = {"line": number}
        if "image_id" in rec:
            image_id = _image_id(rec["image_id"], "image_id", str(path), where)
        elif question_ids is not None:
            if index >= len(question_ids):
                raise InputError(
                    str(path),
                    f"answer {index + 1} has no image_id and the question file {questions_path} "
                    f"has only {len(question_ids)} lines",
                    field="image_id",
                    **where,
                )
            image_id = question_ids[index]
        else:
            raise InputError(
                str(path),
                'missing "image_id" (for RLHF-V answer files without image ids, pass the '
                "question file with --questions to join by line position)",
                field="image_id",
                **where,
            )
        question = _question(rec, path, where)
        answer = clean_answer(_text_field(rec, ("text", "answer"), path, where))
        how = "image_id" if "image_id" in rec else "position"
        answers.append(Answer(image_id, answer, question, rec, number, how))
    if question_ids is not None and len(question_ids) != len(answers):
        uses_positions = any("image_id" not in a.fields for a in answers)
        if uses_positions:
            raise InputError(
                str(path),
                f"{len(answers)} answers but {len(question_ids)} questions in {questions_path}: "
                "joining by line position needs the same number of lines",
            )
    return answers


def _question_ids(path: str | Path) -> list[int]:
    ids = []
    for number, rec in read_jsonl(path):
        if "image_id" not in rec:
            raise InputError(str(path), 'missing "image_id"', line=number, field="image_id")
        ids.append(_image_id(rec["image_id"], "image_id", str(path), {"line": number}))
    return ids


def _from_chair(path: Path, records: Records) -> list[Answer]:
    """LisaAnne's CHAIR output: ``{"imgToEval": {key: {"image_id", "caption"}}}``."""
    data = records.rows[0][1]
    if "imgToEval" not in data:
        raise InputError(
            str(path),
            "expected JSONL answers, a JSON array of answer objects, or a CHAIR "
            'imgToEval object; got a JSON object without "imgToEval"',
        )
    records_ = data["imgToEval"]
    if not isinstance(records_, dict):
        raise InputError(str(path), '"imgToEval" must be an object')
    answers = []
    for key, rec in records_.items():
        where_txt = f"imgToEval[{json.dumps(key)[:80]}]"
        if not isinstance(rec, dict):
            raise InputError(
                str(path), f"{where_txt}: expected an object, got {describe_type(rec)}"
            )
        if "image_id" not in rec:
            raise InputError(str(path), f'{where_txt}: missing "image_id"', field="image_id")
        image_id = _image_id(rec["image_id"], "image_id", str(path), {})
        caption = rec.get("caption")
        if not isinstance(caption, str):
            raise InputError(str(path), f'{where_txt}: "caption" must be a string', field="caption")
        # LisaAnne's format: captions are used as they are (no cleaning in the reference).
        answers.append(Answer(image_id, caption, None, rec, alignment="image_id"))
    return answers


def _from_json(path: Path, records: Records) -> list[Answer]:
    """A JSON array of answer objects; errors name the element (``item K``) and its line."""
    answers = []
    for index, (number, rec) in enumerate(records.rows):
        where = {"line": number}
        try:
            if "image_id" not in rec:
                raise InputError(str(path), 'missing "image_id"', field="image_id", **where)
            image_id = _image_id(rec["image_id"], "image_id", str(path), where)
            question = _question(rec, path, where)
            answer = clean_answer(_text_field(rec, ("text", "answer"), path, where))
        except InputError as exc:
            raise InputError(
                str(path), f"item {index + 1}: {exc.message}", field=exc.field, line=number
            ) from None
        answers.append(Answer(image_id, answer, question, rec, number, "image_id"))
    return answers


# --------------------------------------------------------------------------- alignment

#: how answers were matched with items: the id field's name (``"question_id"``), or ``"position"``
Alignment = str


def align_answers(
    path: str | Path,
    rows: Sequence[tuple[int, Any, T]],
    item_ids: Sequence[Any] | None,
    *,
    key: str = "question_id",
    by_position: bool = True,
    allow_missing: bool = False,
    array: bool = False,
) -> tuple[list[T | None], Alignment]:
    """Answers in the order of ``item_ids``, and how they were matched: the one rule.

    ``rows``: ``(line, id or None, value)`` per answer record, in file order. If any
    record has an id, every record must have one and ids decide: an id that is not an
    item, or one answered twice, is an error naming the line; an item without an answer
    is an error unless ``allow_missing`` (then its slot is ``None``); the alignment returned
    is then ``key``. Only when *no*
    record has an id are answers matched by line position (as the references do), and
    then the counts must agree; ``by_position=False`` makes the id required.
    ``array``: the records are the elements of a JSON array (errors say ``item K``).
    ``item_ids=None``: the items are not known here (VQAv2's and AMBER's readers check them
    against their own data): the same checks of ids, values returned in file order.
    """

    def at(index: int) -> str:
        return f"item {index + 1}: " if array else ""

    with_id = [i for i, (_, qid, _) in enumerate(rows) if qid is not None]
    if not with_id:
        if not by_position or item_ids is None:
            line = rows[0][0] if rows else None
            raise InputError(str(path), f'{at(0)}missing "{key}"', line=line, field=key)
        if len(rows) != len(item_ids):
            raise InputError(
                str(path),
                f"{len(rows)} answers for {len(item_ids)} questions, and no line has a {key}: "
                f"cannot match them by line position (give every line a {key})",
            )
        return [value for _, _, value in rows], "position"
    if len(with_id) != len(rows):
        index = next(i for i, (_, qid, _) in enumerate(rows) if qid is None)
        first = rows[with_id[0]][0]
        raise InputError(
            str(path),
            f'{at(index)}no "{key}" here, but line {first} has one: give every line '
            f"a {key} (matched by id) or none (matched by line position)",
            line=rows[index][0],
            field=key,
        )
    if item_ids is None:  # ids in file order: each its own slot
        item_ids = [qid for _, qid, _ in rows if _is_id(qid)]
        allow_missing = True
    slot = {_id_key(qid): k for k, qid in enumerate(item_ids)}
    out: list[T | None] = [None] * len(item_ids)
    seen: dict[int, int] = {}
    extra: list[tuple[int, int, Any]] = []  # (index, line, id)
    for index, (line, qid, value) in enumerate(rows):
        if not _is_id(qid):
            raise InputError(
                str(path),
                f'{at(index)}"{key}" must be an integer or a string, got {describe_type(qid)}',
                line=line,
                field=key,
            )
        k = slot.get(_id_key(qid))
        if k is None:
            extra.append((index, line, qid))
            continue
        if k in seen:
            raise InputError(
                str(path),
                f"{at(index)}{key} {_show(qid)} is answered twice (first on line {seen[k]})",
                line=line,
                field=key,
            )
        seen[k] = line
        out[k] = value
    absent = [item_ids[k] for k in range(len(item_ids)) if k not in seen]
    if extra:
        index, line, qid = extra[0]
        hint = ""
        if isinstance(qid, str) and _digits(qid) and ("int", int(qid)) in slot:
            hint = " (a string: the questions' ids are integers)"
        raise InputError(
            str(path),
            f"{at(index)}{key} {_show(qid)} is not a question of this benchmark{hint}; the answers do "
            f"not match the questions: {len(absent)} missing (e.g. {_some(absent)}), "
            f"{len(extra)} extra (e.g. {_some([e[2] for e in extra])})",
            line=line,
            field=key,
        )
    if absent and not allow_missing:
        raise InputError(
            str(path),
            f"{len(absent)} of {len(item_ids)} questions have no answer, e.g. {_some(absent)}",
            field=key,
        )
    return out, key


def _show(value: Any) -> str:
    return json.dumps(value)[:80]


def _some(values: Sequence[Any]) -> str:
    return ", ".join(_show(v) for v in values[:5])


def _is_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _id_key(value: Any) -> tuple[str, Any]:
    """Ids match only with their own type: 3 and "3" differ, True is not 1."""
    return (type(value).__name__, value)


def _digits(text: str) -> bool:
    return 0 < len(text) <= 20 and text.isascii() and text.isdigit()
