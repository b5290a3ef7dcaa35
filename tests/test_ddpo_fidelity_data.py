"""DDPO fidelity (issue 16): the paper's TSV, Muffin's stored log-probs, pair selection."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import pytest

from halbench.errors import HalbenchError, InputError
from reference_models.rlhfv.config import from_dict
from reference_models.rlhfv.data import load_preferences
from reference_models.rlhfv.fidelity import stored_reference
from reference_models.rlhfv.inputs import EncodedPair

PKG = Path(__file__).resolve().parents[1] / "reference_models" / "rlhfv"
PNG = (PKG / "data" / "tiny_prefs" / "images" / "clock.png").read_bytes()


def _b64(obj) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


def _logps(n_chosen: int, n_rejected: int, value: float = -0.5) -> list:
    """RLHF-V's order: chosen sum, mean, per-token; rejected sum, mean, per-token."""
    c, r = [value] * n_chosen, [value] * n_rejected
    return [sum(c), value, c, sum(r), value, r]


def _tsv_row(k: int, model: str, logps: list | None = None) -> str:
    text = [f"Describe image {k}.", f"A round clock {k}.", f"A round plate {k}."]
    if logps is not None:
        text.append(logps)
    cols = [
        "dpo_preference",
        base64.b64encode(PNG).decode(),
        _b64(text),
        "dpo/DPO_preference_20230919",
        _b64({"model": model, "type": "detailed"}),
        str(k),
        f"COCO_{k}.jpg",
    ]
    return "\t".join(cols)


def _write_tsv(path: Path, rows: list[str]) -> Path:
    path.write_text("".join(r + "\n" for r in rows))
    return path


def test_paper_tsv_rows_with_and_without_stored_logps(tmp_path):
    tsv = _write_tsv(
        tmp_path / "dpo_preference-3.tsv",
        [_tsv_row(0, "muffin", _logps(4, 5)), _tsv_row(1, "muffin"), _tsv_row(2, "llava")],
    )
    data = load_preferences(tsv)  # auto: .tsv
    assert [r.id for r in data.records] == [f"dpo_preference:{k}" for k in range(3)]
    r0 = data.records[0]
    assert (r0.question, r0.chosen, r0.rejected) == (
        "Describe image 0.",
        "A round clock 0.",
        "A round plate 0.",
    )
    assert r0.image_bytes == PNG
    assert r0.meta["origin_split"] == {"model": "muffin", "type": "detailed"}
    assert r0.meta["stored_logps"]["chosen"]["per_token"] == [-0.5] * 4
    assert r0.meta["stored_logps"]["rejected"]["sum"] == -2.5
    assert "stored_logps" not in data.records[1].meta
    # selection by the model that wrote the answers, then by count (file order)
    sel = load_preferences(tsv, data_filter={"origin_split": ["muffin"], "max_pairs": 1})
    assert [r.id for r in sel.records] == ["dpo_preference:0"]
    sel = load_preferences(tsv, data_filter={"origin_split": ["llava", "muffin"]})
    assert len(sel.records) == 3
    with pytest.raises(InputError, match="selects no pair"):
        load_preferences(tsv, data_filter={"origin_split": ["gpt-4v"]})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("a\tb", r"dpo_preference-1.tsv:2: expected 7 tab-separated columns"),
        (
            _tsv_row(1, "m").replace(_b64(["Describe image 1."])[:4], "!!!!", 1),
            r"dpo_preference-1.tsv:2: text is not base64 of JSON",
        ),
        (
            "\t".join(
                ["d", base64.b64encode(PNG).decode(), _b64(["q", "c"]), "o", _b64({}), "1", "x"]
            ),
            r":2: text must be \[question, chosen, rejected\]",
        ),
        (_tsv_row(1, "m", [1.0, 2.0]), r":2: logps must be \(chosen sum"),
    ],
)
def test_malformed_tsv_rows_name_file_and_line(tmp_path, row, message):
    tsv = _write_tsv(tmp_path / "dpo_preference-1.tsv", [_tsv_row(0, "m"), row])
    with pytest.raises(InputError, match=message):
        load_preferences(tsv)


