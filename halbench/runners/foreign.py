"""Answers written by other toolkits, read for ``--model replay:FILE``.

Two formats, told apart by content (never by suffix alone):

- **lmms-eval** ``--log_samples`` JSONL: one record per sample with ``doc_id``, ``doc`` (the
  dataset row without its image fields), ``target``, ``arguments``, ``resps`` and
  ``filtered_resps``. Older versions wrote one JSON object with the samples under ``logs``.
  The answer is ``filtered_resps`` (else ``resps``), unwrapped while it is a one-element list.
- **VLMEvalKit** prediction tables (``.xlsx``, ``.tsv``, ``.csv``) with columns ``index``,
  ``question``, ``prediction``, ``answer``, ``category``, ``image_path``/``image``, ...; VLMEvalKit
  names them ``{model}_{dataset}.{ext}`` and the dataset is read from that name.

Each row becomes a halbench answer row: ``item_id`` for the benchmark item it answers, or
``image_file`` + ``question`` where the toolkit merged identical questions (VLMEvalKit's POPE
asks each (image, question) pair once for all the splits that contain it). The mapping, per
toolkit and benchmark, is declared by each benchmark in its ``benchmark.toml``
(``[replay.lmms-eval]``, ``[replay.vlmevalkit]``; ``halbench.runners.replay_rules``), and
docs/running.md has it as a table. COCO caption samples (lmms-eval's coco_cap tasks: a COCO
file name in ``doc.question_id`` or ``doc.filename``) map to the item with that ``image_id``.

Where the row has the question (lmms-eval's doc for POPE, LLaVA-Bench, MMHal-Bench; VLMEvalKit's
``question`` column), the row also carries it as ``asked``: the replay runner checks that the
item the id names asks that question, so a copy numbered or ordered differently fails loudly.

Every failure names the file, the line (JSONL) or row (tables, the header is row 1) and the
field. ``.xlsx`` needs openpyxl (``pip install 'halbench[replay]'``); tables in text need nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError, InputError
from halbench.io import Records, describe_type
from halbench.runners.replay_rules import TableRule, lmms_benchmarks, lmms_rules, table_rules

COCO_FILE = re.compile(r"(?:.*/)?COCO_(?:val|train|test)20(?:14|15|17)_0*(\d+)\.jpg")


@dataclass(frozen=True)
class Row:
    """One answer: where it is (``line``, ``where`` for array elements), its ids and its text."""

    line: int | None
    where: str
    rec: dict[str, Any]
    text: str


# --------------------------------------------------------------------------- detection


def is_table(data: bytes) -> bool:
    """xlsx (a zip) or delimited text whose first line names an ``index`` or ``prediction`` column."""
    if data.startswith(b"PK\x03\x04"):
        return True
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    head = body.lstrip(b" \t\r\n")[:1]
    if head in (b"{", b"["):
        return False
    first = body.split(b"\n", 1)[0].decode("utf-8", errors="replace").lower()
    names = {c.strip() for c in re.split(r"[\t,]", first.replace('"', ""))}
    return bool(names & {"index", "prediction"})


def is_lmms_eval(records: Records) -> bool:
    """Any record looks like an lmms-eval sample (the others are then checked as samples too)."""
    rows = records.rows
    if records.kind == "object" and rows and isinstance(rows[0][1].get("logs"), list):
        return True
    return any("doc_id" in r and ("resps" in r or "filtered_resps" in r) for _, r in rows)


# --------------------------------------------------------------------------- lmms-eval


def _unwrap(value: Any) -> Any:
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def _lmms_text(path: Path, line: int | None, where: str, rec: dict[str, Any]) -> str:
    name = "filtered_resps" if "filtered_resps" in rec else "resps"
    value = _unwrap(rec[name])
    if not isinstance(value, str):
        raise InputError(
            str(path),
            f"{where}{name} must hold one answer string, got {describe_type(value)}"
            + (f" of {len(value)}" if isinstance(value, list) else ""),
            line=line,
            field=name,
        )
    return value


def _lmms_item(path: Path, line: int | None, where: str, rec: dict[str, Any]) -> tuple[Any, Any]:
    """The item id, and the question the sample asked where the doc has one (checked later)."""
    doc = rec.get("doc")
    if not isinstance(doc, dict):
        raise InputError(
            str(path),
            f"{where}doc must be an object, got {describe_type(doc)}",
            line=line,
            field="doc",
        )

    def need(name: str) -> str:
        value = doc.get(name)
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise InputError(
                str(path),
                f"{where}doc.{name} must be a string or an integer, got {describe_type(value)}",
                line=line,
                field=f"doc.{name}",
            )
        return str(value)

    def value(name: str) -> str:  # a field of the item id: the doc's, or the sample's index
        if name != "doc_id":
            return need(name)
        doc_id = rec.get("doc_id")
        if not isinstance(doc_id, int) or isinstance(doc_id, bool):
            raise InputError(
                str(path),
                f"{where}doc_id must be an integer, got {describe_type(doc_id)}",
                line=line,
                field="doc_id",
            )
        return str(doc_id)

    for rule in lmms_rules():  # declared by the benchmarks ([replay.lmms-eval])
        if rule.matches(doc):
            item = rule.item_id.format(**{n: value(n) for n in rule.fields()})
            return item, doc.get(rule.question) if rule.question else None
    for name in ("question_id", "filename", "file_name"):  # COCO captions: the image's file
        found = COCO_FILE.fullmatch(str(doc.get(name, "")))
        if found:
            return int(found.group(1)), None
    for rule in lmms_rules():  # the shape of a rule's rows with a value it does not allow
        keys = [k for k, _ in rule.doc_values]
        needed = [f for f in rule.fields() if f != "doc_id"]
        if keys and all(k in doc for k in [*keys, *needed]):
            key, allowed = next((k, a) for k, a in rule.doc_values if doc[k] not in a)
            raise InputError(
                str(path),
                f"{where}doc.{key} {doc[key]!r} is not a {rule.doc_values_name} "
                f"({', '.join(map(str, allowed))})",
                line=line,
                field=f"doc.{key}",
            )
    raise InputError(
        str(path),
        f"{where}cannot tell which benchmark this lmms-eval sample is from (doc fields: "
        f"{', '.join(sorted(doc)) or 'none'}); halbench maps "
        f"{', '.join(lmms_benchmarks())} and COCO caption samples",
        line=line,
        field="doc",
    )


def lmms_eval_rows(path: Path, records: Records) -> list[Row]:
    if records.kind == "object":
        start, obj = records.rows[0]
        logs = obj["logs"]
        entries = [(start, f"logs item {i + 1}: ", r) for i, r in enumerate(logs)]
    else:
        entries = [(n, records.where(i), r) for i, (n, r) in enumerate(records.rows)]
    rows = []
    for line, where, rec in entries:
        if not isinstance(rec, dict):
            raise InputError(
                str(path), f"{where}expected a JSON object, got {describe_type(rec)}", line=line
            )
        for name in ("doc_id", "doc"):
            if name not in rec:
                raise InputError(str(path), f'{where}missing "{name}"', line=line, field=name)
        if "resps" not in rec and "filtered_resps" not in rec:
            raise InputError(
                str(path), f'{where}missing "filtered_resps"', line=line, field="filtered_resps"
            )
        item, question = _lmms_item(path, line, where, rec)
        ids: dict[str, Any] = {"image_id": item} if isinstance(item, int) else {"item_id": item}
        if isinstance(question, str) and question.strip():
            ids["asked"] = question  # the item must ask this (a wrong id mapping fails loudly)
            ids["asked_field"] = "doc.question"
        rows.append(Row(line, where, ids, _lmms_text(path, line, where, rec)))
    return rows


# --------------------------------------------------------------------------- VLMEvalKit


def _read_xlsx(path: Path) -> list[list[Any]]:
    try:
        import openpyxl
    except ImportError:
        raise HalbenchError(
            f"{path}: reading .xlsx needs openpyxl: pip install 'halbench[replay]' "
            "(or save the table as .tsv / .csv)"
        ) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip or XML errors: the file is not a workbook
        raise InputError(str(path), f"not a readable .xlsx workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _read_delimited(path: Path, data: bytes) -> list[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            str(path), f"not valid UTF-8 (byte 0x{data[exc.start]:02x})", line=line
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    start = 1
    # a cell may hold a long answer or a base64 image: lift csv's 128 KiB cell limit meanwhile
    old_limit = csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(str(path), f"bad table: {exc}", line=reader.line_num) from None
    finally:
        csv.field_size_limit(old_limit)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _dataset(path: Path) -> TableRule:
    stem = path.stem.lower()
    rules = table_rules()  # declared by the benchmarks ([replay.vlmevalkit])
    for name in sorted(rules, key=len, reverse=True):
        if stem == name or stem.endswith("_" + name):
            return rules[name]
    known = ", ".join(f"_{d}" for r in dict.fromkeys(rules.values()) for d in r.datasets)
    raise InputError(
        str(path),
        "cannot tell which VLMEvalKit dataset this is: VLMEvalKit names its prediction files "
        f"{{model}}_{{dataset}}; halbench maps {known}",
    )


def vlmevalkit_rows(path: Path, data: bytes) -> list[Row]:
    if data.startswith(b"PK\x03\x04"):
        table = [(i + 1, [_cell(c) for c in r]) for i, r in enumerate(_read_xlsx(path))]
        table = [(n, r) for n, r in table if any(c.strip() for c in r)]
    else:
        table = _read_delimited(path, data)
    if not table:
        raise InputError(str(path), "no answers in file")
    header_line, header = table[0]
    columns = {name.strip(): i for i, name in enumerate(header)}
    by_image = _dataset(path).match == "image-question"
    needed = ["prediction", "index"] + (["question", "image_path"] if by_image else [])
    for name in needed:
        if name not in columns:
            raise InputError(
                str(path),
                f"no {name!r} column (columns: {', '.join(columns)})",
                line=header_line,
                field=name,
            )
    rows = []
    for number, cells in table[1:]:

        def get(name: str, number: int = number, cells: list[str] = cells) -> str:
            i = columns[name]
            value = cells[i].strip() if i < len(cells) else ""
            if name != "prediction" and not value:
                raise InputError(str(path), f"empty {name!r}", line=number, field=name)
            return cells[i] if name == "prediction" and i < len(cells) else value

        index = get("index")
        if by_image:
            image = get("image_path").replace("\\", "/").rsplit("/", 1)[-1]
            rec = {"image_file": image, "question": get("question"), "index": index}
        else:
            if not re.fullmatch(r"\d+", index):
                raise InputError(
                    str(path),
                    f"index must be a whole number, got {index!r}",
                    line=number,
                    field="index",
                )
            rec = {"item_id": str(int(index))}
            if "question" in columns:
                i = columns["question"]
                asked = cells[i].strip() if i < len(cells) else ""
                if asked:  # the item the index names must ask this (checked by the runner)
                    rec.update(asked=asked, asked_field="question")
        rows.append(Row(number, "", rec, get("prediction")))
    if not rows:
        raise InputError(str(path), "no answers in file")
    return rows
