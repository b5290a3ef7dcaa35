"""Answer readers: one alignment rule for every scorer (issue 13 item 5), and fields a
scorer does not read never reject a file (item 6)."""

from __future__ import annotations

import json
import random

import pytest

from benchmarks.chair.score import load_answers as load_chair_answers
from benchmarks.llava_bench_coco.score import load_answers as load_llava_answers
from benchmarks.llava_bench_coco.score import load_questions as llava_questions
from benchmarks.mmhal_bench.score import load_answers as load_mmhal_answers
from benchmarks.pope.score import load_answers as load_pope_answers
from halbench.answers import align_answers, load_object_halbench_answers
from halbench.cli import main
from halbench.errors import InputError
from halbench.types import ResultRecord

from .conftest import CAPS_BOXES


def write_jsonl(path, recs):
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


# --------------------------------------------------------------------------- the rule


def test_position_only_when_no_line_has_an_id():
    rows = [(1, None, "a"), (2, None, "b")]
    assert align_answers("f", rows, [10, 11]) == (["a", "b"], "position")
    with pytest.raises(InputError, match=r"^f: 2 answers for 3 questions, and no line has a"):
        align_answers("f", rows, [10, 11, 12])
    with pytest.raises(InputError, match=r'^f:1: missing "question_id"'):
        align_answers("f", rows, [10, 11], by_position=False)


def test_ids_decide_whatever_the_order():
    rows = [(1, 11, "b"), (2, 10, "a")]
    assert align_answers("f", rows, [10, 11]) == (["a", "b"], "question_id")
    assert align_answers("f", rows, [10, 11], key="id") == (["a", "b"], "id")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(1, 10, "a"), (2, None, "b")], r'^f:2: no "question_id" here, but line 1 has one'),
        ([(1, None, "a"), (3, 11, "b")], r'^f:1: no "question_id" here, but line 3 has one'),
        (
            [(1, 10, "a"), (2, 10, "b")],
            r"^f:2: question_id 10 is answered twice \(first on line 1\)",
        ),
        ([(1, 10, "a"), (2, 12, "b")], r"^f:2: question_id 12 is not a question of this benchmark"),
        (
            [(1, 10, "a"), (2, "11", "b")],
            r'^f:2: question_id "11" is not a question .* \(a string: the',
        ),
        (
            [(1, 10, "a"), (2, True, "b")],
            r'^f:2: "question_id" must be an integer or a string, got a boolean',
        ),
        (
            [(1, 10, "a"), (2, [11], "b")],
            r'^f:2: "question_id" must be an integer or a string, got an array',
        ),
        ([(1, 10, "a")], r"^f: 1 of 2 questions have no answer, e.g. 11$"),
    ],
)
def test_a_bad_id_is_an_error_naming_the_line(rows, message):
    with pytest.raises(InputError, match=message):
        align_answers("f", rows, [10, 11])


def test_missing_allowed_leaves_a_hole_and_arrays_say_item():
    assert align_answers("f", [(4, 11, "b")], [10, 11], allow_missing=True) == (
        [None, "b"],
        "question_id",
    )
    with pytest.raises(InputError, match=r"^f:5: item 2: question_id 10 is answered twice"):
        align_answers("f", [(2, 10, "a"), (5, 10, "b")], [10, 11], array=True)


# --------------------------------------------------------------------------- LLaVA-Bench


def test_llava_bench_shuffled_file_with_a_duplicated_id_is_an_error(tmp_path):
    """The issue's case: before, all 90 answers were judged against other questions, exit 0."""
    qs = llava_questions()
    recs = [{"question_id": q["question_id"], "text": f"answer {q['question_id']}"} for q in qs]
    random.Random(0).shuffle(recs)
    recs[7]["question_id"] = recs[8]["question_id"]
    path = write_jsonl(tmp_path / "a.jsonl", recs)
    with pytest.raises(InputError, match=r"a\.jsonl:9: question_id \d+ is answered twice"):
        load_llava_answers(path, qs)
    recs[7]["question_id"] = 999
    write_jsonl(path, recs)
    with pytest.raises(InputError, match=r"a\.jsonl:8: question_id 999 is not a question"):
        load_llava_answers(path, qs)
    del recs[7]["question_id"]
    write_jsonl(path, recs)
    with pytest.raises(InputError, match=r'a\.jsonl:8: no "question_id" here'):
        load_llava_answers(path, qs)


