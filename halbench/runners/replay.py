"""Replay answers made elsewhere: ``--model replay:FILE``.

FILE is read by content, whatever its suffix: halbench's own ``answers.jsonl``, any JSONL or
JSON array with one answer per record in ``text``, ``answer`` or ``response``, an lmms-eval
``--log_samples`` file, or a VLMEvalKit prediction table (``halbench.runners.foreign``).

When answers carry ids, the ids decide; the first kind present, in this order, is used:

1. ``item_id`` (halbench's own ``answers.jsonl``; lmms-eval and VLMEvalKit rows are mapped to it);
2. ``question_id``, when its values name the items (all of them, or, in a file without
   ``image_id``, some of them);
3. ``image_id`` + question (``prompt`` or ``question``), or ``image_id`` alone in a file
   without questions (COCO captions from lmms-eval: one caption per image);
4. ``image_file`` + question (VLMEvalKit's POPE: one answer serves every item asking that
   question about that image).

Under the chosen kind, a line without the id, or a second line with the same id, is an error
naming the file and line. Only when no line carries an id (``question_id`` values that name
no item are line numbers from another tool, as in RLHF-V's files) are answers aligned by
position, and then the file must have exactly one line per item. Every item must find an
answer before any scoring starts; the error names the missing ones. The run record says
which alignment was used (``model.details.matched_by``) and the file's format.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError, InputError
from halbench.io import describe_type, file_sha256, read_records
from halbench.runners.base import GenerationSettings, ModelInfo, Request
from halbench.runners.foreign import (
    Row,
    is_lmms_eval,
    is_table,
    lmms_eval_rows,
    vlmevalkit_rows,
)

_TEXT_FIELDS = ("text", "answer", "response")


def _native_rows(path: Path, records: Any) -> list[Row]:
    if records.kind == "object":
        raise InputError(
            str(path),
            "expected JSONL (one answer object per line) or a JSON array of answer objects, "
            "got one JSON object",
        )
    rows = []
    for index, (line, rec) in enumerate(records.rows):
        where = records.where(index)
        name = next((f for f in _TEXT_FIELDS if f in rec), None)
        if name is None:
            raise InputError(
                str(path), f'{where}missing "text", "answer" or "response"', line=line, field="text"
            )
        if not isinstance(rec[name], str):
            raise InputError(
                str(path),
                f'{where}"{name}" must be a string, got {describe_type(rec[name])}',
                line=line,
                field=name,
            )
        rows.append(Row(line, where, rec, rec[name]))
    return rows


def read_answers(path: Path) -> tuple[str, list[Row]]:
    """``(format, rows)``: ``"halbench"``, ``"lmms-eval"`` or ``"vlmevalkit"``."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, expected an answer file") from None
    if is_table(data):
        return "vlmevalkit", vlmevalkit_rows(path, data)
    records = read_records(path)
    if is_lmms_eval(records):
        return "lmms-eval", lmms_eval_rows(path, records)
    return "halbench", _native_rows(path, records)


def _id_value(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)


def _question(rec: dict[str, Any]) -> Any:
    return rec.get("prompt", rec.get("question"))


def _asks(request_question: str, question: str) -> bool:
    """The item's prompt is ``question``, perhaps followed by the benchmark's prompt suffix."""
    q = " ".join(question.split())
    rest = " ".join(request_question.split())
    return rest == q or (rest.startswith(q) and rest[len(q)] == " ")


