"""POPE: the reference parser case by case (spec table), strict mode, metrics by hand, files."""

from __future__ import annotations

import json

import pytest

from benchmarks.pope.metrics import parse_reference, parse_strict, pope_metrics
from benchmarks.pope.score import load_questions, score_pope
from halbench.cli import main
from halbench.errors import InputError
from halbench.types import ResultRecord

from ..conftest import BENCHMARKS

YES = [
    "Yes",
    "Yes.",
    "yes",
    "YES",
    "**Yes**",
    "Yep",
    "Certainly.",
    "NO",
    "No!",
    "No。",
    "**No**",
    "No\n",
    "Nope",
    "None.",
    "Negative.",
    "Not at all.",
    "I cannot see a dog.",
    "I don't see any dog.",
    "There isn't any dog.",
    "No,there isn't.",
    "Yes. No other objects are visible.",
    "1. No",
    "",
    " ",
    "?",
    "N/A",
    "Maybe",
    "I don't know.",
    "Unanswerable",
]
NO = [
    "No",
    "No.",
    "no",
    " No",
    "No, there is no dog.",
    "There is not a dog.",
    "I do not see a dog.",
    "Certainly not",
    "not sure",
    "I'm not sure.",
    "No,there is no dog.",
    "Yes, no doubt.",
    "Yes, a dog is visible, but it is not the main subject.",
    "No. Yes, actually there might be one.",
    "Is there a dog? No.",
    "Answer: No",
    "The answer is no.",
    "Yes and no.",
]


@pytest.mark.parametrize("answer", YES)
def test_reference_reads_yes(answer):
    assert parse_reference(answer) == "yes"


@pytest.mark.parametrize("answer", NO)
def test_reference_reads_no(answer):
    assert parse_reference(answer) == "no"


@pytest.mark.parametrize(
    ("answer", "parsed"),
    [
        ("Yes", "yes"),
        ("no.", "no"),
        ("**No**", "no"),
        ('  "Yes, there is"', "yes"),
        ("Answer: no", "no"),
        ("ＹＥＳ", "yes"),
        ("Nope", None),
        ("not", None),
        ("none", None),
        ("yeah", None),
        ("", None),
        ("I think yes", None),
    ],
)
def test_strict(answer, parsed):
    assert parse_strict(answer) == parsed


def test_metrics_by_hand():
    parsed = ["yes", "yes", "no", "no", "yes", None]
    labels = ["yes", "no", "no", "yes", "yes", "yes"]
    m = pope_metrics(parsed, labels)
    assert m.counts == {"tp": 2, "fp": 1, "tn": 1, "fn": 1, "yes": 3, "scored": 5, "unscored": 1}
    assert (
        m.metrics["accuracy"] == 3 / 5
        and m.metrics["precision"] == 2 / 3
        and m.metrics["recall"] == 2 / 3
    )
    assert m.metrics["f1"] == pytest.approx(2 / 3) and m.metrics["yes_ratio"] == 3 / 5
    assert m.metrics["accuracy_unscored_wrong"] == 3 / 6
    never_yes = pope_metrics(["no", "no"], ["yes", "no"])
    assert never_yes.metrics["precision"] is None and never_yes.metrics["f1"] is None
    assert "precision" in never_yes.not_computable
    # any label other than "no" is positive, as in the reference
    assert pope_metrics(["yes"], ["Yes"]).counts["tp"] == 1


def test_shipped_splits():
    for split in ("random", "popular", "adversarial"):
        qs = load_questions(BENCHMARKS / "pope" / "data" / f"coco_pope_{split}.json")
        assert len(qs) == 3000 and sum(q["label"] == "yes" for q in qs) == 1500


def _answers(path, questions, fn):
    path.write_text(
        "".join(
            json.dumps({"question_id": q["question_id"], "text": fn(q)}) + "\n" for q in questions
        )
    )
    return path


def test_three_splits_and_macro_mean(tmp_path, capsys):
    pairs, args_q, args_a = [], [], []
    for k, split in enumerate(("random", "popular", "adversarial")):
        qpath = BENCHMARKS / "pope" / "data" / f"coco_pope_{split}.json"
        qs = load_questions(qpath)
        # a model that says yes to everything except every (k+2)-th question
        a = _answers(
            tmp_path / f"a_{split}.jsonl",
            qs,
            lambda q, k=k: (
                "No, there is not." if q["question_id"] % (k + 2) == 0 else "Yes, there is."
            ),
        )
        pairs.append((qpath, a))
        args_q.append(split)
        args_a.append(str(a))
    rec = score_pope(pairs)
    assert rec.n_items == 9000 and rec.n_unscored == 0
    f1s = [rec.metrics["splits"][s]["f1"] for s in ("random", "popular", "adversarial")]
    assert rec.metrics["f1"] == pytest.approx(sum(f1s) / 3)
    assert rec.fractions["random.accuracy"].denominator == 3000
    out = tmp_path / "o.json"
    assert (
        main(
            [
                "-q",
                "score",
                "pope",
                "--questions",
                *args_q,
                "--answers",
                *args_a,
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert "macro mean" in capsys.readouterr().out
    assert ResultRecord.load(out).metrics["f1"] == rec.metrics["f1"]


def test_alignment_and_errors(tmp_path):
    qpath = tmp_path / "coco_pope_mini.json"
    qs = [
        {
            "question_id": i,
            "image": "x.jpg",
            "text": "Is there a dog in the image?",
            "label": "yes" if i % 2 else "no",
        }
        for i in (1, 2, 3, 4)
    ]
    qpath.write_text("".join(json.dumps(q) + "\n" for q in qs))
    positional = tmp_path / "pos.jsonl"
    positional.write_text(
        "".join(json.dumps({"answer": a}) + "\n" for a in ["Yes", "No", "Nope", "no"])
    )
    rec = score_pope([(qpath, positional)])
    assert rec.protocol["alignment"] == {"mini": "position"}
    assert [it["parsed"] for it in rec.items] == ["yes", "no", "yes", "no"]
    strict = score_pope([(qpath, positional)], mode="strict")
    assert (
        strict.n_unscored == 1
        and strict.items[2]["parsed"] is None
        and strict.metrics["n_unscored"] == 1
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question_id": 1, "answer": "yes"}\n{"question_id": 9, "answer": "no"}\n')
    with pytest.raises(InputError, match=r"3 missing .* 1 extra"):
        score_pope([(qpath, bad)])
    bad.write_text('{"question_id": 1, "answer": 1}\n')
    with pytest.raises(
        InputError, match=r'bad\.jsonl:1: "answer" must be a string, got an integer'
    ):
        score_pope([(qpath, bad)])
