"""The annotation app's DDPO export feeds the DDPO trainer: corrections made by people become
up-weighted tokens, and `halbench train ddpo` trains on the exported file."""

from __future__ import annotations

import json

import pytest

from halbench.annotate.export import export_ddpo
from halbench.annotate.load import load_run
from halbench.annotate.store import AnnotationStore
from halbench.cli import main
from tests.annotate_helpers import ANSWERS, make_run

pytest.importorskip("accelerate")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def exported(tmp_path):
    db = load_run(make_run(tmp_path)).db
    store = AnnotationStore(db)
    store.add_annotator("alice")
    (alice,) = store.annotators()
    a1 = ANSWERS["demo-1"]
    store.add_span(1, alice, a1.index("car"), a1.index("car") + 3, "object", "tree")
    a5 = ANSWERS["demo-5"]
    store.add_span(5, alice, a5.index("cat"), a5.index("cat") + 3, "object", "spoon")
    store.add_span(5, alice, a5.index("blue"), a5.index("blue") + 4, "attribute", "green")
    store.close()
    out = tmp_path / "pairs" / "ddpo.jsonl"
    assert export_ddpo(db, out).pairs == 2
    return out


def test_trainer_reads_the_export_and_weights_the_corrections(exported, tiny_model):
    from transformers import AutoProcessor

    from reference_models.rlhfv.data import load_preferences
    from reference_models.rlhfv.inputs import DiffSettings, Encoder, EncodeSettings

    data = load_preferences(exported)  # bad_records="fail": any problem would raise
    assert not data.bad
    recs = {r.id: r for r in data.records}
    assert set(recs) == {"demo-1/alice", "demo-5/alice"}
    one = recs["demo-1/alice"]
    assert one.rejected == ANSWERS["demo-1"]
    assert one.chosen == ANSWERS["demo-1"].replace("car", "tree")
    assert one.image_path.is_file() and one.load_image().mode == "RGB"

    processor = AutoProcessor.from_pretrained(tiny_model)
    enc = Encoder(processor, EncodeSettings(), DiffSettings())
    tok = processor.tokenizer
    for rec, fixed, wrong in (
        (one, ["tree"], ["car"]),
        (recs["demo-5/alice"], ["spoon", "green"], ["cat", "blue"]),
    ):
        pair = enc.encode_pair(rec)
        assert pair.chosen_corrected and pair.rejected_corrected
        up_c = tok.decode([pair.chosen_ids[k] for k in pair.chosen_corrected])
        up_r = tok.decode([pair.rejected_ids[k] for k in pair.rejected_corrected])
        assert all(w in up_c for w in fixed), up_c  # the annotator's correction is up-weighted
        assert all(w in up_r for w in wrong), up_r  # and so is the hallucination it replaced
        # the rest of the answer keeps weight 1
        assert len(pair.chosen_corrected) < len(pair.chosen_ids) / 2


def test_train_ddpo_on_the_export(exported, tiny_model, tmp_path):
    out = tmp_path / "trained"
    args = [
        "-q",
        "train",
        "ddpo",
        "--config",
        "tiny",
        "--out",
        str(out),
        "--set",
        f"model={tiny_model}",
        "--set",
        f"data={exported}",
        "--set",
        f"ref_cache_dir={tmp_path / 'ref'}",
        "--set",
        "tensorboard=false",
        "--set",
        "global_batch_size=2",
        "--set",
        "per_device_batch_size=1",
        "--set",
        "max_steps=2",
        "--set",
        "save_steps=100",
    ]
    assert main(args) == 0
    record = json.loads((out / "train_record.json").read_text())
    from reference_models.rlhfv.data import load_preferences

    assert json.dumps(record).count(load_preferences(exported).checksum) >= 1
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2]
    assert (out / "config.json").is_file()  # a checkpoint halbench run can load
