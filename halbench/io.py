"""File helpers: strict JSON/JSONL reading with file:line errors, atomic writes, checksums.

Files and folders written here get the mode a plain ``open()``/``mkdir()`` would give them
(``0o666``/``0o777`` less the umask), not ``tempfile``'s private ``0o600``/``0o700``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from halbench.errors import InputError
from halbench.paths import cache_dir

_UMASK: int | None = None
_UMASK_LOCK = threading.Lock()


def _read_umask() -> int:
    try:  # Linux: read it without changing it (os.umask would race with other threads)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # elsewhere: set the strictest mask for an instant, so a racing file is never too open
    old = os.umask(0o077)
    os.umask(old)
    return old


def umask() -> int:
    """The process umask, read once (safely) and remembered."""
    global _UMASK
    if _UMASK is None:
        with _UMASK_LOCK:
            if _UMASK is None:
                _UMASK = _read_umask()
    return _UMASK


def make_temp_dir(parent: str | Path, prefix: str) -> Path:
    """A new empty folder in ``parent`` with ``mkdir``'s usual mode (``0o777`` less the umask).

    For building a result next to its destination and renaming it into place:
    ``tempfile.mkdtemp`` alone would leave the finished folder private (``0o700``).
    """
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(tmp, 0o777 & ~umask())
    return tmp


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A crash leaves either the old file or the new one, never a partial file. The file gets
    ``0o666`` less the umask, as ``open(path, "w")`` would give a new file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~umask())
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


def replace_dir(new: str | Path, target: str | Path) -> None:
    """Put the finished folder ``new`` at ``target``, replacing what was there.

    The old folder is moved aside first and removed only once ``new`` is in place; if the
    move fails, the old folder is put back. ``new`` must be on the same file system (a
    sibling made with ``make_temp_dir(target.parent, ...)``).
    """
    new, target = Path(new), Path(target)
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None:
            os.replace(old / target.name, target)
            old.rmdir()
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write_json(path: str | Path, obj: Any, *, indent: int | None = 1) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def describe_type(value: Any) -> str:
    """'a string', 'an integer', ... for error messages."""
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }
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
    except OSError as exc:  # not a folder on the way, no permission, ...
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    with f:
        yield from _jsonl_rows(path, f)


def _jsonl_rows(path: str | Path, lines: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                str(path),
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
                line=number,
            ) from None
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        if not line.strip():
            continue
        line = line.rstrip("\r\n")  # so that a column past the end stays on this line
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            cut = not raw.endswith(b"\n") or exc.pos >= len(line.rstrip())
            hint = " (truncated line?)" if cut else ""
            raise InputError(
                str(path), f"invalid JSON{hint}: {exc.msg} at column {exc.colno}", line=number
            ) from None
        except (ValueError, RecursionError):  # a number past Python's digit limit, deep nesting
            raise _unreadable(path, line, number) from None
        if not isinstance(obj, dict):
            raise InputError(
                str(path), f"expected a JSON object, got {describe_type(obj)}", line=number
            )
        _check_unicode(path, line, obj, number)
        yield number, obj


_LONG_NUMBER = re.compile(r"\d{4301,}")


def _unreadable(path: str | Path, text: str, line: int | None = None) -> InputError:
    """Valid JSON that Python cannot load: an integer past its digit limit, or nesting past
    its recursion limit. ``line``: the line ``text`` is (else where the number starts)."""
    long = _LONG_NUMBER.search(text)
    if long is None:
        return InputError(str(path), "JSON nested too deeply to read", line=line or 1)
    if line is None:
        line = text.count("\n", 0, long.start()) + 1
    return InputError(
        str(path), f"a number of {len(long.group())} digits (at most 4300 can be read)", line=line
    )


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_unicode(path: str | Path, text: str, value: Any, line: int | None) -> None:
    """A ``\\udXXX`` escape without its pair loads as a lone surrogate, which no output can
    hold (UTF-8 has no such character): an error here, like bytes that are not UTF-8."""
    if _SURROGATE.search(text) is None:
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            str(path),
            "a \\ud800-\\udfff escape without its pair (a lone surrogate, not valid Unicode)",
            line=line,
        ) from None


RecordsKind = Literal["array", "object", "jsonl"]


@dataclass(frozen=True)
class Records:
    """The objects of a JSON or JSONL file, each with the 1-based line where it starts.

    ``kind``: ``"array"`` (a JSON array of objects), ``"object"`` (one JSON object written
    over several lines) or ``"jsonl"`` (one object per line; also a one-line file holding
    one object, and an empty file, with no rows).
    """

    kind: RecordsKind
    rows: list[tuple[int, dict[str, Any]]]

    def where(self, index: int) -> str:
        """``"item K: "`` for an element of a JSON array (the line alone is ambiguous there)."""
        return f"item {index + 1}: " if self.kind == "array" else ""


_WS = " \t\r\n"


def read_records(path: str | Path) -> Records:
    """Read a JSON array, a JSON object or JSONL, chosen by content, not by file suffix.

    The first non-space character decides: ``[`` is a JSON array; ``{`` is JSONL when the
    first line parses on its own (more lines may follow), else one JSON document spanning
    lines; anything else is read as JSONL (and fails there with the line). Every element
    of an array must be an object; errors name the file and line (and ``item K``).
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, expected a JSON or JSONL file") from None
    except OSError as exc:  # not a folder on the way, no permission, ...
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    stripped = body.lstrip(_WS.encode())
    first = stripped[:1]
    if first == b"[":
        text = _decode_all(path, data)
        return Records("array", _array_rows(path, text))
    if first == b"{":
        head = stripped.split(b"\n", 1)[0]
        try:
            json.loads(head.decode("utf-8"))
        except UnicodeDecodeError:
            pass  # reported with its line and column by the JSONL reader
        except json.JSONDecodeError as exc:
            return _object_or_jsonl(path, data, head, exc)
        except (ValueError, RecursionError):
            pass  # a number too long or nesting too deep: the JSONL reader says where
        else:
            return Records("jsonl", list(_jsonl_rows(path, io.BytesIO(data))))
    return Records("jsonl", list(_jsonl_rows(path, io.BytesIO(data))))


def _decode_all(path: str | Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            str(path),
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column})",
            line=line,
        ) from None