def test_llava_bench_ids_decide_and_position_without_ids(tmp_path):
    qs = llava_questions()
    recs = [{"question_id": q["question_id"], "text": f"answer {q['question_id']}"} for q in qs]
    random.Random(1).shuffle(recs)
    texts, how = load_llava_answers(write_jsonl(tmp_path / "a.jsonl", recs), qs)
    assert how == "question_id"
    assert texts == [f"answer {q['question_id']}" for q in qs]
    plain = [{"text": f"p{i}"} for i in range(len(qs))]
    texts, how = load_llava_answers(write_jsonl(tmp_path / "b.jsonl", plain), qs)
    assert how == "position" and texts[3] == "p3"


def test_llava_bench_cli_stops_before_the_judge(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    qs = llava_questions()
    recs = [{"question_id": q["question_id"], "text": "x"} for q in qs]
    recs[1]["question_id"] = recs[0]["question_id"]
    path = write_jsonl(tmp_path / "a.jsonl", recs)
    argv = ["-q", "score", "llava-bench", "--answers", str(path), "--output"]
    argv += [str(tmp_path / "o.json"), "--judge-model", "j", "--judge-base-url"]
    argv += ["http://127.0.0.1:9/v1"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}:2: question_id" in err[0]
    assert not (tmp_path / "o.json").exists()


# --------------------------------------------------------------------------- MMHal-Bench, POPE


def test_mmhal_ids_out_of_range_or_mixed_no_longer_fall_back_to_position(tmp_path):
    recs = [{"question_id": i, "text": f"t{i}"} for i in range(96)]
    recs[3]["question_id"] = 96  # before: matched by position, silently
    path = write_jsonl(tmp_path / "m.jsonl", recs)
    with pytest.raises(InputError, match=r"m\.jsonl:4: question_id 96 is not a question"):
        load_mmhal_answers(path)
    del recs[3]["question_id"]
    write_jsonl(path, recs)
    with pytest.raises(InputError, match=r'm\.jsonl:4: no "question_id" here'):
        load_mmhal_answers(path)
    recs[3]["question_id"] = "3"
    write_jsonl(path, recs)
    with pytest.raises(InputError, match=r'm\.jsonl:4: question_id "3" is not a question'):
        load_mmhal_answers(path)


def test_mmhal_array_with_ids_is_matched_by_id(tmp_path):
    recs = [{"question_id": i, "model_answer": f"t{i}"} for i in range(96)][::-1]
    (tmp_path / "m.json").write_text(json.dumps(recs, indent=1))
    got, how = load_mmhal_answers(tmp_path / "m.json")
    assert how == "question_id" and got[0] == "t0" and got[95] == "t95"


def test_pope_mixed_ids_and_extra_ids_name_the_line(tmp_path):
    qs = [{"question_id": i, "label": "yes"} for i in (1, 2, 3)]
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"answer": "yes"}, {"question_id": 2, "answer": "no"}]
    )
    with pytest.raises(InputError, match=r'p\.jsonl:1: no "question_id" here, but line 2'):
        load_pope_answers(path, qs)
    write_jsonl(path, [{"question_id": i, "answer": "no"} for i in (3, 1, 7)])
    with pytest.raises(InputError, match=r"p\.jsonl:3: question_id 7 is not a question.*1 missing"):
        load_pope_answers(path, qs)
    write_jsonl(path, [{"question_id": i, "answer": str(i)} for i in (3, 1, 2)])
    assert load_pope_answers(path, qs) == (["1", "2", "3"], "question_id")


# --------------------------------------------------------------------------- Object HalBench, CHAIR


def test_object_halbench_questions_file_and_mixed_image_ids(tmp_path):
    q = write_jsonl(tmp_path / "q.jsonl", [{"image_id": 5}, {"image_id": 7}])
    a = write_jsonl(
        tmp_path / "a.jsonl",
        [{"image_id": 7, "prompt": "x", "text": "a"}, {"prompt": "y", "text": "b"}],
    )
    # before: the second answer silently took the image of question 2
    with pytest.raises(InputError, match=r'a\.jsonl:2: no "image_id" here, but line 1 has one'):
        load_object_halbench_answers(a, questions_path=q)
    write_jsonl(a, [{"prompt": "x", "text": "a"}, {"prompt": "y", "text": "b"}])
    got = load_object_halbench_answers(a, questions_path=q)
    assert [(x.image_id, x.alignment) for x in got] == [(5, "position"), (7, "position")]


