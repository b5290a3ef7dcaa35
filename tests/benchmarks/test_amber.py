"""AMBER: discriminative metrics with the reference's start values and rounding; generative matching."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks.amber.metrics import GenerativeTotals, score_discriminative, score_generative_item
from benchmarks.amber.score import default_data_dir, score_amber
from benchmarks.amber.similarity import ExactSimilarity
from halbench.errors import InputError


def test_existence_rounding_quirks():
    # 10 existence questions (truth always "no"): 7 exact "No", 2 "Yes", 1 lower-case "no"
    items = [("discriminative-hallucination", "no", r) for r in ["No"] * 7 + ["Yes"] * 2 + ["no"]]
    res = score_discriminative(items)
    rep = res.reported["existence"]
    # 7 / 10.001 -> 69.993 -> 70.0; precision 7 / 7.001 -> 100.0; F1 from the rounded values, eps 0.001
    assert rep == {"accuracy": 70.0, "precision": 100.0, "recall": 70.0, "f1": 82.3}
    exact = res.fractions["existence"]
    assert (
        exact["accuracy"] == 0.7
        and exact["precision"] == 1.0
        and exact["f1"] == pytest.approx(0.8235294)
    )
    # overall uses eps 0.0001 on the same numbers
    assert res.reported["overall"]["f1"] == round(2 * 1.0 * 0.7 / (1.0 + 0.7 + 0.0001) * 100, 1)


def test_start_values_shift_rounding():
    # 11 of 16 correct: exactly 68.75, but 11 / 16.001 prints 68.7
    items = [("discriminative-attribute-state", "yes", "Yes")] * 11 + [
        ("discriminative-attribute-state", "yes", "No")
    ] * 5
    res = score_discriminative(items)
    assert res.reported["state"]["accuracy"] == 68.7
    assert res.fractions["state"]["accuracy"] == 11 / 16
    # attribute sums three groups: its denominators carry 0.003
    assert res.reported["attribute"]["accuracy"] == round(11 / (16.001 + 0.001 + 0.001) * 100, 1)
    # an empty group prints 0.0, as the reference does
    assert res.reported["number"] == {"accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert res.fractions["number"]["accuracy"] is None


def test_relation_catches_unknown_types_and_exact_answers():
    items = [
        ("relation", "no", "No"),
        ("discriminative-relation", "yes", "Yes"),
        ("something-else", "yes", "yes"),
    ]
    res = score_discriminative(items)
    assert res.counts["relation"]["n"] == 3 and res.counts["relation"]["correct"] == 2


def test_strict_mode():
    items = [
        ("discriminative-hallucination", "no", "no."),
        ("discriminative-hallucination", "no", "Maybe"),
        ("discriminative-attribute-state", "yes", "**Yes**"),
    ]
    res = score_discriminative(items, mode="strict")
    assert (
        res.fractions["existence"]["accuracy"] == 1.0
        and res.fractions["existence"]["n_unscored"] == 1
    )
    assert res.fractions["overall"]["n"] == 2 and res.reported == {}


ASSOC = {"dog": ["puppy"], "grass": [], "cat": ["kitten"], "car": [], "tree": ["forest"]}
VOCAB = frozenset(["dog", "puppy", "grass", "cat", "kitten", "car", "tree", "forest", "sign"])


def test_generative_matching_by_hand():
    sim = ExactSimilarity()
    # truth: dog, grass; hallu: cat, car; "sign" is a global safe word
    item, flags, safe_tail, ha_tail = score_generative_item(
        ["puppy", "grass", "kitten", "sign", "tree", "sky", "dog"],
        ["dog", "grass"],
        ["cat", "car"],
        ASSOC,
        VOCAB,
        frozenset({"sign"}),
        sim,
        0.8,
    )
    assert item.mentions == [
        "puppy",
        "grass",
        "kitten",
        "sign",
        "tree",
        "dog",
    ]  # "sky" is not in the vocabulary
    assert item.hallucinated == [
        "kitten",
        "tree",
    ]  # kitten marks cat (Cog) and is still a hallucination
    assert item.covered_truth == ["dog", "grass"] and item.covered_hallu == ["cat"]
    assert flags == [0, 0, 1, 0, 1, 0] and safe_tail == [1, 1] and ha_tail == [1, 0]


def test_similarity_threshold_is_strict():
    def sim(a, b):
        return (
            1.0
            if a == b
            else (
                0.8
                if {a, b} == {"tree", "grass"}
                else 0.81
                if {a, b} == {"forest", "grass"}
                else 0.0
            )
        )

    item, *_ = score_generative_item(
        ["tree", "forest"], ["grass"], ["car"], ASSOC, VOCAB, frozenset(), sim, 0.8
    )
    assert item.hallucinated == ["tree"]  # 0.8 is not > 0.8; 0.81 is
    assert item.covered_truth == ["grass"]


def test_generative_totals_use_start_values():
    t = GenerativeTotals()
    t.add([0, 1, 0], [1, 0], [1])
    t.add([], [1, 1, 1], [0, 0])
    assert t.reported() == {
        "CHAIR": round(1 / 3.001 * 100, 1),
        "Cover": round(4 / 5.001 * 100, 1),
        "Hal": round(100 - 1 / 2.001 * 100, 1),
        "Cog": round(1 / 3.001 * 100, 1),
    }
    assert t.fractions() == {"CHAIR": 1 / 3, "Cover": 4 / 5, "Hal": 1 / 2, "Cog": 1 / 3}


def test_file_scoring_without_generative_backend(tmp_path):
    answers = tmp_path / "r.json"
    answers.write_text(
        json.dumps(
            [
                {"id": 1, "response": "A dog on grass."},
                {"id": 8633, "response": "No"},
                {"id": 1005, "response": "Yes"},
            ]
        )
    )
    rec = score_amber(answers, similarity="auto")  # spaCy is not installed here
    assert rec.n_items == 3 and rec.n_unscored == 1
    assert "generative" in rec.not_computable and rec.items[0]["unscored"].startswith(
        "generative metrics not computed"
    )
    assert rec.metrics["reported"]["discriminative"]["existence"]["accuracy"] == round(
        1 / 1.001 * 100, 1
    )
    assert rec.metrics["coverage"]["existence"] == {"answered": 1, "total": 4924}
    assert "amber_score" not in rec.metrics


def test_file_scoring_with_injected_backends(tmp_path):
    data = tmp_path / "amber"
    shutil.copytree(default_data_dir(), data)
    ann = json.loads((data / "annotations.json").read_text())
    truth, hallu = ann[0]["truth"], ann[0]["hallu"]
    answers = tmp_path / "r.jsonl"
    answers.write_text(
        json.dumps({"id": 1, "response": f"{truth[0]} {hallu[0]}"})
        + "\n"
        + json.dumps({"id": 8633, "response": "No"})
        + "\n"
    )
    rec = score_amber(
        answers, data_dir=data, noun_extractor=str.split, similarity_backend=ExactSimilarity()
    )
    assert rec.items[0]["mentions"] == [truth[0], hallu[0]] and rec.items[0]["hallucinated"] == [
        hallu[0]
    ]
    g = rec.metrics["reported"]["generative"]
    assert g["CHAIR"] == round(1 / 2.001 * 100, 1)
    assert (
        rec.metrics["amber_score"]
        == (100 - g["CHAIR"] + rec.metrics["reported"]["discriminative"]["overall"]["f1"]) / 2
    )
    assert (
        rec.metrics["similarity_backend"] == "exact"
        and rec.protocol["reference_comparable"] is False
    )


def test_bad_amber_input(tmp_path):
    p = tmp_path / "r.json"
    for content, message in [
        ([{"id": 0, "response": "No"}], "id 0 is not an AMBER item"),
        ([{"id": 5, "response": "x"}, {"id": 5, "response": "y"}], "id 5 is answered twice"),
        ([{"id": 5, "response": 3}], '"response" must be a string, got an integer'),
        ([{"response": "No"}], '"id" must be an integer, got null'),
        ({"id": 1}, '"response" must be a string, got null'),  # one line: JSONL
    ]:
        p.write_text(json.dumps(content))
        with pytest.raises(InputError, match=message):
            score_amber(p)
