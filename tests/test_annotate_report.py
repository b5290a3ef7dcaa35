"""MHumanEval report numbers on a hand-made annotation set, every value computed by hand.

Five of the six demo responses are judged (demo-6 by nobody: unscored):

    item    alice                      bob                  carol (3-annotator case)
    demo-1  object "car"               object "a car"       object "car"
    demo-2  clean                      attribute "white"    clean
    demo-3  number "Two"               other "Two round"    clean
    demo-4  object "traffic light",    clean                object "traffic"
            position "with"
    demo-5  clean                      clean                clean
"""

from __future__ import annotations

import json

import pytest

from halbench.annotate.agreement import cohen_kappa, fleiss_kappa, span_f1, wilson
from halbench.annotate.load import load_run
from halbench.annotate.report import build_report
from halbench.annotate.store import AnnotationStore
from halbench.types import ResultRecord
from tests.annotate_helpers import ANSWERS, make_run


def _span(store, who, pk, text, type_):
    answer = list(ANSWERS.values())[pk - 1]
    start = answer.index(text)
    store.add_span(pk, who, start, start + len(text), type_, f"fix {text}")


@pytest.fixture
def db(tmp_path):
    db = load_run(make_run(tmp_path)).db
    store = AnnotationStore(db)
    for name in ("alice", "bob"):
        store.add_annotator(name)
    alice, bob = store.annotators()
    _span(store, alice, 1, "car", "object")
    store.set_verdict(2, alice, True)
    _span(store, alice, 3, "Two", "number")
    _span(store, alice, 4, "traffic light", "object")
    _span(store, alice, 4, "with", "position")
    store.set_verdict(5, alice, True)
    _span(store, bob, 1, "a car", "object")
    _span(store, bob, 2, "white", "attribute")
    _span(store, bob, 3, "Two round", "other")
    store.set_verdict(4, bob, True)
    store.set_verdict(5, bob, True)
    store.close()
    return db


def test_statistics_by_hand():
    # Wilson 4/5: the textbook interval [0.3755, 0.9638]
    lo, hi = wilson(4, 5)
    assert lo == pytest.approx(0.375535, abs=1e-6) and hi == pytest.approx(0.963776, abs=1e-6)
    assert wilson(0, 10)[0] == 0.0 and wilson(0, 10)[1] == pytest.approx(
        0.277533, abs=1e-6
    )  # z²/(n+z²)
    assert wilson(3, 0) is None
    # po = 3/5, pe = .6*.6 + .4*.4 = .52 -> (0.6 - 0.52) / 0.48 = 1/6
    assert cohen_kappa([1, 0, 1, 1, 0], [1, 1, 1, 0, 0]) == pytest.approx(1 / 6)
    assert cohen_kappa([1, 0, 1], [1, 0, 1]) == pytest.approx(1.0)
    assert cohen_kappa([0, 0, 0], [0, 0, 0]) is None  # pe = 1: undefined, not 1
    # Fleiss: P-bar = 3/5, p_yes = 8/15, Pe = 113/225 -> 22/112
    rows = [[1, 1, 1], [0, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 0]]
    assert fleiss_kappa(rows) == pytest.approx(22 / 112)
    # Fleiss with two raters is Scott's pi: equal to Cohen's kappa here (equal marginals)
    assert fleiss_kappa([[1, 1], [0, 1], [1, 1], [1, 0], [0, 0]]) == pytest.approx(1 / 6)
    a = [[(0, 3, "object")], [(0, 2, "number"), (10, 12, "object")]]
    b = [[(2, 5, "object")], [(20, 22, "object")]]
    f = span_f1(a, b)  # A: 1 of 3 matched, B: 1 of 2 matched -> F1 = 2 * (1/3)(1/2) / (5/6) = 0.4
    assert (f["precision"], f["recall"]) == (pytest.approx(1 / 3), 0.5)
    assert f["f1"] == pytest.approx(0.4)
    assert span_f1([[]], [[]])["f1"] is None
    assert span_f1([[(0, 1, "object")]], [[]])["f1"] == 0.0