MPLUG = [
    "The following is a conversation between a curious human and AI assistant.\n"
    "Human: <image>\nHuman: Provide a brief description of the given image.\nAI: "
]


def test_object_halbench_scores_list_questions_and_echoes_them(tmp_path):
    """POPE's mPLUG-Owl caption files have list prompts; the rule path never reads them."""
    first = json.loads(CAPS_BOXES.read_text().splitlines()[0])
    image_id = int(first["image"].split("_")[-1].split(".")[0])
    recs = [
        {"image_id": image_id, "prompt": MPLUG, "text": "A man riding a horse."},
        {"image_id": image_id, "question": {"odd": 1}, "answer": "A dog on a bench."},
    ]
    path = write_jsonl(tmp_path / "mplug.jsonl", recs)
    out = tmp_path / "o.json"
    argv = ["-q", "score", "object-halbench", "--answers", str(path)]
    assert main([*argv, "--coco-annotations", str(CAPS_BOXES), "--output", str(out)]) == 0
    rec = ResultRecord.load(out)
    assert rec.n_items == 2 and rec.items[0]["prompt"] == MPLUG
    assert rec.items[1]["question"] == {"odd": 1}
    assert rec.protocol["alignment"] == "image_id"
    (tmp_path / "m.json").write_text(json.dumps(recs))  # a JSON array: the same
    got = load_object_halbench_answers(tmp_path / "m.json")
    assert got[0].question is None and got[0].fields["prompt"] == MPLUG


def test_chair_reads_a_json_array_whatever_the_suffix(tmp_path):
    recs = [{"image_id": 1, "caption": "a cat"}, {"image_id": 2, "caption": "a dog"}]
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(recs, indent=1))  # before: "invalid JSON" on line 1
    got = load_chair_answers(path)
    assert [(a.image_id, a.answer) for a in got] == [(1, "a cat"), (2, "a dog")]


def test_vqav2_and_amber_duplicates_go_through_the_one_rule(tmp_path):
    from benchmarks.amber.score import load_responses
    from benchmarks.vqav2.score import load_predictions

    path = write_jsonl(
        tmp_path / "v.jsonl", [{"question_id": 4, "answer": "a"}, {"question_id": 4, "answer": "b"}]
    )
    with pytest.raises(InputError, match=r"v\.jsonl:2: question_id 4 is answered twice \(first"):
        load_predictions(path)
    (tmp_path / "r.json").write_text(json.dumps([{"id": 3, "response": "x"}] * 2, indent=1))
    with pytest.raises(InputError, match=r"r\.json:6: item 2: id 3 is answered twice \(first on"):
        load_responses(tmp_path / "r.json", 10)


def test_llm_extractor_reads_the_question_so_a_list_stops_it_before_the_judge(
    tmp_path, capsys, monkeypatch
):
    from .fake_openai import FakeOpenAI

    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    first = json.loads(CAPS_BOXES.read_text().splitlines()[0])
    image_id = int(first["image"].split("_")[-1].split(".")[0])
    recs = [
        {"image_id": image_id, "prompt": "Describe.", "text": "A man."},
        {"image_id": image_id, "prompt": MPLUG, "text": "A man riding a horse."},
    ]
    path = write_jsonl(tmp_path / "mplug.jsonl", recs)
    argv = ["-q", "score", "object-halbench", "--answers", str(path), "--coco-annotations"]
    argv += [str(CAPS_BOXES), "--output", str(tmp_path / "o.json"), "--extractor", "llm"]
    with FakeOpenAI() as server:
        assert main([*argv, "--judge-model", "j", "--judge-base-url", server.url]) == 1
        assert server.requests == []
    err = capsys.readouterr().err
    assert f'{path}:2: "prompt" must be a string for the LLM extractor' in err


def test_messages_stay_one_short_line(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"imgToEval": {"a\nb": 5}}))
    with pytest.raises(InputError, match=r'imgToEval\["a\\nb"\]: expected an object') as err:
        load_object_halbench_answers(path)
    assert "\n" not in str(err.value)
    path.write_text(json.dumps({"image_id": "x" * 5000, "prompt": "q", "text": "t"}) + "\n")
    with pytest.raises(InputError, match=r"got 'x+\.\.\.'$") as err:
        load_object_halbench_answers(path)
    assert len(str(err.value)) < len(str(path)) + 250
