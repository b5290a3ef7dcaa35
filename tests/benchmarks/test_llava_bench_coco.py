"""LLaVA-Bench scoring with a judge on a local server: request text, parsing, aggregation, failures."""

from __future__ import annotations

import json

import pytest

from benchmarks.llava_bench_coco.metrics import parse_score, relative_scores
from benchmarks.llava_bench_coco.score import score_llava_bench
from halbench.cli import main
from halbench.judges import JudgeConfig
from halbench.types import ResultRecord

from ..conftest import BENCHMARKS
from ..fake_openai import FakeOpenAI

SECRET = "sk-llava-bench-secret"


@pytest.mark.parametrize(
    ("review", "expected"),
    [
        ("8 9", (8.0, 9.0)),
        ("8,9", (8.0, 9.0)),
        ("7.5 10\nAssistant 2 is better.", (7.5, 10.0)),
        ("8, 9", None),
        ("8 9 ", None),
        ("Scores: 8 9", None),
        ("", None),
        ("eight nine", None),
    ],
)
def test_parse_like_the_reference(review, expected):
    assert parse_score(review) == expected


def test_ratio_of_means_rounded_like_llava():
    out = relative_scores([("conv", (8.0, 7.0)), ("conv", (9.0, 7.5)), ("detail", (8.0, 9.0))])
    assert out["conv"] == {"reference_mean": 8.5, "model_mean": 7.25, "relative": 85.3, "n": 2}
    assert out["all"]["reference_mean"] == 8.333 and out["all"]["model_mean"] == 7.833
    assert out["all"]["relative"] == round(7.833 / 8.333 * 100, 1)
    assert list(out) == ["all", "conv", "detail"]  # sorted, as the summarizer prints them


def judge_reply(text: str) -> str:
    answer = text.split("[Assistant 2]\n", 1)[1].split("\n\n[End of Assistant 2]")[0]
    if "UNPARSEABLE" in answer:
        return "I would say 8, 9 here."
    return "8 6\nAssistant 1 is more detailed." if "short" in answer else "8 8\nBoth fine."


@pytest.fixture
def answers(tmp_path):
    qs = [
        json.loads(x)
        for x in (BENCHMARKS / "llava-bench-coco" / "data" / "qa90_questions.jsonl")
        .read_text()
        .splitlines()
    ]
    path = tmp_path / "answers.jsonl"
    lines = []
    for q in qs:
        text = "A short answer." if q["category"] == "conv" else "A long and careful answer."
        if q["question_id"] in (1, 2):
            text = "UNPARSEABLE"
        if q["question_id"] == 5:
            text = "DOWN"
        lines.append(json.dumps({"question_id": q["question_id"], "text": text}))
    path.write_text("\n".join(reversed(lines)) + "\n")  # any order: matched by question_id
    return path


def test_score_with_a_local_judge(answers, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI() as server:
        server.reply = judge_reply
        server.fail_markers = {"[Assistant 2]\nDOWN"}
        cfg = JudgeConfig(
            model="judge-x",
            base_url=server.url,
            cache_dir=tmp_path / "c",
            max_retries=1,
            backoff_base=0.01,
        )
        rec = score_llava_bench(answers, cfg)
        body = server.requests[0]
        assert body["temperature"] == 0.2 and body["max_tokens"] == 1024
        assert body["messages"][0] == {
            "role": "system",
            "content": "You are a helpful and precise assistant for checking the quality of the answer.",
        }
        user = body["messages"][1]["content"]
        assert (
            user.startswith("[Context]\n")
            and user.endswith("\n\n")
            and "[Assistant 1]\n" in user
            and "[End of Assistant 2]\n\n[System]\n" in user
        )
    assert rec.n_items == 90 and rec.n_unscored == 3
    reasons = sorted(u.reason for u in rec.unscored)
    assert (
        reasons[0].startswith("judge call failed")
        and reasons[1] == "judge reply has no score pair on its first line"
    )
    rep = rec.metrics["reported"]
    assert (
        rep["conv"]["relative"] == 75.0 and rep["conv"]["n"] == 30
    )  # every conv answer scores 6 vs 8
    # ids run conv, detail, complex per image: 1 is detail, 2 and 5 are complex
    assert rep["detail"]["relative"] == 100.0 and rep["detail"]["n"] == 29
    assert rep["complex"]["n"] == 28 and rep["all"]["n"] == 87
    assert rec.metrics["relative"]["conv"] == 0.75 == rec.metrics["relative_conv"]
    from halbench.leaderboard.data import record_cells

    assert record_cells(rec, answers, "lb.json")["llavabench_conv"][1].value == 75.0
    assert (
        rec.protocol["judge_model"] == "judge-x" and rec.provenance.details["judge"]["calls"] >= 90
    )


def test_llava_minus_one_mode_and_cli(answers, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out = tmp_path / "o" / "lb.json"
    with FakeOpenAI() as server:
        server.reply = judge_reply
        code = main(
            [
                "-q",
                "score",
                "llava-bench",
                "--answers",
                str(answers),
                "--output",
                str(out),
                "--judge-model",
                "judge-x",
                "--judge-base-url",
                server.url,
                "--failures",
                "llava-minus-one",
            ]
        )
    assert code == 0
    captured = capsys.readouterr()
    assert "judge: 90 calls to make" in captured.err and "relative" in captured.out
    rec = ResultRecord.load(out)
    assert rec.protocol["mode"] == "llava-minus-one"
    # items 1 and 2 (detail, complex) enter the means as [-1, -1]
    assert rec.metrics["reported"]["all"]["n"] == 90
    for path in (tmp_path / "o").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes()