def test_report_two_annotators(db):
    record = build_report(db)
    m = record.metrics
    assert (record.n_items, record.n_scored, record.n_unscored) == (6, 5, 1)
    assert record.unscored[0].index == 5 and "not judged" in record.unscored[0].reason
    # majority with 2 annotators: a label either of them gave (ties count as hallucinated)
    expected = {
        "all": 4,
        "object": 2,
        "position": 1,
        "number": 1,
        "attribute": 1,
        "other": 1,
        "action": 0,
    }
    assert m["counts"] == expected
    for label, k in expected.items():
        assert m[label] == k / 5
        assert record.fractions[label].numerator == k and record.fractions[label].denominator == 5
    assert m["intervals"]["all"] == [
        pytest.approx(0.375535, abs=1e-6),
        pytest.approx(0.963776, abs=1e-6),
    ]
    assert (
        m["per_annotator"]["alice"]["counts"]["all"] == 3 and m["per_annotator"]["alice"]["n"] == 5
    )
    assert m["per_annotator"]["bob"]["counts"]["all"] == 3
    assert m["segments"] == {"alice": 4, "bob": 3}
    ag = m["agreement"]
    assert ag["method"] == "cohen" and ag["kappa_items"] == 5
    assert ag["kappa"]["all"] == pytest.approx(1 / 6)
    # object: alice [1,0,0,1,0], bob [1,0,0,0,0]: po .8, pe .56 -> 6/11
    assert ag["kappa"]["object"] == pytest.approx(6 / 11)
    # number: alice [0,0,1,0,0], bob all 0: po .8 = pe .8 -> 0
    assert ag["kappa"]["number"] == pytest.approx(0.0)
    assert ag["kappa"]["action"] is None and "agreement.kappa.action" in record.not_computable
    # spans: alice 4 (demo-1, 3, 4, 4), bob 3 (demo-1, 2, 3); overlaps on demo-1 and demo-3
    f1 = ag["pairs"][0]["span_f1_any_type"]
    assert (f1["matched_a"], f1["spans_a"], f1["matched_b"], f1["spans_b"]) == (2, 4, 2, 3)
    assert f1["f1"] == pytest.approx(4 / 7)  # P = 1/2, R = 2/3
    assert ag["pairs"][0]["span_f1_same_type"]["f1"] == pytest.approx(2 / 7)  # P = 1/4, R = 1/3
    items = {it["item_id"]: it for it in record.items}
    assert (
        items["demo-4"]["types"] == ["object", "position"]
        and items["demo-4"]["hallucinated_response"]
    )
    assert items["demo-5"]["hallucinated_response"] is False
    assert "unscored" in items["demo-6"]
    assert record.model == {"backend": "replay", "model": "test-model"}
    assert record.protocol["interval"] == "Wilson score, 95%"
    # a record like any other: it round-trips through ResultRecord.load
    path = db.parent / "r.json"
    path.write_text(record.to_json())
    assert ResultRecord.load(path).metrics["counts"] == expected


def test_combine_rules(db):
    m = build_report(db, combine="all").metrics
    assert m["counts"] == {
        "object": 1,
        "position": 0,
        "number": 0,
        "attribute": 0,
        "action": 0,
        "other": 0,
        "all": 2,
    }
    assert build_report(db, combine="any").metrics["counts"]["all"] == 4


def test_three_annotators_use_fleiss(db):
    store = AnnotationStore(db)
    store.add_annotator("carol")
    carol = store.annotators()[2]
    _span(store, carol, 1, "car", "object")
    store.set_verdict(2, carol, True)
    store.set_verdict(3, carol, True)
    _span(store, carol, 4, "traffic", "object")
    store.set_verdict(5, carol, True)
    store.close()
    record = build_report(db)
    ag = record.metrics["agreement"]
    assert ag["method"] == "fleiss" and ag["kappa_items"] == 5
    assert ag["kappa"]["all"] == pytest.approx(22 / 112)
    assert len(ag["pairs"]) == 3
    # majority of 3 = at least 2: All on demo-1, 3, 4; object on demo-1, 4; nothing else
    assert record.metrics["counts"] == {
        "object": 2,
        "position": 0,
        "number": 0,
        "attribute": 0,
        "action": 0,
        "other": 0,
        "all": 3,
    }


def test_nothing_judged_is_unscored_not_zero(tmp_path):
    db = load_run(make_run(tmp_path)).db
    record = build_report(db)
    assert record.n_scored == 0 and record.n_unscored == 6
    assert record.metrics["all"] is None and "all" in record.not_computable
    assert json.loads(record.to_json())["metrics"]["object"] is None
