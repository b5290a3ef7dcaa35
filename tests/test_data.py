"""`halbench data prepare`: official file (verified), COCO sample, LLaVA-Bench images; then `run` on them."""

from __future__ import annotations

import base64
import json

import pytest

import halbench.prepare as data
from halbench.cli import main
from halbench.errors import HalbenchError, InputError
from halbench.registry import get_benchmark
from halbench.run import RunConfig, run

from .conftest import make_coco_dir

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_git_blob_sha1(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"hello\n")
    assert data.git_blob_sha1(p) == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object`


@pytest.fixture
def official_like(tmp_path, caps_boxes):
    """A file in the official format: base64 images, COCO ids, one of the 8 prompts each."""
    demo = get_benchmark("demo")
    prompts = get_benchmark("object-halbench").prompts
    images = sorted((demo.folder / "images").glob("*.png"))
    lines = []
    for k in range(6):
        rec = {
            "org_idx": 100 + k,
            "image_id": int(caps_boxes[k]["id"]),
            "question": prompts[k % 8],
            "image": base64.b64encode(images[k].read_bytes()).decode(),
        }
        lines.append(json.dumps(rec))
    path = tmp_path / "obj_halbench_300_with_image.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_prepare_official_file_and_run(official_like, tmp_path, vocab, caps_boxes, tiny_model):
    ann = make_coco_dir(tmp_path / "coco", caps_boxes, vocab)
    root = tmp_path / "data"
    blob = data.git_blob_sha1(official_like)
    target = data.prepare(
        "object-halbench",
        data_dir=root,
        source=official_like,
        coco_annotations=ann,
        expected_blob=blob,
    )
    assert target == root / "object-halbench"
    items = [json.loads(x) for x in (target / "items.jsonl").read_text().splitlines()]
    assert [it["id"] for it in items] == [str(k) for k in range(6)]
    assert items[0]["org_idx"] == 100 and items[0]["image_id"] == int(caps_boxes[0]["id"])
    first = json.loads(official_like.read_text().splitlines()[0])
    assert (target / items[0]["image"]).read_bytes() == base64.b64decode(first["image"])
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["source"]["verified_git_blob"] == blob and manifest["coco_annotations"] == str(
        ann.resolve()
    )
    # run on it: the ground truth comes from the manifest
    (o,) = run(
        RunConfig(
            model=str(tiny_model),
            benchmarks=["objhal"],
            out=tmp_path / "out",
            data_dir=root,
            max_new_tokens=8,
        )
    )
    assert o.record.benchmark == "object-halbench" and o.record.benchmark_version == "rlhfv-3d35a91"
    assert o.record.n_items == 6 and o.record.n_scored == 6


def test_official_file_is_verified(official_like, tmp_path):
    with pytest.raises(InputError, match=r"git blob [0-9a-f]{40} is not the official cb8e15a8"):
        data.prepare("object-halbench", data_dir=tmp_path, source=official_like)
    assert not (tmp_path / "object-halbench").exists()  # nothing half-prepared


def test_offline_messages(tmp_path, monkeypatch):
    with pytest.raises(HalbenchError, match="give the question file with --from PATH"):
        data.prepare("object-halbench", data_dir=tmp_path, offline=True)

    def no_network(url, dest, **kw):
        raise HalbenchError(f"could not download {url}: <urlopen error network unreachable>")

    monkeypatch.setattr(data, "download", no_network)
    with pytest.raises(
        HalbenchError, match="Offline\\? Download https://raw.githubusercontent.com/RLHF-V/RLHF-V/"
    ):
        data.prepare("object-halbench", data_dir=tmp_path)


def fake_coco_images(directory, ids):
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    for i in ids:
        Image.new("RGB", (40, 30), (i % 255, 90, 160)).save(
            directory / f"COCO_val2014_{i:012d}.jpg"
        )
    return directory


def test_coco_sample(tmp_path, vocab, caps_boxes, monkeypatch, tiny_model):
    ann = make_coco_dir(tmp_path / "coco", caps_boxes, vocab)
    ids = [int(r["id"]) for r in caps_boxes]
    images = fake_coco_images(tmp_path / "val2014", ids)
    bench = get_benchmark("object-halbench")
    with pytest.raises(InputError, match="only 80 images; the sample needs 300"):
        data.prepare(
            "object-halbench",
            data_dir=tmp_path / "d0",
            coco_sample=True,
            coco_images=images,
            coco_annotations=ann,
        )
    monkeypatch.setitem(bench.spec["sources"]["coco_sample"], "items", 10)
    a = data.prepare(
        "object-halbench",
        data_dir=tmp_path / "d1",
        coco_sample=True,
        coco_images=images,
        coco_annotations=ann,
    )
    b = data.prepare(
        "object-halbench",
        data_dir=tmp_path / "d2",
        coco_sample=True,
        coco_images=images,
        coco_annotations=ann,
    )
    assert (a / "items.jsonl").read_text() == (b / "items.jsonl").read_text()  # seeded
    items = [json.loads(x) for x in (a / "items.jsonl").read_text().splitlines()]
    assert len(items) == 10 and [it["question"] for it in items[:8]] == bench.prompts
    assert json.loads((a / "manifest.json").read_text())["variant"] == "coco-sample-seed0"
    (o,) = run(
        RunConfig(
            model=str(tiny_model),
            benchmarks=["object-halbench"],
            out=tmp_path / "o",
            data_dir=tmp_path / "d1",
            max_new_tokens=6,
        )
    )
    assert o.record.benchmark_version == "rlhfv-3d35a91+coco-sample-seed0"


def test_llava_bench_coco(tmp_path, tiny_model, capsys):
    questions = [
        json.loads(x)
        for x in (get_benchmark("llava-bench-coco").resolve("shipped:data/qa90_questions.jsonl"))
        .read_text()
        .splitlines()
    ]
    ids = sorted({int(q["image"].split(".")[0]) for q in questions})
    assert len(ids) == 30
    images = fake_coco_images(tmp_path / "val2014", ids[:-1])
    with pytest.raises(InputError, match=f"1 of the 30 LLaVA-Bench images are missing: {ids[-1]}"):
        data.prepare("llava-bench-coco", data_dir=tmp_path / "d", coco_images=images)
    fake_coco_images(images, ids[-1:])
    assert (
        main(
            [
                "-q",
                "data",
                "prepare",
                "llava-bench-coco",
                "--coco-images",
                str(images),
                "--data-dir",
                str(tmp_path / "d"),
            ]
        )
        == 0
    )
    code = main(
        [
            "-q",
            "run",
            "--model",
            str(tiny_model),
            "--benchmarks",
            "llava-bench-coco",
            "--limit",
            "3",
            "--max-new-tokens",
            "5",
            "--data-dir",
            str(tmp_path / "d"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "not judged (no --judge-model): answers stored" in out
    rec = json.loads((tmp_path / "o" / "llava-bench-coco" / "result.json").read_text())
    assert rec["n_items"] == 3 and rec["n_unscored"] == 3 and rec["metrics"] == {}
    assert rec["items"][0]["category"] == "conv"
