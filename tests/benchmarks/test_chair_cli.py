"""CHAIR through the framework: data prepare, halbench run (replay), halbench score."""

from __future__ import annotations

import json

import pytest

from benchmarks.chair.score import score_file
from halbench.cli import main

from .test_chair import ROWS, _answers_file, _images, _write_coco


@pytest.fixture
def prepared(tmp_path):
    ann = _write_coco(tmp_path / "ann")
    images = _images(tmp_path / "val2014", [1, 2, 3, 4])
    ids = tmp_path / "ids.txt"
    ids.write_text("1\n2\n3\n4\n")
    data = tmp_path / "data"
    argv = [
        "-q",
        "data",
        "prepare",
        "chair",
        "--coco-images",
        str(images),
        "--ids-file",
        str(ids),
        "--coco-annotations",
        str(ann),
        "--data-dir",
        str(data),
    ]
    assert main(argv) == 0
    return ann, data


def test_prepare_takes_only_chair_flags(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data", "prepare", "chair", "--coco-images", str(tmp_path), "--subset", "5"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --subset 5" in capsys.readouterr().err


def test_score_cli_equals_the_function(tmp_path, prepared, capsys):
    ann, _ = prepared
    answers = _answers_file(tmp_path / "a.jsonl", ROWS)
    out = tmp_path / "chair.json"
    assert (
        main(
            [
                "score",
                "chair",
                "--answers",
                str(answers),
                "--coco-annotations",
                str(ann),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "CHAIR_S   40.0  (2 / 5 captions)" in printed
    got = json.loads(out.read_text())
    want = json.loads(score_file(answers, ann).to_json())
    assert got["metrics"] == want["metrics"] and got["items"] == want["items"]


def test_run_replay_scores_like_score(tmp_path, prepared, capsys):
    ann, data = prepared
    rows = [(1, "A man on a chair next to a dog."), (2, "A table."), (3, "A puppy."), (4, "A cat.")]
    replay = tmp_path / "replay.jsonl"
    replay.write_text("".join(json.dumps({"item_id": str(i), "text": t}) + "\n" for i, t in rows))
    out = tmp_path / "run"
    assert (
        main(
            [
                "-q",
                "run",
                "--model",
                f"replay:{replay}",
                "--benchmarks",
                "chair",
                "--data-dir",
                str(data),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    summary = capsys.readouterr().out
    # headline from [[metrics]]: dog (image 1) and cat (image 4) of 6 mentions
    assert "CHAIRs 50.00 %" in summary and "CHAIRi 33.33 %" in summary
    rec = json.loads((out / "chair" / "result.json").read_text())
    assert rec["benchmark"] == "chair" and rec["protocol"]["scorer"] == "chair"
    assert rec["benchmark_version"] == "lisaanne-6e4d33c4+ids-ids"
    direct = score_file(_answers_file(tmp_path / "d.jsonl", rows), ann)
    assert rec["metrics"] == json.loads(direct.to_json())["metrics"]
    assert [it["mentions"] for it in rec["items"]] == [it["mentions"] for it in direct.items]
