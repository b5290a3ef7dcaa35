"""End-to-end parity with the reference procedure on real answers and real COCO ground truth."""

from __future__ import annotations

import json
import random

import pytest

from benchmarks.object_halbench.score import ObjectHalbenchOptions, score_object_halbench
from halbench.coco import load_ground_truth

from ..conftest import CAPS_BOXES, DEMO_ANSWERS

METRIC_NAMES = {
    "CHAIRs": "CHAIRs",
    "CHAIRs_refine": "CHAIRs_refine",
    "CHAIRi": "CHAIRi",
    "obj_rec": "coverage",
    "avg_word_len": "avg_words",
    "sentence_num": "n_responses",
    "coco_sentence_num": "n_responses_with_objects",
}


def assert_same_as_reference(record, reference, reference_gt, caps):
    expected = reference.compute_chair(caps, reference_gt)
    scored = [it for it in record.items if "unscored" not in it]
    assert len(scored) == len(expected["sentences"])
    for item, sent in zip(scored, expected["sentences"], strict=True):
        assert item["mentions"] == sent["mscoco_generated_words"]
        assert item["hallucinated"] == sent["mscoco_hallucinated_words"]
        assert item["gt_objects"] == sent["mscoco_gt_words"]
    for ref_name, our_name in METRIC_NAMES.items():
        assert record.metrics[our_name] == pytest.approx(
            expected["overall_metrics"][ref_name], abs=1e-12
        )
        assert record.metrics[our_name] == expected["overall_metrics"][ref_name]  # bit-identical


def test_ground_truth_equals_reference(extractor, reference_gt, tmp_path):
    gt = load_ground_truth(CAPS_BOXES, extractor, cache_root=tmp_path)
    assert {k: set(v) for k, v in gt.objects.items()} == reference_gt
    assert len(gt.objects) == 80
    # two images without instance annotations: one gets its objects from the captions only
    assert gt.objects[192817] == {"airplane"}
    assert gt.objects[560371] == frozenset()  # street signs are not COCO objects


def test_gpt4_detailed_descriptions(reference, reference_gt, tmp_path):
    record = score_object_halbench(
        DEMO_ANSWERS, CAPS_BOXES, ObjectHalbenchOptions(cache_root=tmp_path)
    )
    caps = []
    for line in DEMO_ANSWERS.open():
        rec = json.loads(line)
        caps.append(
            {
                "image_id": rec["image_id"],
                "caption": rec["answer"].replace("Assistant:", "").strip(),
            }
        )
    assert len(caps) == 30
    assert_same_as_reference(record, reference, reference_gt, caps)
    assert record.n_scored == 30 and record.n_unscored == 0
    # the echoed fields come back unchanged and in input order
    assert [it["question_id"] for it in record.items] == [
        json.loads(x)["question_id"] for x in DEMO_ANSWERS.open()
    ]


def test_real_model_captions_on_random_images(reference, reference_gt, pope_captions, tmp_path):
    """3,000 real captions of other images: plenty of hallucinations, compounds and odd text."""
    rnd = random.Random(1234)
    ids = sorted(reference_gt)
    sample = rnd.sample(pope_captions, 3000)
    path = tmp_path / "answers.jsonl"
    caps = []
    with path.open("w") as f:
        for k, rec in enumerate(sample):
            image_id = rnd.choice(ids)
            text = rec["text"]
            if k % 7 == 0:
                text = "Assistant: " + text.replace(". ", ". Assistant:", 1)
            id_form = [image_id, f"{image_id:012d}", f"COCO_val2014_{image_id:012d}.jpg"][k % 3]
            key_q = "prompt" if k % 2 else "question"
            key_a = "text" if k % 2 else "answer"
            question = "Provide a brief description of the given image."
            f.write(json.dumps({"image_id": id_form, key_q: question, key_a: text, "k": k}) + "\n")
            caps.append({"image_id": image_id, "caption": text.replace("Assistant:", "").strip()})
    record = score_object_halbench(path, CAPS_BOXES, ObjectHalbenchOptions(cache_root=tmp_path))
    assert_same_as_reference(record, reference, reference_gt, caps)
    assert record.metrics["CHAIRs_refine"] > 0.5  # captions of other images hallucinate


def test_tokenizer_modes_agree(tmp_path):
    fast = score_object_halbench(
        DEMO_ANSWERS, CAPS_BOXES, ObjectHalbenchOptions(cache_root=tmp_path)
    )
    slow = score_object_halbench(
        DEMO_ANSWERS,
        CAPS_BOXES,
        ObjectHalbenchOptions(cache_root=tmp_path / "slow", fast_tokenizer=False),
    )
    assert fast.items == slow.items and fast.metrics == slow.metrics
    assert slow.provenance.details["nlp"]["tokenizer"] == "nltk"
    assert fast.provenance.details["nlp"]["tokenizer"] == "fast"
