"""``--model replay:FILE`` alignment: ids decide (a missing or repeated id names its line),
position only when no line carries an id, content detection with line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from halbench.errors import InputError
from halbench.runners import GenerationSettings, Request
from halbench.runners.replay import ReplayRunner


def write(tmp_path: Path, name: str, recs: list[dict] | str) -> Path:
    p = tmp_path / name
    p.write_text(recs if isinstance(recs, str) else "".join(json.dumps(r) + "\n" for r in recs))
    return p


def requests(keys, image_ids=None, questions=None):
    return [
        Request(
            k,
            (questions or {}).get(k, f"question {k}"),
            None,
            None if image_ids is None else image_ids[i],
        )
        for i, k in enumerate(keys)
    ]


def aligned(path, reqs):
    runner = ReplayRunner(path)
    runner.check(reqs)
    got = dict(runner.generate(reqs, GenerationSettings(), batch_size=1))
    return got, runner.info.details


def test_item_ids_decide_in_any_order(tmp_path):
    p = write(tmp_path, "a.jsonl", [{"item_id": "b", "text": "B"}, {"item_id": "a", "text": "A"}])
    got, details = aligned(p, requests(["a", "b"]))
    assert got == {"a": "A", "b": "B"}
    assert details["matched_by"] == "item_id" and details["format"] == "halbench"


def test_duplicate_item_id_names_both_lines(tmp_path):
    p = write(
        tmp_path,
        "a.jsonl",
        [
            {"item_id": "a", "text": "1"},
            {"item_id": "b", "text": "2"},
            {"item_id": "a", "text": "3"},
        ],
    )
    with pytest.raises(InputError) as e:
        ReplayRunner(p).check(requests(["a", "b"]))
    assert e.value.line == 3 and e.value.field == "item_id"
    assert str(e.value) == f"{p}:3: duplicate item_id 'a' (first on line 1)"


def test_a_line_without_the_id_is_an_error(tmp_path):
    p = write(tmp_path, "a.jsonl", [{"item_id": "a", "text": "1"}, {"text": "2"}])
    with pytest.raises(InputError) as e:
        ReplayRunner(p).check(requests(["a", "b"]))
    assert (e.value.line, e.value.field) == (2, "item_id")
    assert 'no "item_id"' in str(e.value) and "ids decide" in str(e.value)
    # one line with an id is enough to rule out position, even with one line per item
    with pytest.raises(InputError, match=r":2: no \"item_id\""):
        ReplayRunner(p).check(requests(["x", "y"]))


def test_a_bad_id_type_names_line_and_field(tmp_path):
    p = write(
        tmp_path, "a.jsonl", [{"question_id": 1, "text": "1"}, {"question_id": [2], "text": "2"}]
    )
    with pytest.raises(InputError) as e:
        ReplayRunner(p).check(requests(["1", "2"]))
    assert (e.value.line, e.value.field) == (2, "question_id")
    assert 'a bad (an array) "question_id"' in str(e.value)


def test_question_ids_that_name_items_decide(tmp_path):
    p = write(
        tmp_path, "a.jsonl", [{"question_id": 2, "text": "two"}, {"question_id": 1, "text": "one"}]
    )
    got, details = aligned(p, requests(["1", "2"]))
    assert got == {"1": "one", "2": "two"} and details["matched_by"] == "question_id"
    # some named, none missing from the line: the missing item is named, no position fallback
    p = write(
        tmp_path, "b.jsonl", [{"question_id": 1, "text": "one"}, {"question_id": 9, "text": "?"}]
    )
    with pytest.raises(InputError, match=r"no answer for item\(s\) 2 \(matched by question_id\)"):
        ReplayRunner(p).check(requests(["1", "2"]))
    p = write(
        tmp_path, "c.jsonl", [{"question_id": 1, "text": "a"}, {"question_id": 1, "text": "b"}]
    )
    with pytest.raises(
        InputError, match=r"c.jsonl:2: duplicate question_id '1' \(first on line 1\)"
    ):
        ReplayRunner(p).check(requests(["1", "2"]))


def test_position_only_without_ids(tmp_path):
    # RLHF-V's generator numbers its lines from 0: those are not item ids
    p = write(tmp_path, "r.jsonl", [{"question_id": i, "text": f"t{i}"} for i in range(3)])
    got, details = aligned(p, requests(["x", "y", "z"]))
    assert got == {"x": "t0", "y": "t1", "z": "t2"} and details["matched_by"] == "position"
    with pytest.raises(
        InputError, match="cannot match 3 answers to 2 items: no line carries an id"
    ):
        ReplayRunner(p).check(requests(["x", "y"]))


def test_position_survives_a_resumed_run(tmp_path):
    """The store already has some answers: generate() gets only the rest, still aligned."""
    p = write(tmp_path, "r.jsonl", [{"text": f"t{i}"} for i in range(3)])
    reqs = requests(["x", "y", "z"])
    runner = ReplayRunner(p)
    runner.check(reqs)
    assert dict(runner.generate(reqs[2:], GenerationSettings(), batch_size=1)) == {"z": "t2"}
    assert list(runner.generate([], GenerationSettings(), batch_size=1)) == []


def test_image_id_and_question(tmp_path):
    recs = [
        {"question_id": 0, "image_id": 42, "question": "Describe.", "text": "forty-two"},
        {"question_id": 1, "image_id": 7, "question": "Describe.", "text": "seven"},
    ]
    p = write(tmp_path, "c.jsonl", recs)
    reqs = requests(["7", "42"], image_ids=[7, 42], questions={"7": "Describe.", "42": "Describe."})
    got, details = aligned(p, reqs)
    assert got == {"7": "seven", "42": "forty-two"} and details["matched_by"] == "image_id+question"
    p = write(tmp_path, "d.jsonl", [*recs, {**recs[0], "text": "again"}])
    with pytest.raises(InputError) as e:
        ReplayRunner(p).check(reqs)
    assert e.value.line == 3 and "duplicate image_id+question '42 + Describe.'" in str(e.value)


@pytest.mark.parametrize("name", ["a.json", "a.jsonl", "a.txt"])
def test_json_or_jsonl_by_content_not_suffix(tmp_path, name):
    recs = [{"item_id": "a", "text": "A"}, {"item_id": "b", "answer": "B"}]
    for text in (json.dumps(recs, indent=1), "".join(json.dumps(r) + "\n" for r in recs)):
        got, _ = aligned(write(tmp_path, name, text), requests(["a", "b"]))
        assert got == {"a": "A", "b": "B"}


def test_bad_json_names_the_line(tmp_path):
    p = write(tmp_path, "a.json", '{"item_id": "a", "text": "A"}\n{"item_id": "b", "text": \n')
    with pytest.raises(InputError, match=r"a.json:2: invalid JSON"):
        ReplayRunner(p)
    p = write(tmp_path, "b.json", '[{"item_id": "a", "text": "A"},\n {"item_id": "b", "text": 3}]')
    with pytest.raises(InputError) as e:
        ReplayRunner(p)
    assert str(e.value) == f'{p}:2: item 2: "text" must be a string, got an integer'
    p = write(tmp_path, "c.json", '{\n "item_id": "a",\n "text": "A"\n}\n')
    with pytest.raises(InputError, match="got one JSON object"):
        ReplayRunner(p)
