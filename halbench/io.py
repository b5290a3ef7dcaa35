"""File helpers: strict JSON/JSONL reading with file:line errors, atomic writes, checksums."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from halbench.errors import InputError
from halbench.paths import cache_dir


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A crash leaves either the old file or the new one, never a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_json(path: str | Path, obj: Any, *, indent: int | None = 1) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def describe_type(value: Any) -> str:
    """'a string', 'an integer', ... for error messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file.

    Raises ``InputError`` naming the file and line for bytes that are not UTF-8,
    text that is not JSON (a truncated line, say), or a line that is not an object.
    """
    p = Path(path)
    try:
        f = p.open("rb")
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, expected a JSONL file") from None
    with f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    str(path), f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
                    line=number,
                ) from None  # fmt: skip
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                cut = not raw.endswith(b"\n") or exc.pos >= len(line.rstrip())
                hint = " (truncated line?)" if cut else ""
                raise InputError(
                    str(path), f"invalid JSON{hint}: {exc.msg} at column {exc.colno}", line=number
                ) from None
            if not isinstance(obj, dict):
                raise InputError(
                    str(path), f"expected a JSON object, got {describe_type(obj)}", line=number
                )
            yield number, obj


def read_answer_lines(
    path: str | Path, fields: tuple[str, ...] = ("answer", "text")
) -> list[tuple[int, Any, str]]:
    """``(line, question_id or None, text)`` for every line of a JSONL answer file.

    The text is the first of ``fields`` present; it must be a string. An empty file is an error.
    """
    rows = []
    for number, rec in read_jsonl(path):
        name = next((f for f in fields if f in rec), None)
        if name is None:
            wanted = " or ".join(f'"{f}"' for f in fields)
            raise InputError(str(path), f"missing {wanted}", line=number, field=fields[0])
        if not isinstance(rec[name], str):
            raise InputError(
                str(path),
                f'"{name}" must be a string, got {describe_type(rec[name])}',
                line=number,
                field=name,
            )
        rows.append((number, rec.get("question_id"), rec[name]))
    if not rows:
        raise InputError(str(path), "no answers in file")
    return rows


def read_json(path: str | Path) -> Any:
    """Load a JSON document, with a clear error for missing files, bad bytes or bad JSON."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, expected a JSON file") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            str(path), f"not valid UTF-8 (byte 0x{data[exc.start]:02x})", line=line
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            str(path), f"invalid JSON: {exc.msg} at column {exc.colno}", line=exc.lineno
        ) from None


# --------------------------------------------------------------------------- checksums

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | Path, *, memo_dir: Path | None = None) -> str:
    """sha256 of a file, remembered across runs by (path, size, mtime, inode).

    Hashing 1 GB of COCO annotations takes about a second; the memo makes a warm
    start cost one ``stat`` per file. Pass ``memo_dir`` to choose where the memo
    lives (default: halbench's cache directory).
    """
    p = Path(path).resolve()
    st = p.stat()
    stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
    memo_path = (memo_dir or cache_dir()) / "checksums.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    entry = memo.get(str(p))
    if (
        isinstance(entry, dict)
        and entry.get("stamp") == stamp
        and isinstance(entry.get("sha256"), str)
    ):
        return entry["sha256"]
    digest = sha256_file(p)
    memo[str(p)] = {"stamp": stamp, "sha256": digest}
    try:
        atomic_write_json(memo_path, memo, indent=None)
    except OSError:  # read-only cache directory: still correct, just not remembered
        pass
    return digest
