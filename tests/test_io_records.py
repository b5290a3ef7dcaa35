"""JSON array, JSON object or JSONL told apart by content (``read_records``), whatever the suffix,
and the four answer readers that use it (Object HalBench, VQAv2, AMBER, MMHal-Bench)."""

from __future__ import annotations

import json

import pytest

from benchmarks.amber.score import load_responses
from benchmarks.mmhal_bench.score import load_answers as load_mmhal_answers
from benchmarks.vqav2.score import load_predictions
from halbench.answers import load_object_halbench_answers
from halbench.errors import InputError
from halbench.io import read_answer_lines, read_records

SUFFIXES = [".json", ".jsonl", ".txt"]


def jsonl(records):
    return "".join(json.dumps(r) + "\n" for r in records)


def pretty_array(records):
    return json.dumps(records, indent=1) + "\n"


def compact_array(records):
    return json.dumps(records)


FORMATS = {"jsonl": jsonl, "pretty array": pretty_array, "compact array": compact_array}
CASES = [(f, s) for f in FORMATS for s in SUFFIXES]
IDS = [f"{f}{s}" for f, s in CASES]


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- read_records


@pytest.mark.parametrize(("fmt", "suffix"), CASES, ids=IDS)
def test_records_by_content(tmp_path, fmt, suffix):
    recs = [{"a": 1}, {"b": [1, 2]}, {"c": "x\ny"}]
    got = read_records(write(tmp_path, f"f{suffix}", FORMATS[fmt](recs)))
    assert [r for _, r in got.rows] == recs
    assert got.kind == ("jsonl" if fmt == "jsonl" else "array")
    lines = {"jsonl": [1, 2, 3], "pretty array": [2, 5, 11], "compact array": [1, 1, 1]}[fmt]
    assert [n for n, _ in got.rows] == lines  # for an array: the line where each element starts


def test_array_element_lines(tmp_path):
    text = '[\n\n  {"a": 1}, {"b": 2},\n  {"c":\n    3},\n\n{"d": 4}]'
    got = read_records(write(tmp_path, "a.jsonl", text))
    assert [n for n, _ in got.rows] == [3, 3, 4, 7]
    assert (
        got.where(0) == "item 1: " and read_records(write(tmp_path, "b", '{"a": 1}')).where(0) == ""
    )


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_object_and_jsonl_that_starts_like_one(tmp_path, suffix):
    # a JSON object spanning lines: one document
    got = read_records(write(tmp_path, f"o{suffix}", '\n{\n "imgToEval": {\n  "1": {}\n }\n}\n'))
    assert got.kind == "object" and got.rows == [(2, {"imgToEval": {"1": {}}})]
    # JSONL whose first line is a complete object, more lines following
    got = read_records(write(tmp_path, f"j{suffix}", '{"a": 1}\n\n{"b": 2}\n'))
    assert got.kind == "jsonl" and got.rows == [(1, {"a": 1}), (3, {"b": 2})]
    # one object on one line is JSONL with one record (it is valid JSONL)
    got = read_records(write(tmp_path, f"one{suffix}", '{"a": 1}'))
    assert got.kind == "jsonl" and got.rows == [(1, {"a": 1})]


def test_bom_blank_and_empty(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b'\xef\xbb\xbf[{"a": 1}]')
    assert read_records(p).rows == [(1, {"a": 1})]
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}\n{"b": 2}\n')
    assert read_records(p).rows == [(1, {"a": 1}), (2, {"b": 2})]
    p.write_bytes(b'\xef\xbb\xbf{\n"a": 1}\n')
    assert read_records(p).rows == [(1, {"a": 1})]
    for content in (b"", b"\n \n"):
        p.write_bytes(content)
        assert read_records(p).kind == "jsonl" and read_records(p).rows == []