def _invalid(path: str | Path, text: str, exc: json.JSONDecodeError, extra: str = "") -> InputError:
    cut = exc.pos >= len(text.rstrip())
    hint = " (truncated file?)" if cut else ""
    if exc.msg == "Extra data":
        hint = extra
    return InputError(
        str(path), f"invalid JSON{hint}: {exc.msg} at column {exc.colno}", line=exc.lineno
    )


_WS_RE = re.compile(r"[ \t\n\r]*")
_SEP_RE = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
_EXTRA = " (a JSON array followed by more text; JSONL lines must be objects)"


def _array_rows(path: str | Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    """Each element with the line it starts on: one pass of the C scanner, element by element."""
    scan = json.JSONDecoder().scan_once
    rows: list[tuple[int, dict[str, Any]]] = []
    pos = _WS_RE.match(text, text.index("[") + 1).end()  # type: ignore[union-attr]
    line, counted = 1, 0
    not_object: InputError | None = None  # raised once the whole text is known to be JSON
    try:
        if text[pos] != "]":
            while True:
                line += text.count("\n", counted, pos)
                counted = pos
                value, pos = scan(text, pos)
                if not isinstance(value, dict) and not_object is None:
                    not_object = InputError(
                        str(path),
                        f"item {len(rows) + 1}: expected a JSON object, got {describe_type(value)}",
                        line=line,
                    )
                rows.append((line, value))
                sep = _SEP_RE.match(text, pos)
                if sep is None:
                    raise ValueError
                pos = sep.end()
                if sep.group(1) == "]":
                    break
        else:
            pos += 1
        if text[pos:].strip(_WS):
            raise ValueError
    except (ValueError, StopIteration, IndexError, RecursionError):
        try:
            json.loads(text)  # the C parser's error says where and what
        except json.JSONDecodeError as exc:
            raise _invalid(path, text, exc, _EXTRA) from None
        except (ValueError, RecursionError):
            raise _unreadable(path, text) from None
        raise InputError(str(path), "invalid JSON", line=line) from None  # not reached
    if not_object is not None:
        raise not_object
    if _SURROGATE.search(text):
        for number, value in rows:
            _check_unicode(path, "\\ud800", value, number)
    return rows


def _object_or_jsonl(
    path: str | Path, data: bytes, head: bytes, head_error: json.JSONDecodeError
) -> Records:
    """The first line starts an object but does not parse alone: a multi-line JSON object,
    or JSONL whose first line is broken."""
    text = _decode_all(path, data)
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise _unreadable(path, text) from None
        head_text = head.decode("utf-8", errors="replace")
        broken_inside = head_error.pos < len(head_text.rstrip())
        if broken_inside or _second_line_is_object(text):
            list(_jsonl_rows(path, io.BytesIO(data)))  # raises with the line
        raise _invalid(path, text, exc) from None
    start = len(text) - len(text.lstrip(_WS))
    number = text.count("\n", 0, start) + 1
    _check_unicode(path, text, obj, number)
    return Records("object", [(number, obj)])


def _second_line_is_object(text: str) -> bool:
    lines = [x for x in text.lstrip(_WS).split("\n")[1:] if x.strip()]
    if not lines:
        return False
    try:
        return isinstance(json.loads(lines[0]), dict)
    except (ValueError, RecursionError):
        return False


def answer_lines(
    records: Records, path: str | Path, fields: tuple[str, ...] = ("answer", "text")
) -> list[tuple[int, Any, str]]:
    """``(line, question_id or None, text)`` for every record of an answer file.

    The text is the first of ``fields`` present; it must be a string. An empty file, or
    one multi-line JSON object, is an error.
    """
    if records.kind == "object":
        raise InputError(
            str(path),
            "expected JSONL (one answer object per line) or a JSON array of answer "
            "objects, got one JSON object",
        )
    rows = []
    for index, (number, rec) in enumerate(records.rows):
        at = records.where(index)
        name = next((f for f in fields if f in rec), None)
        if name is None:
            wanted = " or ".join(f'"{f}"' for f in fields)
            raise InputError(str(path), f"{at}missing {wanted}", line=number, field=fields[0])
        if not isinstance(rec[name], str):
            raise InputError(
                str(path),
                f'{at}"{name}" must be a string, got {describe_type(rec[name])}',
                line=number,
                field=name,
            )
        rows.append((number, rec.get("question_id"), rec[name]))
    if not rows:
        raise InputError(str(path), "no answers in file")
    return rows


def read_answer_lines(
    path: str | Path, fields: tuple[str, ...] = ("answer", "text")
) -> list[tuple[int, Any, str]]:
    """``answer_lines`` of ``read_records(path)``: JSONL or a JSON array, whatever the suffix."""
    return answer_lines(read_records(path), path, fields)


def read_json(path: str | Path) -> Any:
    """Load a JSON document, with a clear error for missing files, bad bytes or bad JSON."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, expected a JSON file") from None
    except OSError as exc:  # not a folder on the way, no permission, ...
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            str(path), f"not valid UTF-8 (byte 0x{data[exc.start]:02x})", line=line
        ) from None
    try:
        value = json.loads(text)
        _check_unicode(path, text, value, None)
        return value
    except json.JSONDecodeError as exc:
        raise InputError(
            str(path), f"invalid JSON: {exc.msg} at column {exc.colno}", line=exc.lineno
        ) from None
    except (ValueError, RecursionError):
        raise _unreadable(path, text) from None


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
