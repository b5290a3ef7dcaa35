"""DDPO data: readers and bad records, config checks, record -> inputs alignment, reference cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from halbench.errors import InputError
from reference_models.rlhfv.config import from_dict, load_config
from reference_models.rlhfv.data import load_preferences

PKG = Path(__file__).resolve().parents[1] / "reference_models" / "rlhfv"
TINY_PREFS = PKG / "data" / "tiny_prefs" / "prefs.jsonl"
IMAGES = TINY_PREFS.parent / "images"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _row(rid: str, **kw) -> dict:
    base = {
        "id": rid,
        "image": str(IMAGES / "clock.png"),
        "question": "Describe the image.",
        "chosen": "A round white clock on the wall.",
        "rejected": "A round white plate on the wall.",
    }
    return {**base, **kw}


# ---------------------------------------------------------------- readers
def test_bundled_toy_set_loads():
    data = load_preferences(TINY_PREFS)
    assert len(data.records) == 24 and not data.bad
    assert data.records[0].image_path.is_file()
    assert load_preferences(TINY_PREFS).checksum == data.checksum


def test_bad_records_fail_or_skip_never_silently(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    rows = [
        _row("ok"),
        _row("noimg", image="missing.png"),
        _row("empty", chosen="  "),
        _row("same", rejected="A round white clock on the wall."),
        _row("corrupt", image="broken.png"),
    ]
    path = _write(tmp_path / "p.jsonl", rows)
    with pytest.raises(InputError) as err:
        load_preferences(path)
    msg = str(err.value)
    assert "4 bad record(s)" in msg
    for rid, why in [
        ("noimg", "missing image"),
        ("empty", "empty chosen"),
        ("same", "identical"),
        ("corrupt", "unreadable image"),
    ]:
        assert rid in msg and why in msg
    data = load_preferences(path, bad_records="skip")
    assert [r.id for r in data.records] == ["ok"]
    assert [(b.id, b.where.rsplit(":", 1)[1]) for b in data.bad] == [
        ("noimg", "2"),
        ("empty", "3"),
        ("same", "4"),
        ("corrupt", "5"),
    ]


def test_malformed_jsonl_names_line_and_field(tmp_path):
    path = _write(
        tmp_path / "p.jsonl",
        [_row("a"), {"id": "b", "image": "x.png", "question": "q", "rejected": "r"}],
    )
    with pytest.raises(InputError, match=r'p\.jsonl:2: missing "chosen"'):
        load_preferences(path)
    path = _write(tmp_path / "q.jsonl", [_row("a"), _row("a")])
    with pytest.raises(InputError, match=r"q\.jsonl:2: duplicate id 'a'"):
        load_preferences(path)


def test_rlhfv_parquet_and_hf_directory(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    png = (IMAGES / "clock.png").read_bytes()
    text = [
        json.dumps(
            {"question": "Describe.", "chosen": f"A clock {k}.", "rejected": f"A plate {k}."}
        )
        for k in range(3)
    ]
    table = pa.table(
        {
            "ds_name": ["RLHF-V-Dataset"] * 3,
            "image": [{"bytes": png, "path": None}] * 2 + [{"bytes": None, "path": None}],
            "text": text,
            "origin_dataset": ["x"] * 3,
            "origin_split": ["{}"] * 3,
            "idx": [0, 1, 2],
            "image_path": ["a", "b", "c"],
        }
    )
    pq.write_table(table, tmp_path / "RLHF-V-Dataset.parquet")
    data = load_preferences(tmp_path / "RLHF-V-Dataset.parquet", bad_records="skip")
    assert [r.id for r in data.records] == ["RLHF-V-Dataset:0", "RLHF-V-Dataset:1"]
    assert data.records[1].chosen == "A clock 1."
    assert [b.id for b in data.bad] == ["RLHF-V-Dataset:2"] and "missing image" in data.bad[
        0
    ].reason
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": png, "path": None}] * 2,
            "question": ["Q1", "Q2"],
            "chosen": ["A clock.", "A cup."],
            "rejected": ["A plate.", "A bowl."],
            "idx": [5, 6],
        }
    ).cast_column("image", datasets.Image())
    ds.save_to_disk(str(tmp_path / "hf"))
    hf = load_preferences(tmp_path / "hf")
    assert [(r.id, r.question, r.rejected) for r in hf.records] == [
        ("5", "Q1", "A plate."),
        ("6", "Q2", "A bowl."),
    ]
    assert hf.records[0].image_digest() == data.records[0].image_digest()  # bytes kept as stored


# ---------------------------------------------------------------- config
def test_config_errors_are_clear(tmp_path):
    ok = {"model": "m", "data": "d"}
    with pytest.raises(
        InputError, match=r"unknown field 'learnig_rate' \(did you mean 'learning_rate'\?\)"
    ):
        from_dict({**ok, "learnig_rate": 1e-5}, "c.yaml")
    with pytest.raises(InputError, match=r"loss: expected 'ddpo-paper' \| 'ddpo-sum' \| 'dpo'"):
        from_dict({**ok, "loss": "ddpo"})
    with pytest.raises(InputError, match="epochs: expected int"):
        from_dict({**ok, "epochs": 1.5})
    with pytest.raises(InputError, match="gamma must be 1"):
        from_dict({**ok, "loss": "dpo", "gamma": 5})
    with pytest.raises(InputError, match="model: required"):
        from_dict({"data": "d"})
    assert from_dict({**ok, "learning_rate": 1}).learning_rate == 1.0  # int accepted for float
    assert from_dict({**ok, "loss": "ddpo-sum"}).resolved() == (0.1, 1.1)
    assert from_dict(ok).resolved() == (0.5, 5.0)
    bad = tmp_path / "b.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(InputError, match="invalid YAML"):
        load_config(bad)


def test_shipped_configs_validate():
    tiny = load_config(PKG / "configs" / "tiny.yaml")
    assert Path(tiny.data) == TINY_PREFS.resolve() and tiny.build_tiny_if_missing
    paper = load_config(PKG / "configs" / "rlhfv-paper.yaml")
    assert (
        paper.loss,
        paper.resolved(),
        paper.learning_rate,
        paper.global_batch_size,
        paper.epochs,
        paper.warmup_ratio,
        paper.mixed_precision,
    ) == ("ddpo-paper", (0.5, 5.0), 5e-7, 32, 7, 0.1, "bf16")
    from accelerate.commands.config.config_args import load_config_from_file

    kinds = {}
    for name in ("ddp", "fsdp", "zero2", "zero3"):
        c = load_config_from_file(str(PKG / "configs" / "accelerate" / f"{name}.yaml"))
        kinds[name] = (str(c.distributed_type).rsplit(".", 1)[-1], c.mixed_precision)
    assert kinds == {
        "ddp": ("MULTI_GPU", "bf16"),
        "fsdp": ("FSDP", "bf16"),
        "zero2": ("DEEPSPEED", "bf16"),
        "zero3": ("DEEPSPEED", "bf16"),
    }


# ---------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def tiny_bits(tiny_model):
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from reference_models.rlhfv.inputs import DiffSettings, Encoder, EncodeSettings

    processor = AutoProcessor.from_pretrained(tiny_model)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model, dtype=torch.float32).eval()
    enc = Encoder(processor, EncodeSettings(), DiffSettings())
    recs = load_preferences(TINY_PREFS).records
    return torch, model, enc, recs


def test_collate_aligns_weights_with_shifted_labels(tiny_bits):
    torch, model, enc, recs = tiny_bits
    sub = recs[:3]
    pairs = [enc.encode_pair(r) for r in sub]
    assert pairs[0].chosen_ids[-1] == enc.tokenizer.eos_token_id
    assert pairs[0].chosen_corrected and pairs[0].rejected_corrected  # substitution pair
    batch = enc.collate(sub, pairs, gamma=5.0)
    ids, w, tg = batch["model_inputs"]["input_ids"], batch["weights"], batch["targets"]
    assert ids.shape[0] == 6 and batch["model_inputs"]["pixel_values"].shape[0] == 6
    for k in range(6):
        pair, side = pairs[k % 3], "chosen" if k < 3 else "rejected"
        comp = getattr(pair, f"{side}_ids")
        assert (
            tg[k][w[k] > 0].tolist() == comp
        )  # the weighted positions score exactly the completion
        corrected = (w[k][w[k] > 0] == 5.0).nonzero().flatten().tolist()
        assert corrected == getattr(pair, f"{side}_corrected")
    # our lean log-probs equal a plain full-logits log_softmax gather
    from reference_models.rlhfv.inputs import token_logps

    with torch.no_grad():
        lp = token_logps(model, batch)
        full = model(**batch["model_inputs"]).logits.log_softmax(-1)
    s = batch["start"]
    ref = full[:, s:-1].gather(-1, tg.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(lp[w > 0], ref[w > 0], atol=1e-5)
    # padding invariance: a pair alone gives the same completion log-probs as inside the batch
    alone = enc.collate(sub[2:3], pairs[2:3], gamma=5.0)
    with torch.no_grad():
        lp1 = token_logps(model, alone)
    assert torch.allclose(lp1[0][alone["weights"][0] > 0], lp[2][w[2] > 0], atol=1e-5)


def test_prompt_longer_than_max_length_is_an_error(tiny_bits):
    _, _, enc, recs = tiny_bits
    from halbench.errors import HalbenchError
    from reference_models.rlhfv.inputs import DiffSettings, Encoder, EncodeSettings

    short = Encoder(enc.processor, EncodeSettings(max_length=10), DiffSettings())
    with pytest.raises(HalbenchError, match="image tokens are never truncated"):
        short.collate(recs[:1], [short.encode_pair(recs[0])], 5.0)


# ---------------------------------------------------------------- reference cache
def test_reference_cache_roundtrip_validation_and_resume(tmp_path, tiny_bits):
    _, _, enc, recs = tiny_bits
    from reference_models.rlhfv import refcache

    pairs = [enc.encode_pair(r) for r in recs[:5]]
    calls = []

    def compute(lo, hi):
        calls.append((lo, hi))
        return (
            [[float(i + t) for t in range(len(pairs[i].chosen_ids))] for i in range(lo, hi)],
            [[-float(i + t) for t in range(len(pairs[i].rejected_ids))] for i in range(lo, hi)],
        )

    meta = {"model_fingerprint": "sha256:abc", "data_checksum": "x", "encode": {"max_length": None}}
    d = tmp_path / "c"
    c, r, stats = refcache.load_or_compute(d, meta, pairs, compute, shard_size=2)
    assert calls == [(0, 2), (2, 4), (4, 5)] and stats["computed"] == 3
    assert c[4][:2] == [4.0, 5.0] and r[1][0] == -1.0
    assert all(p.suffix == ".safetensors" for p in d.glob("shard-*"))
    first = (d / "shard-00001.safetensors").read_bytes()
    (d / "shard-00001.safetensors").unlink()  # a killed precompute: one shard missing
    calls.clear()
    c2, _, stats = refcache.load_or_compute(d, meta, pairs, compute, shard_size=2)
    assert calls == [(2, 4)] and stats == {"shards": 3, "computed": 1, "reused": 2} and c2 == c
    assert (d / "shard-00001.safetensors").read_bytes() == first
    with pytest.raises(InputError, match="made with model_fingerprint='sha256:abc'"):
        refcache.load_or_compute(
            d, {**meta, "model_fingerprint": "sha256:other"}, pairs, compute, shard_size=2
        )
    pairs[3].rejected_ids = pairs[3].rejected_ids[:-1]
    with pytest.raises(InputError, match="row 3: cached rejected token ids differ"):
        refcache.load_or_compute(d, meta, pairs, compute, shard_size=2)
    shutil.rmtree(d)


def test_docs_config_reference_is_current():
    from reference_models.rlhfv.config import config_reference

    doc = (Path(__file__).resolve().parents[1] / "docs" / "ddpo.md").read_text()
    assert config_reference() in doc, "regenerate the table in docs/ddpo.md from config_reference()"


def test_full_sequence_diff_scope(tiny_bits):
    """Strict-parity scope (whole sequence minus token 0): same weights on short sequences, where
    autojunk is inactive; on 200+ tokens popular prompt tokens (image placeholders) change it."""
    _, _, enc, recs = tiny_bits
    from reference_models.rlhfv.diff import corrected_positions
    from reference_models.rlhfv.inputs import DiffSettings, Encoder

    full = Encoder(enc.processor, enc.settings, DiffSettings(scope="full"))
    for rec in recs[:6]:
        a, b = enc.encode_pair(rec), full.encode_pair(rec)
        assert (a.chosen_corrected, a.rejected_corrected) == (
            b.chosen_corrected,
            b.rejected_corrected,
        )
        prompt = enc.prompt_inputs(rec)["input_ids"][0].tolist()
        off = len(prompt) - 1
        rp, cp = corrected_positions((prompt + a.rejected_ids)[1:], (prompt + a.chosen_ids)[1:])
        assert [k - off for k in cp] == b.chosen_corrected and min(rp + cp) >= off


def test_full_scope_keeps_a_short_common_start_unweighted(tiny_bits):
    _, _, enc, recs = tiny_bits
    from dataclasses import replace

    from reference_models.rlhfv.inputs import DiffSettings, Encoder

    rec = replace(
        recs[0],
        chosen="The image shows a red stop sign.",
        rejected="The picture has a dog and a cat.",
    )
    a = enc.encode_pair(rec)
    b = Encoder(enc.processor, enc.settings, DiffSettings(scope="full")).encode_pair(rec)
    shared = next(
        k for k, (x, y) in enumerate(zip(a.chosen_ids, a.rejected_ids, strict=False)) if x != y
    )
    assert 0 < shared < 3  # a common start shorter than min_match
    assert a.chosen_corrected[0] == 0 and a.rejected_corrected[0] == 0  # dropped match: weighted
    assert b.chosen_corrected[0] == shared and b.rejected_corrected[0] == shared  # joins the prompt