def test_parquet_selection_by_origin_split_and_count(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    models = ["muffin", "llava", "muffin", "muffin"]
    text = [
        json.dumps({"question": "Describe.", "chosen": f"A clock {k}.", "rejected": f"A cup {k}."})
        for k in range(4)
    ]
    table = pa.table(
        {
            "ds_name": ["RLHF-V-Dataset"] * 4,
            "image": [{"bytes": PNG, "path": None}] * 4,
            "text": text,
            "origin_dataset": ["x"] * 4,
            "origin_split": [json.dumps({"model": m, "type": "qa"}) for m in models],
            "idx": [0, 1, 2, 3],
            "image_path": ["a", "b", "c", "d"],
        }
    )
    pq.write_table(table, tmp_path / "RLHF-V-Dataset.parquet")
    path = tmp_path / "RLHF-V-Dataset.parquet"
    ids = lambda f: [r.id.split(":")[1] for r in load_preferences(path, data_filter=f).records]  # noqa: E731
    assert ids({"origin_split": ["muffin"]}) == ["0", "2", "3"]
    assert ids({"origin_split": ["muffin"], "max_pairs": 2}) == ["0", "2"]
    assert ids({"max_pairs": 3}) == ["0", "1", "2"]
    assert ids({"origin_split": ["llava"]}) == ["1"]
    # the checksum covers the selected pairs only
    a = load_preferences(path, data_filter={"max_pairs": 2}).checksum
    assert a != load_preferences(path).checksum


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"origin_splits": ["a"]}, "unknown key 'origin_splits' \\(did you mean 'origin_split'"),
        ({"max_pairs": 0}, "max_pairs must be an integer >= 1"),
        ({"origin_split": "muffin"}, "origin_split must be a non-empty list"),
        (["muffin"], "data_filter: expected mapping"),
    ],
)
def test_data_filter_config_errors(value, message):
    with pytest.raises(InputError, match=message):
        from_dict({"model": "m", "data": "d", "data_filter": value}, "c.yaml")


def test_freeze_config_values():
    assert from_dict({"model": "m", "data": "d", "freeze": ["projector"]}).freeze == ["projector"]
    with pytest.raises(InputError, match="freeze: expected list of"):
        from_dict({"model": "m", "data": "d", "freeze": ["vision"]}, "c.yaml")
    with pytest.raises(InputError, match="leave freeze empty with lora"):
        from_dict({"model": "m", "data": "d", "freeze": ["projector"], "lora": True}, "c.yaml")


def test_stored_logps_are_used_only_for_a_declared_muffin():
    from reference_models.rlhfv.data import PreferenceRecord

    def rec(k, stored):
        meta = {"stored_logps": stored} if stored else {}
        return PreferenceRecord(str(k), "q", "c", "r", image_bytes=PNG, meta=meta)

    stored = {  # per-token lists cover the whole sequence: the completion is the tail
        "chosen": {"sum": 0, "mean": 0, "per_token": [-9.0, -9.0, -1.0, -2.0]},
        "rejected": {"sum": 0, "mean": 0, "per_token": [-9.0, -3.0]},
    }
    pairs = [EncodedPair([5, 6], [7], [], [])]
    assert stored_reference([rec(0, None)], pairs, True) is None
    note = stored_reference([rec(0, stored)], pairs, False)
    assert isinstance(note, str) and note.startswith("recomputed")
    assert stored_reference([rec(0, stored)], pairs, True) == ([[-1.0, -2.0]], [[-3.0]])
    with pytest.raises(HalbenchError, match="1 pair\\(s\\) have no stored log-probs"):
        stored_reference([rec(0, stored), rec(1, None)], pairs * 2, True)
    long = [EncodedPair([1, 2, 3, 4, 5], [7], [], [])]
    with pytest.raises(HalbenchError, match="the tokenizer is not Muffin's"):
        stored_reference([rec(0, stored)], long, True)


@pytest.mark.parametrize("muffin", [False, True])
def test_training_on_the_paper_tsv_records_where_the_reference_came_from(
    tiny_model, tmp_path, muffin
):
    pytest.importorskip("accelerate")
    from halbench.cli import main

    rows = [_tsv_row(k, "muffin", _logps(64, 64, value=-3.0)) for k in range(8)]
    tsv = _write_tsv(tmp_path / "dpo_preference-8.tsv", rows)
    out = tmp_path / "run"
    args = ["-q", "train", "ddpo", "--config", str(PKG / "configs" / "tiny.yaml")]
    args += ["--out", str(out)]
    for kv in (
        f"model={tiny_model}",
        f"data={tsv}",
        f"ref_cache_dir={tmp_path / 'ref'}",
        "tensorboard=false",
        "max_steps=1",
        f"model_is_muffin={str(muffin).lower()}",
        "data_filter={origin_split: [muffin], max_pairs: 8}",
    ):
        args += ["--set", kv]
    assert main(args) == 0
    rec = json.loads((out / "train_record.json").read_text())
    first = json.loads((out / "train_log.jsonl").read_text().splitlines()[0])
    assert rec["recipe"]["data_filter"] == {"origin_split": ["muffin"], "max_pairs": 8}
    assert rec["data"]["n_pairs"] == 8
    if muffin:  # the stored (here: made-up) log-probs are the reference: not ln 2 at step 0
        assert rec["recipe"]["reference_logps"] == "stored in the data (Muffin's)"
        assert abs(first["loss"] - math.log(2)) > 1e-3
    else:
        assert rec["recipe"]["reference_logps"].startswith("recomputed")
        assert first["loss"] == pytest.approx(math.log(2), abs=1e-5)
