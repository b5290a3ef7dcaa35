"""Result records: round trip and clear errors for files that are not records."""

from __future__ import annotations

import json

import pytest

from halbench.errors import InputError
from halbench.provenance import make_provenance, now_utc
from halbench.types import Fraction, ResultRecord


def make_record() -> ResultRecord:
    return ResultRecord(
        benchmark="object-halbench",
        benchmark_version="v",
        protocol={"mode": "parity"},
        metrics={"CHAIRs": 0.5, "CHAIRi": None},
        fractions={"CHAIRs": Fraction(numerator=1, denominator=2)},
        not_computable={"CHAIRi": "n_mentions is 0"},
        n_items=2,
        n_scored=2,
        n_unscored=0,
        items=[{"image_id": 1, "answer": "<script>x</script>"}],
        provenance=make_provenance(inputs=[], duration_s=0.1, created_at=now_utc()),
    )


def test_round_trip(tmp_path):
    rec = make_record()
    p = tmp_path / "r.json"
    p.write_text(rec.to_json())
    assert ResultRecord.load(p) == rec
    assert rec.provenance.halbench_version and rec.provenance.python


def test_not_a_record(tmp_path):
    p = tmp_path / "r.json"
    data = json.loads(make_record().to_json())
    del data["metrics"]
    p.write_text(json.dumps(data))
    with pytest.raises(
        InputError, match=r"r\.json: not a halbench result record: metrics: Field required"
    ):
        ResultRecord.load(p)
    p.write_text("{")
    with pytest.raises(InputError, match=r"r\.json:1: invalid JSON"):
        ResultRecord.load(p)
