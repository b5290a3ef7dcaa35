"""Replay answers made elsewhere: ``--model replay:FILE``.

FILE is JSONL (or a JSON array) with one answer per line in ``text``, ``answer`` or
``response``. Answers are matched to the benchmark's items by, in order of preference:

1. ``item_id`` (halbench's own ``answers.jsonl``);
2. ``question_id`` when every value is an item id;
3. ``image_id`` + question (``prompt`` or ``question``), when unique;
4. line position, when the file has exactly one line per item (RLHF-V's generator
   numbers its lines from 0, which rule 2 usually catches first).

Every item must find an answer before any scoring starts; the error names the missing ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError, InputError
from halbench.io import describe_type, file_sha256, read_jsonl
from halbench.runners.base import GenerationSettings, ModelInfo, Request

_TEXT_FIELDS = ("text", "answer", "response")


def _read(path: Path) -> list[tuple[int | None, dict[str, Any]]]:
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise InputError(str(path), "expected a JSON array of answers")
        return [(None, rec) for rec in data]
    return list(read_jsonl(path))


def _text(rec: dict[str, Any], path: Path, line: int | None, index: int) -> str:
    for name in _TEXT_FIELDS:
        if name in rec:
            if not isinstance(rec[name], str):
                where = f"item {index + 1}: " if line is None else ""
                raise InputError(
                    str(path),
                    f'{where}"{name}" must be a string, got {describe_type(rec[name])}',
                    line=line,
                    field=name,
                )
            return rec[name]
    where = f"item {index + 1}: " if line is None else ""
    raise InputError(
        str(path), f'{where}missing "text", "answer" or "response"', line=line, field="text"
    )


class ReplayRunner:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise HalbenchError(f"{path}: replay file not found")
        self.records = _read(self.path)
        if not self.records:
            raise InputError(str(path), "no answers in file")
        self.texts = [_text(rec, self.path, line, i) for i, (line, rec) in enumerate(self.records)]
        self.failures: dict[str, str] = {}
        self.info = ModelInfo(
            backend="replay",
            model=f"replay:{path}",
            fingerprint="replay:" + file_sha256(self.path),
            details={"file": str(path), "answers": len(self.records)},
        )

    def match(self, requests: Sequence[Request]) -> dict[str, str]:
        """Item key -> answer text; raises if any item has no answer."""
        keys = [r.key for r in requests]
        recs = [rec for _, rec in self.records]
        how: str
        if all("item_id" in rec for rec in recs):
            table = {str(rec["item_id"]): t for rec, t in zip(recs, self.texts, strict=True)}
            how = "item_id"
        elif all("question_id" in rec for rec in recs) and {
            str(r["question_id"]) for r in recs
        } >= set(keys):
            table = {str(rec["question_id"]): t for rec, t in zip(recs, self.texts, strict=True)}
            how = "question_id"
        elif all("image_id" in rec and ("prompt" in rec or "question" in rec) for rec in recs):
            by_pair: dict[tuple[str, str], str] = {}
            for rec, t in zip(recs, self.texts, strict=True):
                by_pair[(str(rec["image_id"]), rec.get("prompt", rec.get("question")))] = t
            table = {
                r.key: by_pair[(str(r.image_id), r.question)]
                for r in requests
                if (str(r.image_id), r.question) in by_pair
            }
            how = "image_id+question"
        elif len(recs) == len(requests):
            table = dict(zip(keys, self.texts, strict=True))
            how = "position"
        else:
            raise InputError(
                str(self.path),
                f"cannot match {len(recs)} answers to {len(requests)} items: give each line an "
                "item_id (or question_id) equal to the item's id, or one line per item in order",
            )
        missing = [k for k in keys if k not in table]
        if missing:
            shown = ", ".join(missing[:10]) + (
                f" ... ({len(missing)} in all)" if len(missing) > 10 else ""
            )
            raise InputError(str(self.path), f"no answer for item(s) {shown} (matched by {how})")
        self.info.details["matched_by"] = how
        return {k: table[k] for k in keys}

    def check(self, requests: Sequence[Request]) -> None:
        """Fail before any work when an item has no answer in the file."""
        self.match(requests)

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings, *, batch_size: int
    ) -> Iterator[tuple[str, str]]:
        yield from self.match(requests).items()

    def close(self) -> None:
        pass
