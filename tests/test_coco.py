"""Ground truth from COCO annotation files and caps_boxes files; the cache."""

from __future__ import annotations

import json

import pytest

import halbench.coco as coco
from halbench.coco import load_ground_truth
from halbench.errors import InputError

from .conftest import make_coco_dir


@pytest.mark.parametrize("splits", [("val",), ("train", "val")])
def test_coco_dir_equals_reference(tmp_path, extractor, vocab, caps_boxes, reference_gt, splits):
    d = make_coco_dir(tmp_path / "ann", caps_boxes, vocab, splits)
    gt = load_ground_truth(d, extractor, cache_root=tmp_path / "cache")
    assert {k: set(v) for k, v in gt.objects.items()} == reference_gt
    assert gt.kind == "coco_annotations"
    assert [f.role for f in gt.files] == [
        r for s in splits for r in (f"instances_{s}", f"captions_{s}")
    ]


def test_cache_hit_and_invalidation(tmp_path, extractor, vocab, caps_boxes, monkeypatch):
    d = make_coco_dir(tmp_path / "ann", caps_boxes, vocab)
    first = load_ground_truth(d, extractor, cache_root=tmp_path / "cache")
    assert first.cache == ["coco_val: built"]

    def boom(*a, **k):
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(coco, "_build_coco_split", boom)
    second = load_ground_truth(d, extractor, cache_root=tmp_path / "cache")
    assert second.cache == ["coco_val: cache hit"]
    assert second.objects == first.objects
    monkeypatch.undo()

    # a changed annotation file changes its checksum, hence the key: rebuilt
    caps = json.loads((d / "captions_val2014.json").read_text())
    caps["annotations"][0]["caption"] = "a zebra"
    (d / "captions_val2014.json").write_text(json.dumps(caps))
    third = load_ground_truth(d, extractor, cache_root=tmp_path / "cache")
    assert third.cache == ["coco_val: built"]
    image = caps["annotations"][0]["image_id"]
    assert "zebra" in third.objects[image]


def test_no_cache_writes_nothing(tmp_path, extractor):
    from .conftest import CAPS_BOXES

    load_ground_truth(CAPS_BOXES, extractor, use_cache=False, cache_root=tmp_path)
    assert not (tmp_path / "ground_truth").exists()


def test_corrupt_cache_is_rebuilt(tmp_path, extractor):
    from .conftest import CAPS_BOXES

    load_ground_truth(CAPS_BOXES, extractor, cache_root=tmp_path)
    (cache_file,) = (tmp_path / "ground_truth").glob("*.json")
    cache_file.write_text('{"key": ')
    gt = load_ground_truth(CAPS_BOXES, extractor, cache_root=tmp_path)
    assert gt.cache == ["caps_boxes: built"] and len(gt.objects) == 80


def test_split_needs_both_files(tmp_path, extractor, vocab, caps_boxes):
    d = make_coco_dir(tmp_path / "ann", caps_boxes, vocab)
    (d / "captions_val2014.json").unlink()
    with pytest.raises(InputError, match="captions_val2014.json is missing"):
        load_ground_truth(d, extractor, cache_root=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no COCO 2014 annotation files found"):
        load_ground_truth(empty, extractor, cache_root=tmp_path)
    with pytest.raises(InputError, match="not found"):
        load_ground_truth(tmp_path / "missing", extractor, cache_root=tmp_path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda inst, caps: inst["annotations"][0].pop("category_id"),
            r'annotations\[0\]: missing "category_id"',
        ),
        (
            lambda inst, caps: inst["annotations"][0].update(category_id=9999),
            r"annotations\[0\]: unknown category_id 9999",
        ),
        (
            lambda inst, caps: inst["categories"][0].update(name="unicorn"),
            r'categories\[0\]: "unicorn" is not a COCO class',
        ),
        (
            lambda inst, caps: caps["annotations"][1].update(caption=None),
            r'annotations\[1\]: "caption" must be a string, got null',
        ),
        (lambda inst, caps: inst.pop("annotations"), r'top level: missing "annotations"'),
    ],
)
def test_bad_coco_files(tmp_path, extractor, vocab, caps_boxes, mutate, message):
    d = make_coco_dir(tmp_path / "ann", caps_boxes, vocab)
    inst = json.loads((d / "instances_val2014.json").read_text())
    caps = json.loads((d / "captions_val2014.json").read_text())
    mutate(inst, caps)
    (d / "instances_val2014.json").write_text(json.dumps(inst))
    (d / "captions_val2014.json").write_text(json.dumps(caps))
    with pytest.raises(InputError, match=message):
        load_ground_truth(d, extractor, cache_root=tmp_path / "cache")


def test_bad_caps_boxes(tmp_path, extractor):
    p = tmp_path / "cb.jsonl"
    p.write_text(
        json.dumps(
            {"id": "000000000001", "captions": ["a dog"], "instances": [{"category": "dog"}]}
        )
        + "\n"
        + json.dumps(
            {"id": "000000000002", "captions": ["a cat"], "instances": [{"category": "unicorn"}]}
        )
        + "\n"
    )
    with pytest.raises(
        InputError, match=r"cb\.jsonl:2: instances\[0\]\.category: 'unicorn' is not a COCO class"
    ):
        load_ground_truth(p, extractor, cache_root=tmp_path)
    p.write_text(json.dumps({"id": "x1", "captions": []}) + "\n")
    with pytest.raises(InputError, match=r'cb\.jsonl:1: "id" must be a COCO image id'):
        load_ground_truth(p, extractor, cache_root=tmp_path)
    p.write_text(json.dumps({"id": 3, "captions": "a dog"}) + "\n")
    with pytest.raises(InputError, match=r'cb\.jsonl:1: "captions" must be an array of strings'):
        load_ground_truth(p, extractor, cache_root=tmp_path)
