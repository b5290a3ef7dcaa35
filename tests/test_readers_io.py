"""Valid JSON that Python cannot load or no output can hold: one line naming file and line
(found by tests/test_readers_fuzz.py; before, a ValueError, RecursionError or, when the
record was written, a UnicodeEncodeError traceback)."""

from __future__ import annotations

import pytest

from halbench.errors import InputError
from halbench.io import read_json, read_records

BIG = b"9" * 5000
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": 1}\n{"question_id": ' + BIG + b"}\n", r"f\.jsonl:2: a number of 5000 digits"),
        (b'{"question_id": ' + BIG + b"}\n", r"f\.jsonl:1: a number of 5000 digits"),
        (b'[\n{"a": 1},\n{"b": ' + BIG + b"}]", r"f\.jsonl:3: a number of 5000 digits"),
        (b'{\n"a":\n' + BIG + b"\n}", r"f\.jsonl:3: a number of 5000 digits"),
        (b'{"a": 1}\n' + DEEP + b"\n", r"f\.jsonl:2: JSON nested too deeply to read"),
        (DEEP, r"f\.jsonl:1: JSON nested too deeply to read"),
        (b'{"text": "x"}\n{"text": "\\ud800"}\n', r"f\.jsonl:2: a \\ud800-\\udfff escape without"),
        (b'[{"text": "x"},\n {"a": ["\\udfff"]}]', r"f\.jsonl:2: a \\ud800-\\udfff escape"),
        (b'{\n "text": "\\udc00"\n}', r"f\.jsonl:1: a \\ud800-\\udfff escape"),
    ],
)
def test_unreadable_json_is_an_input_error(tmp_path, data, message):
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_records(path)


def test_surrogate_pairs_are_fine_and_read_json_checks_too(tmp_path):
    path = tmp_path / "f.json"
    path.write_bytes(b'[{"text": "\\ud83d\\ude00"}]')
    assert read_records(path).rows[0][1]["text"] == "\U0001f600"
    path.write_bytes(b'{"a": "\\ud800"}')
    with pytest.raises(InputError, match=r"f\.json: a \\ud800"):
        read_json(path)
    path.write_bytes(b'{"a": ' + BIG + b"}")
    with pytest.raises(InputError, match=r"f\.json:1: a number of 5000 digits"):
        read_json(path)


@pytest.mark.parametrize("reader", [read_records, read_json])
def test_a_path_that_cannot_be_read_is_an_input_error(tmp_path, reader):
    (tmp_path / "file").write_text("{}")
    with pytest.raises(InputError, match=r"file/a\.jsonl: cannot read: Not a directory"):
        reader(tmp_path / "file" / "a.jsonl")