class ReplayRunner:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise HalbenchError(f"{path}: replay file not found")
        self.format, self.rows = read_answers(self.path)
        if not self.rows:
            raise InputError(str(path), "no answers in file")
        self.failures: dict[str, str] = {}
        self._table: dict[str, str] = {}
        self.info = ModelInfo(
            backend="replay",
            model=f"replay:{path}",
            fingerprint="replay:" + file_sha256(self.path),
            details={"file": str(path), "format": self.format, "answers": len(self.rows)},
        )

    # ------------------------------------------------------------------ alignment

    def _kind(self, keys: set[str]) -> str:
        recs = [row.rec for row in self.rows]
        if any("item_id" in r for r in recs):
            return "item_id"
        has_image = any("image_id" in r for r in recs)
        qids = {_id_value(r["question_id"]) for r in recs if "question_id" in r}
        if qids and (qids >= keys or (not has_image and qids & keys)):
            return "question_id"
        if has_image:
            asked = any("prompt" in r or "question" in r for r in recs)
            return "image_id+question" if asked else "image_id"
        if any("image_file" in r for r in recs):
            return "image_file+question"
        return "position"

    def _ids(self, field: str) -> dict[Any, Row]:
        """id -> row under one id kind; a missing or repeated id names its line."""
        table: dict[Any, Row] = {}
        first: dict[Any, Row] = {}
        for row in self.rows:
            if field == "image_id+question":
                image, question = row.rec.get("image_id"), _question(row.rec)
                name = "image_id" if _id_value(image) is None else "question"
                ok = _id_value(image) is not None and isinstance(question, str)
                key: Any = (_id_value(image), question)
            elif field == "image_file+question":
                key, ok, name = (row.rec["image_file"], row.rec["question"].strip()), True, field
            else:
                key, name = _id_value(row.rec.get(field)), field
                ok = key is not None
            if not ok:
                got = row.rec.get(name)
                what = "no" if got is None else f"a bad ({describe_type(got)})"
                raise InputError(
                    str(self.path),
                    f'{row.where}{what} "{name}": other lines carry {field.split("+")[0]}, '
                    "and when answers carry ids the ids decide",
                    line=row.line,
                    field=name,
                )
            if key in first:
                shown = key if isinstance(key, str) else " + ".join(map(str, key))
                at = first[key].line
                raise InputError(
                    str(self.path),
                    f"{row.where}duplicate {field} {shown!r}"
                    + (f" (first on line {at})" if at is not None else ""),
                    line=row.line,
                    field=field.split("+")[0],
                )
            first[key] = row
            table[key] = row
        return table

    def match(self, requests: Sequence[Request]) -> dict[str, str]:
        """Item key -> answer text; raises if any item has no answer."""
        keys = [r.key for r in requests]
        how = self._kind(set(keys))
        table: dict[str, Row]
        if how == "position":
            if len(self.rows) != len(requests):
                raise InputError(
                    str(self.path),
                    f"cannot match {len(self.rows)} answers to {len(requests)} items: no line "
                    "carries an id, so answers are matched by position and need one line per "
                    "item in order; or give each line an item_id equal to the item's id",
                )
            table = dict(zip(keys, self.rows, strict=True))
        elif how == "image_id+question":
            by_pair = self._ids(how)
            table = {
                r.key: by_pair[(str(r.image_id), r.question)]
                for r in requests
                if (str(r.image_id), r.question) in by_pair
            }
        elif how == "image_id":  # captions: one per COCO image, whatever the prompt
            by_image = self._ids(how)
            table = {
                r.key: by_image[str(r.image_id)] for r in requests if str(r.image_id) in by_image
            }
        elif how == "image_file+question":
            by_file: dict[str, list[tuple[str, Row]]] = {}
            for (image, question), row in self._ids(how).items():
                by_file.setdefault(image, []).append((question, row))
            table = {}
            for r in requests:
                if r.image is None:
                    continue
                for question, row in by_file.get(Path(r.image).name, []):
                    if _asks(r.question, question):
                        table[r.key] = row
                        break
        else:
            table = self._ids(how)
        missing = [k for k in keys if k not in table]
        if missing:
            shown = ", ".join(missing[:10]) + (
                f" ... ({len(missing)} in all)" if len(missing) > 10 else ""
            )
            hint = (
                "; lmms-eval writes one file per task: concatenate them (pope_pop, pope_adv, "
                "pope_random) into one file"
                if self.format == "lmms-eval"
                else ""
            )
            raise InputError(
                str(self.path), f"no answer for item(s) {shown} (matched by {how}){hint}"
            )
        by_key = {r.key: r for r in requests}
        for k in keys:
            row = table[k]
            asked = row.rec.get("asked")
            if isinstance(asked, str) and not _asks(by_key[k].question, asked):
                raise InputError(
                    str(self.path),
                    f"{row.where}{row.rec['asked_field']} {asked!r} is not the question of item "
                    f"{k} ({by_key[k].question!r}): the ids do not name the items they answer",
                    line=row.line,
                    field=row.rec["asked_field"],
                )
        self.info.details["matched_by"] = how
        return {k: table[k].text for k in keys}

    def check(self, requests: Sequence[Request]) -> None:
        """Align every item before any work; fail when an item has no answer in the file."""
        self._table = self.match(requests)

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings, *, batch_size: int
    ) -> Iterator[tuple[str, str]]:
        # the alignment made by check() over all the items (position needs them all: the
        # requests here are only those the answer store does not have yet)
        if any(r.key not in self._table for r in requests):
            self._table = self.match(requests)
        for r in requests:
            yield r.key, self._table[r.key]

    def close(self) -> None:
        pass
