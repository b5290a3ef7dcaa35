"""`halbench data prepare` + `halbench run` for POPE, AMBER and VQAv2, and the test-dev export."""

from __future__ import annotations

import json

import pytest

import halbench.prepare as data
from benchmarks.pope.score import load_questions
from halbench.cli import main
from halbench.errors import InputError
from halbench.run import RunConfig, run

from .conftest import BENCHMARKS

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def tiny_images(directory, names):
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (24, 16), (90, 120, 160))
    for name in names:
        img.save(directory / name)
    return directory


def test_pope_prepare_and_run(tmp_path, tiny_model):
    names = {
        q["image"]
        for s in ("random", "popular", "adversarial")
        for q in load_questions(BENCHMARKS / "pope" / "data" / f"coco_pope_{s}.json")
    }
    images = tiny_images(tmp_path / "val2014", sorted(names)[:-1])
    with pytest.raises(InputError, match="1 POPE images missing"):
        data.prepare("pope", data_dir=tmp_path / "d", coco_images=images)
    tiny_images(images, sorted(names)[-1:])
    target = data.prepare("pope", data_dir=tmp_path / "d", coco_images=images)
    items = [json.loads(x) for x in (target / "items.jsonl").read_text().splitlines()]
    assert len(items) == 9000 and items[0]["question"].endswith(
        "Answer the question using a single word or phrase."
    )
    # a replayed model that answers every question right except the popular split's "no" questions
    replay = tmp_path / "answers.jsonl"
    replay.write_text(
        "".join(
            json.dumps(
                {
                    "item_id": it["id"],
                    "text": "Yes"
                    if (it["label"] == "yes" or it["split"] == "popular")
                    else "No, there is not.",
                }
            )
            + "\n"
            for it in items
        )
    )
    (o,) = run(
        RunConfig(
            model=f"replay:{replay}",
            benchmarks=["pope"],
            out=tmp_path / "out",
            data_dir=tmp_path / "d",
        )
    )
    m = o.record.metrics
    assert m["splits"]["random"]["accuracy"] == 1.0 and m["splits"]["popular"]["accuracy"] == 0.5
    assert m["splits"]["popular"]["yes_ratio"] == 1.0
    assert m["accuracy"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert o.record.benchmark == "pope" and o.record.n_items == 9000
    # and a few items through the tiny model
    (t,) = run(
        RunConfig(
            model=str(tiny_model),
            benchmarks=["pope"],
            out=tmp_path / "tiny",
            data_dir=tmp_path / "d",
            limit=4,
            max_new_tokens=4,
        )
    )
    assert t.record.n_items == 4 and t.generated == 4


def test_amber_prepare_and_run(tmp_path):
    queries = json.loads((BENCHMARKS / "amber" / "data" / "query_all.json").read_text())
    images = tiny_images(tmp_path / "amber", sorted({q["image"] for q in queries}))
    target = data.prepare("amber", data_dir=tmp_path / "d", amber_images=images)
    annotations = json.loads((BENCHMARKS / "amber" / "data" / "annotations.json").read_text())
    replay = tmp_path / "r.jsonl"
    lines = []
    for q in queries:
        ann = annotations[q["id"] - 1]
        text = (
            "A photo."
            if ann["type"] == "generative"
            else ("Yes" if ann["truth"] == "yes" else "No")
        )
        lines.append(json.dumps({"item_id": str(q["id"]), "text": text}))
    replay.write_text("\n".join(lines) + "\n")
    assert (target / "items.jsonl").exists()
    (o,) = run(
        RunConfig(
            model=f"replay:{replay}",
            benchmarks=["amber"],
            out=tmp_path / "out",
            data_dir=tmp_path / "d",
        )
    )
    rep = o.record.metrics["reported"]["discriminative"]
    assert rep["overall"]["accuracy"] == round(14216 / 14216.001 * 100, 1) == 100.0
    assert o.record.metrics["discriminative"]["overall"]["accuracy"] == 1.0
    assert (
        o.record.n_unscored == 1004 and "generative" in o.record.not_computable
    )  # no similarity backend here


def write_vqa_files(tmp_path, with_annotations=True):
    qs = {
        "questions": [
            {"question_id": 100 + i, "image_id": 7 + i % 3, "question": f"How many things {i}?"}
            for i in range(6)
        ]
    }
    anns = {
        "annotations": [
            {
                "question_id": 100 + i,
                "image_id": 7 + i % 3,
                "question_type": "how many",
                "answer_type": "number",
                "answers": [{"answer": str(i % 3), "answer_id": j + 1} for j in range(10)],
            }
            for i in range(6)
        ]
    }
    (tmp_path / "q.json").write_text(json.dumps(qs))
    if with_annotations:
        (tmp_path / "a.json").write_text(json.dumps(anns))
    return tmp_path / "q.json", (tmp_path / "a.json") if with_annotations else None


def test_vqav2_prepare_run_and_export(tmp_path, capsys):
    q, a = write_vqa_files(tmp_path)
    images = tiny_images(tmp_path / "val2014", [f"COCO_val2014_{i:012d}.jpg" for i in (7, 8, 9)])
    target = data.prepare(
        "vqav2",
        data_dir=tmp_path / "d",
        vqa_questions=q,
        vqa_annotations=a,
        coco_images=images,
        subset=4,
        seed=1,
    )
    items = [json.loads(x) for x in (target / "items.jsonl").read_text().splitlines()]
    assert len(items) == 4 and [it["question_id"] for it in items] == sorted(
        it["question_id"] for it in items
    )
    assert json.loads((target / "manifest.json").read_text())["variant"] == "subset4-seed1"
    replay = tmp_path / "r.jsonl"
    replay.write_text(
        "".join(
            json.dumps(
                {
                    "question_id": it["question_id"],
                    "text": "zero" if it["question_id"] % 3 == 1 else "5",
                }
            )
            + "\n"
            for it in items
        )
    )
    (o,) = run(
        RunConfig(
            model=f"replay:{replay}",
            benchmarks=["vqav2"],
            out=tmp_path / "out",
            data_dir=tmp_path / "d",
        )
    )
    assert o.record.benchmark_version == "vqaeval-a013f00+subset4-seed1"
    # unanimous humans: "zero" is not normalised, so it never matches "0"
    assert all(it["accuracy"] == 0.0 for it in o.record.items)
    # test-dev: no annotations; the run stores answers and the export writes the submission
    (tmp_path / "td").mkdir()
    tq, _ = write_vqa_files(tmp_path / "td", with_annotations=False)
    tiny_images(tmp_path / "test2015", [f"COCO_test2015_{i:012d}.jpg" for i in (7, 8, 9)])
    assert (
        main(
            [
                "-q",
                "data",
                "prepare",
                "vqav2",
                "--vqa-questions",
                str(tq),
                "--coco-images",
                str(tmp_path / "test2015"),
                "--split",
                "test2015",
                "--data-dir",
                str(tmp_path / "td-data"),
            ]
        )
        == 0
    )
    replay2 = tmp_path / "r2.jsonl"
    replay2.write_text(
        "".join(json.dumps({"question_id": 100 + i, "text": " 2 "}) + "\n" for i in range(6))
    )
    assert (
        main(
            [
                "-q",
                "run",
                "--model",
                f"replay:{replay2}",
                "--benchmarks",
                "vqav2",
                "--data-dir",
                str(tmp_path / "td-data"),
                "--out",
                str(tmp_path / "td-out"),
            ]
        )
        == 0
    )
    assert "not scored: no public annotations" in capsys.readouterr().out
    sub = tmp_path / "submission.json"
    assert (
        main(
            [
                "export",
                "vqav2-testdev",
                "--answers",
                str(tmp_path / "td-out" / "vqav2" / "answers.jsonl"),
                "--questions",
                str(tq),
                "--output",
                str(sub),
            ]
        )
        == 0
    )
    assert json.loads(sub.read_text()) == [
        {"question_id": 100 + i, "answer": "2"} for i in range(6)
    ]
    (tmp_path / "short.jsonl").write_text(json.dumps({"question_id": 100, "answer": "1"}) + "\n")
    assert (
        main(
            [
                "-q",
                "export",
                "vqav2-testdev",
                "--answers",
                str(tmp_path / "short.jsonl"),
                "--questions",
                str(tq),
                "--output",
                str(sub),
            ]
        )
        == 1
    )
    assert "5 of 6 questions have no answer" in capsys.readouterr().err
