"""Exit status 3 when items are unscored because something failed (not by the protocol)."""

from __future__ import annotations

import json

import pytest

from halbench.cli import main
from halbench.cli.common import failure_exit
from halbench.types import ResultRecord, UnscoredItem

from .fake_openai import FakeOpenAI

SECRET = "sk-exit3-secret-key-77"


def judge_flags(server) -> list[str]:
    return [
        "--judge-model",
        "judge-x",
        "--judge-base-url",
        server.url,
        "--judge-max-retries",
        "0",
        "--judge-no-cache",
    ]


@pytest.fixture
def answers(tmp_path):
    from benchmarks.llava_bench_coco.score import load_questions

    path = tmp_path / "answers.jsonl"
    path.write_text(
        "".join(
            json.dumps({"question_id": q["question_id"], "text": "An answer."}) + "\n"
            for q in load_questions()
        )
    )
    return path


def _score(answers, server, out):
    return main(
        ["-q", "score", "llava-bench", "--answers", str(answers), *judge_flags(server)]
        + ["--output", str(out)]
    )


def test_every_judge_call_failed_exits_3_with_the_cause(answers, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI() as server:
        server.reply = lambda text: "8 8\nfine."
        server.fail_markers = {"[Assistant 2]"}  # every call: HTTP 503
        code = _score(answers, server, tmp_path / "o.json")
    out = capsys.readouterr().out
    assert code == 3
    rec = ResultRecord.load(tmp_path / "o.json")  # the record is still written
    assert rec.n_unscored == 90 and {u.kind for u in rec.unscored} == {"failed"}
    line = next(ln for ln in out.splitlines() if "because something failed" in ln)
    assert line.startswith("90 item(s) unscored because something failed (exit status 3); ")
    assert "first: llava-bench-coco item 0: judge call failed:" in line
    assert json.loads((tmp_path / "o.json").read_text())["unscored"][0]["kind"] == "failed"
    assert SECRET not in out


def test_unscored_by_the_protocol_exits_0(answers, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI() as server:
        server.reply = lambda text: "I would say 8, 9."  # no score pair: the protocol's unscored
        code = _score(answers, server, tmp_path / "o.json")
    assert code == 0
    rec = ResultRecord.load(tmp_path / "o.json")
    assert rec.n_unscored == 90 and {u.kind for u in rec.unscored} == {"protocol"}
    assert "because something failed" not in capsys.readouterr().out


def test_one_failed_call_is_enough(answers, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    lines = answers.read_text().splitlines()
    lines[4] = json.dumps({"question_id": json.loads(lines[4])["question_id"], "text": "DOWN"})
    answers.write_text("\n".join(lines) + "\n")
    with FakeOpenAI() as server:
        server.reply = lambda text: "8 8\nfine."
        server.fail_markers = {"[Assistant 2]\nDOWN"}
        assert _score(answers, server, tmp_path / "o.json") == 3
    out = capsys.readouterr().out
    assert "1 item(s) unscored because something failed" in out and "item 4:" in out


def test_kind_from_the_reason_and_older_records():
    assert UnscoredItem(index=0, reason="judge call failed: HTTP 503").kind == "failed"
    assert UnscoredItem(index=0, reason="generation failed: timeout").kind == "failed"
    assert UnscoredItem(index=0, reason="not judged: give --judge-model").kind == "protocol"
    assert UnscoredItem(index=0, reason="unknown image 12").kind == "protocol"
    assert UnscoredItem(index=0, reason="judge call failed: x", kind="protocol").kind == "protocol"
    # a record written before the field existed reads with the kind its reason implies
    old = UnscoredItem.model_validate({"index": 3, "reason": "judge call failed: 500", "line": 4})
    assert old.kind == "failed" and old.line == 4
    with pytest.raises(ValueError):
        UnscoredItem(index=0, reason="x", kind="other")


def test_failure_line_is_one_redacted_line(capsys):
    class Rec:
        benchmark = "b"
        unscored = [
            UnscoredItem(index=0, reason="unknown image"),
            UnscoredItem(
                index=1, reason="judge call failed: HTTP 401\nbad key sk-abcdef0123456789"
            ),
        ]

    assert failure_exit(Rec()) == 3
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "sk-abcdef0123456789" not in out and "[REDACTED]" in out
    assert "1 item(s)" in out and "first: b item 1: judge call failed: HTTP 401 bad key" in out
    Rec.unscored = Rec.unscored[:1]
    assert failure_exit(Rec()) == 0 and capsys.readouterr().out == ""


def test_run_exits_3_when_judging_failed(tmp_path, monkeypatch, capsys):
    from benchmarks.llava_bench_coco.score import load_questions

    from .test_data import fake_coco_images

    questions = load_questions()
    images = fake_coco_images(
        tmp_path / "val2014", sorted({int(q["image"].split(".")[0]) for q in questions})
    )
    data = tmp_path / "d"
    prep = ["data", "prepare", "llava-bench-coco", "--coco-images", str(images)]
    assert main(["-q", *prep, "--data-dir", str(data)]) == 0
    replay = tmp_path / "r.jsonl"
    replay.write_text(
        "".join(
            json.dumps({"item_id": str(q["question_id"]), "text": "An answer."}) + "\n"
            for q in questions
        )
    )
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    run = ["-q", "run", "--model", f"replay:{replay}", "--benchmarks", "llava-bench-coco"]
    run += ["--limit", "4", "--data-dir", str(data)]
    with FakeOpenAI() as server:
        server.reply = lambda text: "8 8\nfine."
        assert main([*run, "--out", str(tmp_path / "ok"), *judge_flags(server)]) == 0
        capsys.readouterr()
        server.fail_markers = {"[Assistant 2]"}
        assert main([*run, "--out", str(tmp_path / "bad"), *judge_flags(server)]) == 3
    out = capsys.readouterr().out
    assert "4 item(s) unscored because something failed (exit status 3)" in out
    assert "first: llava-bench-coco item 0: judge call failed:" in out
    rec = ResultRecord.load(tmp_path / "bad" / "llava-bench-coco" / "result.json")
    assert [u.kind for u in rec.unscored] == ["failed"] * 4
    # no judge at all: "not judged" is the protocol's unscored, exit 0
    assert main([*run, "--out", str(tmp_path / "none")]) == 0
