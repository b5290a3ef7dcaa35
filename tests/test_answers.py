"""Reading answer files: accepted forms, the reference's quirks, and clear errors."""

from __future__ import annotations

import json

import pytest

from halbench.answers import clean_answer, coh_cut, load_object_halbench_answers
from halbench.coco import parse_coco_id
from halbench.errors import InputError


def write_lines(path, lines):
    path.write_text("".join((json.dumps(x) if not isinstance(x, str) else x) + "\n" for x in lines))
    return path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (441147, 441147),
        ("441147", 441147),
        ("000000441147", 441147),
        ("COCO_val2014_000000441147.jpg", 441147),
        ("COCO_train2014_000000000009.jpg", 9),
        ("000000441147.jpg", 441147),
        ("images/COCO_val2014_000000441147.jpg", 441147),
        ("dog.jpg", None),
        ("abc_123.jpg", None),
        (True, None),
        (4.0, None),
        (None, None),
        ([1], None),
    ],
)
def test_image_id_forms(value, expected):
    assert parse_coco_id(value) == expected


def test_fields_and_precedence(tmp_path):
    p = write_lines(
        tmp_path / "a.jsonl",
        [
            {
                "image_id": "000000000001",
                "question": "Q1",
                "answer": "Assistant: A dog. Assistant:",
                "extra": [1],
            },
            {"image_id": 2, "prompt": "P", "question": "Q", "text": "T", "answer": "A"},
            "",
            {"image_id": "COCO_val2014_000000000003.jpg", "prompt": "P3", "answer": "  x  "},
        ],
    )
    got = load_object_halbench_answers(p)
    assert [a.image_id for a in got] == [1, 2, 3]
    assert got[0].answer == "A dog."
    assert (
        got[0].fields["extra"] == [1] and got[0].fields["answer"] == "Assistant: A dog. Assistant:"
    )
    # the reference prefers "prompt" over "question" and "text" over "answer"
    assert got[1].question == "P" and got[1].answer == "T"
    assert got[2].answer == "x" and got[2].line == 4


def test_assistant_removed_everywhere():
    assert clean_answer("Assistant: a dog.\nAssistant:a cat Assistant:") == "a dog.\na cat"


def test_questions_file_positional_join(tmp_path):
    q = write_lines(
        tmp_path / "q.jsonl", [{"image_id": 5, "question": "x"}, {"image_id": "000000000007"}]
    )
    a = write_lines(
        tmp_path / "a.jsonl",
        [
            {"question_id": 0, "prompt": "x", "text": "a"},
            {"question_id": 1, "prompt": "y", "text": "b"},
        ],
    )
    got = load_object_halbench_answers(a, questions_path=q)
    assert [x.image_id for x in got] == [5, 7]
    short = write_lines(tmp_path / "q2.jsonl", [{"image_id": 5}])
    with pytest.raises(InputError, match=r"a\.jsonl:2: answer 2 has no image_id"):
        load_object_halbench_answers(a, questions_path=short)
    long = write_lines(tmp_path / "q3.jsonl", [{"image_id": 5}, {"image_id": 6}, {"image_id": 7}])
    with pytest.raises(InputError, match="2 answers but 3 questions"):
        load_object_halbench_answers(a, questions_path=long)


def test_coh_cut():
    text = "Generate a response with errors. A cat. Generate a response without errors. A dog."
    assert coh_cut(text) == "A dog."
    assert coh_cut("A dog. The following is a response with hallucination. A cat.") == "A dog."
    assert coh_cut("plain") == "plain"


def test_coh_auto_follows_the_path(tmp_path_factory):
    # (tmp_path itself would contain "coh": it is named after this test, which is the quirk)
    tmp_path = tmp_path_factory.mktemp("plain")
    rec = [
        {
            "image_id": 1,
            "question": "q",
            "answer": "Bad. The following is a response without hallucination. Good.",
        }
    ]
    plain = write_lines(tmp_path / "answers.jsonl", rec)
    (tmp_path / "coh_model").mkdir()
    coh = write_lines(tmp_path / "coh_model" / "answers.jsonl", rec)
    assert load_object_halbench_answers(plain)[0].answer.startswith("Bad.")
    assert load_object_halbench_answers(coh)[0].answer == "Good."
    assert load_object_halbench_answers(coh, coh="off")[0].answer.startswith("Bad.")
    assert load_object_halbench_answers(plain, coh="on")[0].answer == "Good."


def test_json_array_and_chair_formats(tmp_path):
    arr = tmp_path / "a.json"
    arr.write_text(json.dumps([{"image_id": 1, "question": "q", "text": "Assistant: a dog"}]))
    assert load_object_halbench_answers(arr)[0].answer == "a dog"
    chair = tmp_path / "c.json"
    chair.write_text(
        json.dumps({"overall": {}, "imgToEval": {"1": {"image_id": 1, "caption": " a dog "}}})
    )
    got = load_object_halbench_answers(chair)
    assert got[0].image_id == 1 and got[0].answer == " a dog " and got[0].question is None
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps([{"image_id": 1, "question": "q"}]))
    with pytest.raises(InputError, match=r'b\.json:1: item 1: missing "text" or "answer"'):
        load_object_halbench_answers(bad)


BAD = [
    (
        "truncated",
        b'{"image_id": 1, "question": "q", "answer": "a"}\n{"image_id": 2, "quest',
        r"a\.jsonl:2: invalid JSON \(truncated line\?\)",
    ),
    (
        "not utf-8",
        b'{"image_id": 1, "question": "q", "answer": "a"}\n{"image_id": 2, "question": "q", "answer": "caf\xe9"}\n',
        r"a\.jsonl:2: not valid UTF-8 \(byte 0xe9",
    ),
    (
        "answer type",
        b'{"image_id": 1, "question": "q", "answer": 5}\n',
        r'a\.jsonl:1: "answer" must be a string, got an integer',
    ),
    (
        "question type",
        b'{"image_id": 1, "question": null, "answer": "a"}\n',
        r'a\.jsonl:1: "question" must be a string, got null',
    ),
    (
        "image id type",
        b'{"image_id": 1.5, "question": "q", "answer": "a"}\n',
        r'a\.jsonl:1: "image_id" must be a COCO image id',
    ),
    (
        "image id text",
        b'{"image_id": "dog.png", "question": "q", "answer": "a"}\n',
        r'a\.jsonl:1: "image_id" must be a COCO image id',
    ),
    (
        "missing answer",
        b'{"image_id": 1, "question": "q"}\n',
        r'a\.jsonl:1: missing "text" or "answer"',
    ),
    (
        "missing question",
        b'{"image_id": 1, "answer": "a"}\n',
        r'a\.jsonl:1: missing "prompt" or "question"',
    ),
    (
        "missing image",
        b'{"question": "q", "answer": "a"}\n',
        r'a\.jsonl:1: missing "image_id" \(for RLHF-V answer files',
    ),
    ("not an object", b"[1, 2]\n", r"a\.jsonl:1: item 1: expected a JSON object, got an integer"),
    ("empty", b"", r"a\.jsonl: no answers in file"),
    ("blank lines only", b"\n  \n", r"a\.jsonl: no answers in file"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_malformed(tmp_path, name, content, message):
    p = tmp_path / "a.jsonl"
    p.write_bytes(content)
    with pytest.raises(InputError, match=message) as err:
        load_object_halbench_answers(p)
    assert err.value.path == str(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_object_halbench_answers(tmp_path / "nope.jsonl")
