"""VQAv2: every normalisation rule and the accuracy formula, by hand; the CLI; bad input."""

from __future__ import annotations

import json
import random

import pytest

from benchmarks.vqav2.metrics import (
    VqaQuestion,
    process_digit_article,
    process_punctuation,
    score_vqa,
)
from benchmarks.vqav2.oracle import official_accuracy
from benchmarks.vqav2.score import score_vqav2
from halbench.cli import main
from halbench.errors import InputError
from halbench.types import ResultRecord


def norm(text: str) -> str:
    return process_digit_article(process_punctuation(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", "yes"),
        ("two", "2"),
        ("The dog", "dog"),
        ("dont", "don't"),
        ("100,978", "100978"),
        ("3.5", "3.5"),
        ("a-b", "b"),
        ("hello - world", "hello world"),
        ("2:50 pm", "2:50 pm"),
        ("girl's", "girl's"),
        ("U.S.A.", "usa"),
        ("10 / 2", "10 2"),
        ("none", "0"),
        ("Ten apples", "10 apples"),
        ("e.g. cat", "eg cat"),
        ("Im", "im"),  # capital-I contraction keys never match after lower-casing
        ("somebody'd", "somebodyd"),  # the table's one reversed entry
        ("yes!", "yes"),
        ("(red)", "red"),
        ("black & white", "black & white"),
        ("#1", "#1"),
    ],
)
def test_normalisation(text, expected):
    assert norm(text) == expected


def test_at_most_32_periods_are_removed():
    assert process_punctuation("." * 40) == "." * 8


def q(answers, qid=1, atype="other"):
    return VqaQuestion(qid, tuple(answers), atype, "what is")


@pytest.mark.parametrize(
    ("answers", "pred", "expected"),
    [
        (["yes"] * 10, "Yes", 0.0),  # unanimous humans: nothing is normalised (2021 quirk)
        (["yes"] * 9 + ["no"], "Yes", 1.0),
        (["2"] * 3 + ["3"] * 7, "two", 0.9),
        (["a"] + ["b"] * 9, "a", 0.3),
        (["a"] * 2 + ["b"] * 8, "a", 0.6),
        (["a"] * 4 + ["b"] * 6, "a", 1.0),
        (["yes"] * 10, "yes\n", 1.0),  # newlines/tabs become spaces and are stripped
        (["red", "red\t", "blue"] + ["green"] * 7, "red", 0.6),
    ],
)
def test_accuracy_by_hand(answers, pred, expected):
    item = score_vqa([q(answers)], {1: pred}).items[0]
    assert item.accuracy == pytest.approx(expected, abs=1e-12)
    assert item.accuracy == official_accuracy(
        [{"answer": a, "answer_id": i + 1} for i, a in enumerate(answers)], pred
    )


def test_random_against_the_official_loop():
    rnd = random.Random(7)
    pool = [
        "yes",
        "Yes",
        "no",
        "2",
        "two",
        "3",
        "red",
        "Red.",
        "the dog",
        "dog",
        "a dog",
        "dont",
        "don't",
        "1,000",
        "1000",
        "U.S.",
        "usa",
        "tennis",
        "(tennis)",
    ]
    questions, preds = [], {}
    for i in range(3000):
        answers = [rnd.choice(pool[: rnd.randint(2, len(pool))]) for _ in range(10)]
        questions.append(
            VqaQuestion(
                i,
                tuple(answers),
                rnd.choice(["yes/no", "number", "other"]),
                rnd.choice(["what", "how many", "is the"]),
            )
        )
        preds[i] = rnd.choice(pool)
    for mode in ("official", "always"):
        got = score_vqa(questions, preds, mode)
        ref = [
            official_accuracy(
                [{"answer": a, "answer_id": j} for j, a in enumerate(qq.answers)],
                preds[qq.question_id],
                always=mode == "always",
            )
            for qq in questions
        ]
        assert [it.accuracy for it in got.items] == ref
        assert got.accuracy == float(sum(ref)) / len(ref)
        assert got.reported["overall"] == round(100 * float(sum(ref)) / len(ref), 2)


