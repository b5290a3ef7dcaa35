"""POPE end to end through ``halbench run --model replay:FILE``: the same answers written by
halbench, by lmms-eval (task ``pope``, all three splits, in gathered-rank order) and by
VLMEvalKit (one row per distinct image + question, splits joined in ``category``) give the same
record; a broken row stops the run with one line naming file, line and field."""

from __future__ import annotations

import csv
import json
import random
import zlib

import pytest

import halbench.prepare as data
from benchmarks.pope.score import load_questions
from halbench.cli import main

from .conftest import BENCHMARKS

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def pope(tmp_path_factory):
    from PIL import Image

    tmp = tmp_path_factory.mktemp("pope")
    names = {
        q["image"]
        for s in ("random", "popular", "adversarial")
        for q in load_questions(BENCHMARKS / "pope" / "data" / f"coco_pope_{s}.json")
    }
    images = tmp / "val2014"
    images.mkdir()
    img = Image.new("RGB", (8, 8), (90, 120, 160))
    for name in names:
        img.save(images / name)
    target = data.prepare("pope", data_dir=tmp / "d", coco_images=images)
    items = [json.loads(x) for x in (target / "items.jsonl").read_text().splitlines()]
    return tmp / "d", items


def answer(it):
    # one answer per image + question (what VLMEvalKit assumes when it merges the splits):
    # right, except "yes" to about a third of the "no" questions
    wrong = zlib.crc32(f"{it['coco_image']} {it['raw_question']}".encode()) % 3 == 0
    return "Yes" if it["label"] == "yes" or wrong else "No"


def run(data_dir, replay, out):
    argv = ["-q", "run", "--model", f"replay:{replay}", "--benchmarks", "pope"]
    code = main([*argv, "--data-dir", str(data_dir), "--out", str(out)])
    rec = json.loads((out / "pope" / "result.json").read_text()) if code == 0 else None
    return code, rec


def test_pope_from_three_toolkits_gives_one_record(pope, tmp_path):
    data_dir, items = pope
    assert len(items) == 9000
    native = tmp_path / "answers.jsonl"
    native.write_text(
        "".join(json.dumps({"item_id": it["id"], "text": answer(it)}) + "\n" for it in items)
    )

    samples = []
    for doc_id, it in enumerate(items):
        doc = {
            "id": str(doc_id),
            "question_id": str(it["question_id"]),
            "question": it["raw_question"],
            "answer": it["label"],
            "category": it["split"],
        }
        samples.append(
            {
                "doc_id": doc_id,
                "doc": doc,
                "target": it["label"],
                "arguments": [{"max_new_tokens": 128, "temperature": 0, "until": ["\n\n"]}],
                "resps": [[answer(it)]],
                "filtered_resps": [answer(it)],
                "pope_accuracy": {"question_id": doc["question_id"], "score": 1.0},
            }
        )
    random.Random(1).shuffle(samples)
    lmms = tmp_path / "llava-v1.5-7b_pope.jsonl"
    lmms.write_text("".join(json.dumps(s) + "\n" for s in samples))

    merged: dict[tuple[str, str], dict] = {}  # VLMEvalKit asks each image + question once
    for it in items:
        row = merged.setdefault(
            (it["coco_image"], it["raw_question"]),
            {
                "question": it["raw_question"],
                "prediction": answer(it),
                "answer": it["label"].title(),
                "splits": [],
                "image_path": f"images/POPE/{it['coco_image']}",
            },
        )
        row["splits"].append(it["split"])
    assert len(merged) < len(items)  # the splits share questions
    tsv = tmp_path / "llava_v1.5_7b_POPE.tsv"
    with tsv.open("w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["index", "question", "prediction", "answer", "category", "image_path"])
        for i, row in enumerate(merged.values()):
            w.writerow(
                [
                    i,
                    row["question"],
                    row["prediction"],
                    row["answer"],
                    ",".join(row["splits"]),
                    row["image_path"],
                ]
            )

    records = {}
    for name, path in [("native", native), ("lmms", lmms), ("vlmevalkit", tsv)]:
        code, rec = run(data_dir, path, tmp_path / name)
        assert code == 0, name
        records[name] = rec
    m = records["native"]["metrics"]
    assert 0.7 < m["accuracy"] < 0.95 and m["splits"]["popular"] != m["splits"]["random"]
    for name in ("lmms", "vlmevalkit"):
        assert records[name]["metrics"] == m, name
        assert records[name]["items"] == records["native"]["items"], name
    details = {k: r["model"]["details"] for k, r in records.items()}
    assert (
        details["native"]["matched_by"] == "item_id" and details["native"]["format"] == "halbench"
    )
    assert details["lmms"]["matched_by"] == "item_id" and details["lmms"]["format"] == "lmms-eval"
    assert details["vlmevalkit"]["matched_by"] == "image_file+question"
    assert details["vlmevalkit"]["format"] == "vlmevalkit"


def test_pope_run_errors_are_one_line(pope, tmp_path, capsys):
    data_dir, items = pope
    lines = [
        json.dumps(
            {
                "doc_id": i,
                "doc": {"question_id": str(it["question_id"]), "category": it["split"]},
                "resps": [["Yes"]],
                "filtered_resps": ["Yes"],
            }
        )
        for i, it in enumerate(items[:3])
    ]
    lines[2] = lines[2].replace('"category": "random"', '"category": "randoom"')
    bad = tmp_path / "pope_random.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    code, _ = run(data_dir, bad, tmp_path / "o")
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"{bad}:3: doc.category 'randoom' is not a POPE split" in err
    # one split only (lmms-eval's pope_random): the other splits' items are named as missing
    bad.write_text("\n".join(lines[:2]) + "\n")
    code, _ = run(data_dir, bad, tmp_path / "o2")
    err = capsys.readouterr().err
    assert code == 1 and "no answer for item(s) random-3" in err and "(8998 in all)" in err
    assert "concatenate them" in err
