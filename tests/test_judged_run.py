"""Judge-scored benchmarks inside ``halbench run``: judged with --judge-model, "not judged" without."""

from __future__ import annotations

import hashlib
import json

import pytest

from benchmarks.mmhal_bench import mmhal_data
from halbench.cli import main

from .benchmarks.test_mmhal_bench import TEST_TEMPLATE, judge_reply
from .conftest import make_benchmark
from .fake_openai import FakeOpenAI

SECRET = "sk-judged-run-secret-9"


@pytest.fixture
def mmhal_prepared(tmp_path, monkeypatch):
    """MMHal-Bench prepared from fake images, with the test template standing in for the prompt."""
    images = tmp_path / "imgs"
    images.mkdir()
    for rec in mmhal_data.load_template():
        (images / f"{rec['image_id']}.jpg").write_bytes(b"\xff\xd8\xff fake")
    script = tmp_path / "eval_gpt_mmhal.py"
    script.write_text(f"template = {TEST_TEMPLATE!r}\n")
    monkeypatch.setattr(
        mmhal_data, "PROMPT_SHA256", hashlib.sha256(TEST_TEMPLATE.encode()).hexdigest()
    )
    monkeypatch.setattr(mmhal_data, "PROMPT_CHARS", len(TEST_TEMPLATE))
    data = tmp_path / "d"
    assert (
        main(
            [
                "-q",
                "data",
                "prepare",
                "mmhal-bench",
                "--images",
                str(images),
                "--judge-prompt-from",
                str(script),
                "--data-dir",
                str(data),
            ]
        )
        == 0
    )
    replay = tmp_path / "replay.jsonl"
    replay.write_text(
        "".join(json.dumps({"item_id": str(i), "text": f"A{i % 4}-{i}"}) + "\n" for i in range(96))
    )
    return data, replay


def _run(model, data, out, *extra):
    return main(
        [
            "-q",
            "run",
            "--model",
            f"replay:{model}",
            "--benchmarks",
            "mmhal-bench",
            "--limit",
            "8",
            "--data-dir",
            str(data),
            "--out",
            str(out),
            *extra,
        ]
    )


def test_mmhal_in_run_judged_and_not_judged(mmhal_prepared, tmp_path, monkeypatch, capsys):
    data, replay = mmhal_prepared
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert _run(replay, data, tmp_path / "plain") == 0
    assert "not judged (no --judge-model): answers stored" in capsys.readouterr().out
    rec = json.loads((tmp_path / "plain" / "mmhal-bench" / "result.json").read_text())
    assert (
        rec["protocol"]["status"] == "not judged"
        and rec["metrics"] == {}
        and rec["n_unscored"] == 8
    )
    assert len((tmp_path / "plain" / "mmhal-bench" / "answers.jsonl").read_text().splitlines()) == 8
    with FakeOpenAI() as server:
        server.reply = judge_reply
        assert (
            _run(
                replay,
                data,
                tmp_path / "judged",
                "--judge-model",
                "judge-x",
                "--judge-base-url",
                server.url,
            )
            == 0
        )
        assert len(server.requests) == 8
    shown = capsys.readouterr().out
    assert "hallucination_rate" in shown
    rec = json.loads((tmp_path / "judged" / "mmhal-bench" / "result.json").read_text())
    # A0 -> 6, A1 -> 4, A2 -> 2, A3 -> "rating: 10" -> 1 (the reference's substring quirk)
    assert [it["rating"] for it in rec["items"]] == [6, 4, 2, 1, 6, 4, 2, 1]
    assert rec["protocol"]["prompt_parity"] is True and rec["model"]["backend"] == "replay"
    assert rec["fractions"]["hallucination_rate"] == {"numerator": 4, "denominator": 8}
    assert (tmp_path / "judged" / "judge_calls.jsonl").exists()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_mmhal_run_fails_early_without_the_prompt(mmhal_prepared, tmp_path, capsys):
    data, replay = mmhal_prepared
    (data / "mmhal-bench-judge" / "template.txt").unlink()
    code = _run(
        replay,
        data,
        tmp_path / "o",
        "--judge-model",
        "judge-x",
        "--judge-base-url",
        "http://127.0.0.1:9/v1",
    )
    assert code == 1 and "--judge-prompt-from eval_gpt_mmhal.py" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing generated


def test_object_halbench_llm_extractor_in_run(tmp_path, monkeypatch, capsys):
    bench = make_benchmark(tmp_path / "objbench", 4)
    replay = tmp_path / "r.jsonl"
    texts = [
        "A dog sits next to a person on the grass.",
        "A cat.",
        "A giraffe and a car on a street here.",
        "Two people and a dog at a table.",
    ]
    replay.write_text(
        "".join(
            json.dumps({"item_id": f"it{k:03d}", "text": t}) + "\n" for k, t in enumerate(texts)
        )
    )

    def reply(text):
        answer = text.split("[Start of Examiner's Answer]\n\n", 1)[1].split("\n\n[End of")[0]
        return json.dumps(
            [
                w.strip(".")
                for w in answer.split()
                if w.strip(".") in {"dog", "person", "giraffe", "car", "table", "people"}
            ]
        )

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    argv = [
        "-q",
        "run",
        "--model",
        f"replay:{replay}",
        "--benchmarks",
        str(bench),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*argv, "--extractor", "llm"]) == 1
    assert "--extractor llm needs --judge-model" in capsys.readouterr().err
    with FakeOpenAI() as server:
        server.reply = reply
        assert (
            main(
                [
                    *argv,
                    "--extractor",
                    "llm",
                    "--judge-model",
                    "gpt-3.5-turbo-0613",
                    "--judge-base-url",
                    server.url,
                ]
            )
            == 0
        )
        assert len(server.requests) == 3  # "A cat." is short: no call
    rec = json.loads((tmp_path / "o" / bench.name / "result.json").read_text())
    assert rec["protocol"]["extractor"] == "llm" and rec["metrics"]["agreement"]["n_items"] == 4
    assert rec["items"][0]["extracted"] == ["dog", "person"]


def test_llava_bench_in_run_judged(tmp_path, monkeypatch, capsys):
    from benchmarks.llava_bench_coco.score import load_questions

    from .benchmarks.test_llava_bench_coco import judge_reply as llava_reply
    from .test_data import fake_coco_images

    questions = load_questions()
    images = fake_coco_images(
        tmp_path / "val2014", sorted({int(q["image"].split(".")[0]) for q in questions})
    )
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
    replay = tmp_path / "r.jsonl"
    replay.write_text(
        "".join(
            json.dumps({"item_id": str(q["question_id"]), "text": "A short answer."}) + "\n"
            for q in questions
        )
    )
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI() as server:
        server.reply = llava_reply
        assert (
            main(
                [
                    "-q",
                    "run",
                    "--model",
                    f"replay:{replay}",
                    "--benchmarks",
                    "llava-bench-coco",
                    "--limit",
                    "4",
                    "--data-dir",
                    str(tmp_path / "d"),
                    "--out",
                    str(tmp_path / "o"),
                    "--judge-model",
                    "judge-x",
                    "--judge-base-url",
                    server.url,
                ]
            )
            == 0
        )
        assert len(server.requests) == 4
    assert "relative score 75.0" in capsys.readouterr().out  # every reply is "8 6"
    rec = json.loads((tmp_path / "o" / "llava-bench-coco" / "result.json").read_text())
    assert (
        rec["n_items"] == 4 and rec["n_scored"] == 4 and rec["metrics"]["reported"]["all"]["n"] == 4
    )