def write_vqa(tmp_path, preds_format="json"):
    anns = {
        "annotations": [
            {
                "question_id": 1,
                "image_id": 10,
                "question_type": "is the",
                "answer_type": "yes/no",
                "multiple_choice_answer": "yes",
                "answers": [
                    {"answer": "yes", "answer_confidence": "yes", "answer_id": j}
                    for j in range(1, 11)
                ],
            },
            {
                "question_id": 2,
                "image_id": 10,
                "question_type": "how many",
                "answer_type": "number",
                "multiple_choice_answer": "2",
                "answers": [
                    {"answer": a, "answer_confidence": "yes", "answer_id": j + 1}
                    for j, a in enumerate(["2"] * 3 + ["3"] * 7)
                ],
            },
            {
                "question_id": 3,
                "image_id": 11,
                "question_type": "what color",
                "answer_type": "other",
                "multiple_choice_answer": "red",
                "answers": [
                    {"answer": a, "answer_confidence": "yes", "answer_id": j + 1}
                    for j, a in enumerate(["red"] * 4 + ["blue"] * 6)
                ],
            },
        ]
    }
    ques = {
        "questions": [
            {"question_id": i, "image_id": 10 if i < 3 else 11, "question": f"q{i}?"}
            for i in (1, 2, 3)
        ]
    }
    (tmp_path / "ann.json").write_text(json.dumps(anns))
    (tmp_path / "ques.json").write_text(json.dumps(ques))
    preds = [
        {"question_id": 1, "answer": "Yes"},
        {"question_id": 2, "answer": "two"},
        {"question_id": 3, "answer": "Red."},
    ]
    if preds_format == "json":
        (tmp_path / "res.json").write_text(json.dumps(preds))
        return tmp_path / "res.json"
    (tmp_path / "res.jsonl").write_text(
        "".join(
            json.dumps({"question_id": p["question_id"], "text": p["answer"]}) + "\n" for p in preds
        )
    )
    return tmp_path / "res.jsonl"


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_score_files_and_record(tmp_path, fmt, capsys):
    res = write_vqa(tmp_path, fmt)
    out = tmp_path / "out.json"
    assert (
        main(
            [
                "-q",
                "score",
                "vqav2",
                "--answers",
                str(res),
                "--annotations",
                str(tmp_path / "ann.json"),
                "--questions",
                str(tmp_path / "ques.json"),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    rec = ResultRecord.load(out)
    # q1: unanimous "yes" vs "Yes" -> 0; q2: 0.9; q3: "red" (4 of 10) -> 1.0
    assert [it["accuracy"] for it in rec.items] == [0.0, 0.9, 1.0]
    assert rec.metrics["accuracy"] == pytest.approx((0 + 0.9 + 1.0) / 3)
    assert rec.metrics["per_answer_type"] == {"yes/no": 0.0, "number": 0.9, "other": 1.0}
    assert rec.metrics["reported"]["overall"] == 63.33
    assert rec.items[1]["prediction"] == "2" and rec.items[0]["prediction"] == "Yes"
    assert "overall accuracy        63.33" in capsys.readouterr().out
    always = score_vqav2(res, tmp_path / "ann.json", tmp_path / "ques.json", normalize="always")
    assert always.items[0]["accuracy"] == 1.0 and always.protocol["mode"] == "normalize-always"


def test_bad_vqa_inputs(tmp_path):
    res = write_vqa(tmp_path)
    ann, ques = tmp_path / "ann.json", tmp_path / "ques.json"
    res.write_text(json.dumps([{"question_id": 1, "answer": "yes"}]))
    with pytest.raises(InputError, match="2 of 3 annotated questions have no answer"):
        score_vqav2(res, ann, ques)
    rec = score_vqav2(res, ann, ques, missing="unscored")
    assert rec.n_unscored == 2 and rec.n_scored == 1
    res.write_text(
        json.dumps([{"question_id": 1, "answer": "yes"}, {"question_id": 99, "answer": "x"}])
    )
    with pytest.raises(InputError, match="questions not in the annotations"):
        score_vqav2(res, ann, ques)
    res.write_text(json.dumps([{"question_id": "1", "answer": "yes"}]))
    with pytest.raises(InputError, match=r'item 1: "question_id" must be an integer, got a string'):
        score_vqav2(res, ann, ques)
    jl = tmp_path / "r.jsonl"
    jl.write_text('{"question_id": 1, "answer": "yes"}\n{"question_id": 1, "answer": "no"}\n')
    with pytest.raises(InputError, match=r"r\.jsonl:2: question_id 1 is answered twice"):
        score_vqav2(jl, ann, ques)
    bad_ann = tmp_path / "bad.json"
    bad_ann.write_text(
        json.dumps({"annotations": [{"question_id": 1, "answers": [{"answer": 3}]}]})
    )
    with pytest.raises(
        InputError, match=r'annotations\[0\]\.answers\[0\]: "answer" must be a string'
    ):
        score_vqav2(res, bad_ann, ques)
