"""The command line: outputs, help texts, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from halbench.cli import main
from halbench.types import ResultRecord

from .conftest import CAPS_BOXES, DEMO_ANSWERS, SYNONYMS


def score_args(answers, out, *extra):
    return [
        "-q",
        "score",
        "object-halbench",
        "--answers",
        str(answers),
        "--coco-annotations",
        str(CAPS_BOXES),
        "--output",
        str(out),
        *extra,
    ]


def test_score_writes_a_record(tmp_path, capsys):
    out = tmp_path / "sub" / "objhal.json"
    assert main(score_args(DEMO_ANSWERS, out)) == 0
    text = capsys.readouterr().out
    assert "CHAIRs_refine (Resp.)" in text and f"Result record: {out}" in text
    rec = ResultRecord.load(out)
    assert rec.benchmark == "object-halbench" and rec.n_items == 30
    assert set(rec.metrics) >= {
        "CHAIRs",
        "CHAIRs_refine",
        "CHAIRi",
        "coverage",
        "n_responses",
        "n_responses_with_objects",
        "avg_words",
    }
    assert all(0 <= rec.metrics[k] <= 1 for k in ("CHAIRs", "CHAIRs_refine", "CHAIRi", "coverage"))
    assert rec.fractions["CHAIRi"].denominator == sum(len(i["mentions"]) for i in rec.items)
    roles = [f.role for f in rec.provenance.inputs]
    assert roles == ["answers", "caps_boxes", "synonyms"]
    assert rec.provenance.details["nlp"]["wordnet_matches_wordnet30"] is True
    first = rec.items[0]
    assert {
        "question_id",
        "image_id",
        "question",
        "answer",
        "mentions",
        "hallucinated",
        "gt_objects",
    } <= set(first)


def test_alias_objhal(tmp_path):
    out = tmp_path / "o.json"
    args = score_args(DEMO_ANSWERS, out)
    args[2] = "objhal"
    assert main(args) == 0 and out.exists()


def test_bad_input_exits_nonzero_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "answers.jsonl"
    bad.write_text(
        '{"image_id": 441147, "question": "q", "answer": "a"}\n{"image_id": 441147, "question": "q"}\n'
    )
    out = tmp_path / "out.json"
    assert main(score_args(bad, out)) == 1
    err = capsys.readouterr().err
    assert f'halbench: error: {bad}:2: missing "text" or "answer"' in err
    assert not out.exists()
    assert not list(tmp_path.glob(".out.json.*"))  # no temporary leftovers


def test_failed_run_keeps_previous_output(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("previous")
    missing = tmp_path / "missing.jsonl"
    assert main(score_args(missing, out)) == 1
    assert out.read_text() == "previous"


def test_unknown_image(tmp_path, capsys):
    answers = tmp_path / "a.jsonl"
    lines = [json.loads(x) for x in DEMO_ANSWERS.read_text().splitlines()[:3]]
    lines[1]["image_id"] = 999999999
    answers.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "o.json"
    assert main(score_args(answers, out)) == 1
    err = capsys.readouterr().err
    assert f"{answers}:2: image_id 999999999 is not in the ground truth" in err
    assert main(score_args(answers, out, "--unknown-images", "unscored")) == 0
    rec = ResultRecord.load(out)
    assert rec.n_items == 3 and rec.n_scored == 2 and rec.n_unscored == 1
    assert rec.unscored[0].index == 1 and rec.unscored[0].line == 2
    assert "unscored" in rec.items[1] and "mentions" not in rec.items[1]
    assert rec.metrics["n_responses"] == 2
    assert "unscored items: 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["score"],
        ["score", "object-halbench"],
        ["demo"],
        ["doctor"],
        ["setup"],
        ["setup", "nltk"],
    ],
)
def test_help_has_examples(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_demo(tmp_path, capsys):
    assert main(["-q", "demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "30 scored, 0 unscored" in out and "halbench run --model" in out
    rec = ResultRecord.load(tmp_path / "gpt4-llava-bench" / "object-halbench.json")
    assert rec.n_scored == 30
    run_rec = ResultRecord.load(tmp_path / "tiny-llava-run" / "demo" / "result.json")
    assert run_rec.n_items == 6 and run_rec.model["backend"] == "hf"
    # the demo model is reused on a second run, and the answers come from the store
    assert main(["-q", "demo", "--out", str(tmp_path)]) == 0
    assert "6     0       6" in capsys.readouterr().out


def test_doctor(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "[ok] WordNet" in out and "identical to WordNet 3.0" in out


def test_module_entry_point():
    res = subprocess.run(
        [sys.executable, "-m", "halbench", "--version"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and res.stdout.startswith("halbench ")


def test_custom_synonyms(tmp_path):
    syn = tmp_path / "syn.txt"
    syn.write_text(SYNONYMS.read_text().replace("person, ", "person, chauffeur, ", 1))
    out = tmp_path / "o.json"
    assert main(score_args(DEMO_ANSWERS, out, "--synonyms", str(syn))) == 0
    rec = ResultRecord.load(out)
    assert rec.protocol["mode"] == "custom-synonyms"
    (syn_input,) = [f for f in rec.provenance.inputs if f.role == "synonyms"]
    assert syn_input.path == str(syn)
    assert main(score_args(DEMO_ANSWERS, out, "--synonyms", str(tmp_path / "none.txt"))) == 1