BAD = [
    # (file content, error text after "<file>:") -- each names the line
    ('[{"a": 1},\n {"b": 2}\n', r"3: invalid JSON \(truncated file\?\): Expecting ',' delimiter"),
    ('[{"a": 1},\n "text"]', r"2: item 2: expected a JSON object, got a string"),
    (
        "[1, 2]\n[3, 4]\n",
        r"2: invalid JSON \(a JSON array followed by more text; JSONL lines must be objects\)",
    ),
    ('{"a": 1,, }\n{"b": 2}\n', r"1: invalid JSON: Expecting property name .* at column 9"),
    (
        '{"a": 1, "b"\n{"b": 2}\n',
        r"1: invalid JSON \(truncated line\?\): Expecting ':' delimiter at column 13",
    ),
    ('{"a": 1}\n{"b": \n', r"2: invalid JSON \(truncated line\?\)"),
    ('{"a": 1}\n[1]\n', r"2: expected a JSON object, got an array"),
    ('{\n "a": 1,\n "b": \n}\n', r"4: invalid JSON: Expecting value at column 1"),
    ('{\n "a": [1,\n', r"3: invalid JSON \(truncated file\?\)"),
    ('"just a string"\n', r"1: expected a JSON object, got a string"),
]


@pytest.mark.parametrize(("content", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_errors_name_the_line(tmp_path, suffix, content, message):
    p = write(tmp_path, f"bad{suffix}", content)
    with pytest.raises(InputError, match=rf"bad{suffix}:{message}") as err:
        read_records(p)
    assert err.value.path == str(p) and err.value.line is not None


def test_bytes_and_paths(tmp_path):
    p = tmp_path / "u.json"
    p.write_bytes(b'[\n {"a": "caf\xe9"}\n]')
    with pytest.raises(InputError, match=r"u\.json:2: not valid UTF-8 \(byte 0xe9 at column 12\)"):
        read_records(p)
    p.write_bytes(b'{"a": 1}\n{"a": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"u\.json:2: not valid UTF-8 \(byte 0xe9 at column 11\)"):
        read_records(p)
    with pytest.raises(InputError, match=r"nope\.json: file not found"):
        read_records(tmp_path / "nope.json")
    with pytest.raises(InputError, match="is a directory, expected a JSON or JSONL file"):
        read_records(tmp_path)


def test_answer_lines(tmp_path):
    p = write(tmp_path, "a.txt", pretty_array([{"answer": "yes", "question_id": 3}, {"text": 5}]))
    with pytest.raises(
        InputError, match=r'a\.txt:6: item 2: "text" must be a string, got an integer'
    ):
        read_answer_lines(p)
    p = write(tmp_path, "a.jsonl", pretty_array([{"answer": "yes", "question_id": 3}]))
    assert read_answer_lines(p) == [(2, 3, "yes")]
    p = write(tmp_path, "o.jsonl", '{\n "answer": "yes"\n}\n')
    with pytest.raises(InputError, match=r"o\.jsonl: expected JSONL .* got one JSON object"):
        read_answer_lines(p)


# --------------------------------------------------------------------------- the four readers


@pytest.mark.parametrize(("fmt", "suffix"), CASES, ids=IDS)
def test_object_halbench_answers(tmp_path, fmt, suffix):
    recs = [
        {"image_id": 1, "question": "q", "text": "Assistant: a dog"},
        {"image_id": 2, "question": "q", "text": "a cat"},
    ]
    got = load_object_halbench_answers(write(tmp_path, f"a{suffix}", FORMATS[fmt](recs)))
    assert [(a.image_id, a.answer) for a in got] == [(1, "a dog"), (2, "a cat")]
    assert got[1].line == {"jsonl": 2, "pretty array": 7, "compact array": 1}[fmt]
    bad = [recs[0], {"image_id": 2, "question": "q"}]
    p = write(tmp_path, f"b{suffix}", FORMATS[fmt](bad))
    line = {"jsonl": 2, "pretty array": 7, "compact array": 1}[fmt]
    prefix = "" if fmt == "jsonl" else "item 2: "
    with pytest.raises(InputError, match=rf'b{suffix}:{line}: {prefix}missing "text" or "answer"'):
        load_object_halbench_answers(p)


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("indent", [None, 1])
def test_object_halbench_chair_format(tmp_path, suffix, indent):
    data = {"overall": {}, "imgToEval": {"1": {"image_id": 1, "caption": " a dog "}}}
    got = load_object_halbench_answers(
        write(tmp_path, f"c{suffix}", json.dumps(data, indent=indent))
    )
    assert [(a.image_id, a.answer) for a in got] == [(1, " a dog ")]
    p = write(tmp_path, f"d{suffix}", json.dumps({"overall": {}}, indent=1))
    with pytest.raises(InputError, match=r'got a JSON object without "imgToEval"'):
        load_object_halbench_answers(p)


@pytest.mark.parametrize(("fmt", "suffix"), CASES, ids=IDS)
def test_vqav2_predictions(tmp_path, fmt, suffix):
    recs = [{"question_id": 1, "answer": "yes"}, {"question_id": 2, "answer": "2"}]
    assert load_predictions(write(tmp_path, f"p{suffix}", FORMATS[fmt](recs))) == {1: "yes", 2: "2"}
    p = write(tmp_path, f"b{suffix}", FORMATS[fmt]([*recs, {"question_id": "3", "answer": "x"}]))
    line = {"jsonl": 3, "pretty array": 10, "compact array": 1}[fmt]
    prefix = "" if fmt == "jsonl" else "item 3: "
    with pytest.raises(
        InputError,
        match=rf'b{suffix}:{line}: {prefix}"question_id" must be an integer, got a string',
    ):
        load_predictions(p)


@pytest.mark.parametrize(("fmt", "suffix"), CASES, ids=IDS)
def test_amber_responses(tmp_path, fmt, suffix):
    recs = [{"id": 2, "response": "a dog"}, {"id": 1, "response": "No"}]
    got = load_responses(write(tmp_path, f"r{suffix}", FORMATS[fmt](recs)), 10)
    assert [(i, t) for i, t, _ in got] == [(2, "a dog"), (1, "No")]
    p = write(tmp_path, f"b{suffix}", FORMATS[fmt]([*recs, {"id": 11, "response": "x"}]))
    line = {"jsonl": 3, "pretty array": 10, "compact array": 1}[fmt]
    prefix = "" if fmt == "jsonl" else "item 3: "
    with pytest.raises(InputError, match=rf"b{suffix}:{line}: {prefix}id 11 is not an AMBER item"):
        load_responses(p, 10)


@pytest.mark.parametrize(("fmt", "suffix"), CASES, ids=IDS)
def test_mmhal_answers(tmp_path, fmt, suffix):
    recs = [{"question_id": i, "text": f"answer {i}"} for i in range(96)]
    texts, how = load_mmhal_answers(write(tmp_path, f"m{suffix}", FORMATS[fmt](recs[::-1])))
    # records with question ids are merged by id, JSONL or a JSON list (issue 13 item 5);
    # only a file where no record has one is merged by position, like the reference
    assert how == "question_id" and texts[0] == "answer 0"


@pytest.mark.parametrize(
    "loader",
    [
        load_object_halbench_answers,
        load_predictions,
        lambda p: load_responses(p, 10),
        load_mmhal_answers,
    ],
    ids=["objhal", "vqav2", "amber", "mmhal"],
)
def test_one_multiline_object_is_refused_clearly(tmp_path, loader):
    p = write(tmp_path, "x.jsonl", '{\n "question_id": 1,\n "id": 1\n}\n')
    with pytest.raises(InputError, match=r"x\.jsonl: expected .*(got one JSON object|imgToEval)"):
        loader(p)


@pytest.mark.parametrize(
    "loader",
    [
        load_object_halbench_answers,
        load_predictions,
        lambda p: load_responses(p, 10),
        load_mmhal_answers,
    ],
    ids=["objhal", "vqav2", "amber", "mmhal"],
)
def test_empty_file(tmp_path, loader):
    p = write(tmp_path, "e.json", "")
    with pytest.raises(InputError, match=r"(no answers|no responses|0 answers for 96)"):
        loader(p)


def test_array_edges(tmp_path):
    for text in ("[]", " [ ]\n", "\n[\n]\n"):
        got = read_records(write(tmp_path, "e.jsonl", text))
        assert got.kind == "array" and got.rows == []
    with pytest.raises(InputError, match=r"e\.jsonl: no answers in file"):
        load_predictions(write(tmp_path, "e.jsonl", "[ ]"))
    got = read_records(write(tmp_path, "s.txt", '[ {"a": "]},[{"} ,{"b":1}\n]  \n'))
    assert [r for _, r in got.rows] == [{"a": "]},[{"}, {"b": 1}]
    with pytest.raises(InputError, match=r"t\.json:1: invalid JSON .*Extra data at column 12"):
        read_records(write(tmp_path, "t.json", '[{"a": 1}] x'))
    with pytest.raises(
        InputError, match=r"u\.json:1: invalid JSON: Expecting ',' delimiter at column 11"
    ):
        read_records(write(tmp_path, "u.json", '[{"a": 1} {"b": 2}]'))
