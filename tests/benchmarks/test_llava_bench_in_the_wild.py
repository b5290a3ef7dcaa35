"""LLaVA-Bench (In-the-Wild): prepare a synthetic dataset folder, the exact request, scoring, run."""

from __future__ import annotations

import hashlib
import json

import pytest

from benchmarks.llava_bench_coco.metrics import wild_context_text
from benchmarks.llava_bench_in_the_wild.prepare import load_data
from benchmarks.llava_bench_in_the_wild.score import score_llava_bench_wild
from halbench.cli import main
from halbench.errors import HalbenchError, InputError
from halbench.judges import JudgeConfig
from halbench.leaderboard.data import record_cells
from halbench.prepare import prepare
from halbench.types import ResultRecord

from ..fake_openai import FakeOpenAI

SECRET = "sk-llava-wild-secret-7"
NAME = "llava-bench-in-the-wild"

# rule.json "llava_bench_detail" (LLaVA @ 181a2f8), written out by hand
DETAIL_RULE = (
    "We would like to request your feedback on the performance of two AI assistants in response to "
    "the user question displayed above. The user asks the question on observing an image. For your "
    "reference, the visual content in the image is represented with a few sentences describing the "
    "image. \nPlease rate the helpfulness, relevance, accuracy, level of details of their responses. "
    "Each assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.\nPlease first output a single line containing only two values "
    "indicating the scores for Assistant 1 and 2, respectively. The two scores are separated by a "
    "space.\nIn the subsequent line, please provide a comprehensive explanation of your evaluation, "
    "avoiding any potential bias and ensuring that the order in which the responses were presented "
    "does not affect your judgment."
)

QUESTIONS = [  # (question_id, image, category, text)
    (0, "001.jpg", "conv", "What is on the table?"),
    (1, "001.jpg", "detail", "Describe this photo in detail."),
    (2, "001.jpg", "complex", "Why might the cup be there?"),
    (3, "002.jpg", "conv", "What colour is the sky?"),
    (4, "002.jpg", "complex", "What season could it be?"),
    (5, "003.png", "detail", "Describe the sketch."),
]
CAPTIONS = {
    "001.jpg": ["A red cup on a wooden table.", "A window behind it."],
    "002.jpg": ["A blue sky over a field."],
    "003.png": "A pencil sketch.",  # a plain string: LLaVA's join puts one character per line
}


@pytest.fixture
def wild_dir(tmp_path):
    from PIL import Image

    src = tmp_path / "llava-bench-in-the-wild"
    (src / "images").mkdir(parents=True)
    for k, (name, fmt) in enumerate((("001.jpg", "JPEG"), ("002.jpg", "JPEG"), ("003.png", "PNG"))):
        Image.new("RGB", (24 + 8 * k, 20), (40 * k, 90, 160)).save(src / "images" / name, fmt)

    def jl(name, rows):
        (src / name).write_text("".join(json.dumps(r) + "\n" for r in rows))

    jl(
        "questions.jsonl",
        [{"question_id": q, "image": im, "text": t, "category": c} for q, im, c, t in QUESTIONS],
    )
    jl(
        "answers_gpt4.jsonl",
        [
            {
                "question_id": q,
                "prompt": t,
                "text": f"GPT-4 answer {q}.",
                "answer_id": f"a{q}",
                "model_id": "gpt-4-0314",
                "metadata": {},
            }
            for q, _, _, t in QUESTIONS
        ],
    )
    jl("context.jsonl", [{"id": im[:3], "image": im, "caption": c} for im, c in CAPTIONS.items()])
    return src


@pytest.fixture
def prepared(wild_dir, tmp_path):
    data = tmp_path / "data"
    assert (
        main(["-q", "data", "prepare", NAME, "--from", str(wild_dir), "--data-dir", str(data)]) == 0
    )
    return data


def test_prepare_copies_checks_and_records_checksums(wild_dir, prepared):
    folder = prepared / NAME
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in ("questions.jsonl", "answers_gpt4.jsonl", "context.jsonl"):
        want = hashlib.sha256((wild_dir / name).read_bytes()).hexdigest()
        assert manifest["files_sha256"][name] == want
        assert (folder / name).read_bytes() == (wild_dir / name).read_bytes()
    assert set(manifest["images_sha256"]) == {"001.jpg", "002.jpg", "003.png"}
    assert (
        manifest["images_sha256"]["003.png"]
        == hashlib.sha256((wild_dir / "images" / "003.png").read_bytes()).hexdigest()
    )
    assert manifest["counts"] == {
        "questions": 6,
        "images": 3,
        "by_category": {"conv": 2, "detail": 2, "complex": 2},
    }
    assert manifest["variant"] == "local-6q-3img" and "not comparable" in manifest["note"]
    assert manifest["caption_types"] == {"list": 2, "string": 1}
    items = [json.loads(x) for x in (folder / "items.jsonl").read_text().splitlines()]
    assert items[5] == {
        "id": "5",
        "image": "images/003.png",
        "question": "Describe the sketch.",
        "category": "detail",
        "question_id": 5,
    }
    assert (folder / "images" / "003.png").is_file()


def _broken(wild_dir, name, fn):
    path = wild_dir / name
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    fn(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(
    ("breaker", "message"),
    [
        (
            lambda d: (d / "context.jsonl").unlink(),
            "context.jsonl: file missing: put the dataset's context.jsonl at",
        ),
        (lambda d: (d / "images" / "002.jpg").unlink(), "1 of 3 images missing: 002.jpg"),
        (
            lambda d: _broken(d, "questions.jsonl", lambda r: r[3].update(category="reasoning")),
            "questions.jsonl:4: category 'reasoning'",
        ),
        (
            lambda d: _broken(d, "questions.jsonl", lambda r: r[1].pop("text")),
            'questions.jsonl:2: missing "text"',
        ),
        (
            lambda d: _broken(d, "answers_gpt4.jsonl", lambda r: r.reverse()),
            "answers_gpt4.jsonl:1: question_id 5 where line 1",
        ),
        (
            lambda d: _broken(d, "context.jsonl", lambda r: r.pop(1)),
            "questions.jsonl:4: image '002.jpg' has no line in context.jsonl",
        ),
    ],
)
def test_prepare_rejects_bad_folders(wild_dir, tmp_path, breaker, message):
    breaker(wild_dir)
    with pytest.raises(InputError) as err:
        prepare(NAME, data_dir=tmp_path / "d", source=wild_dir)
    assert message in str(err.value)
    assert not (tmp_path / "d" / NAME).exists()  # nothing half-prepared


def test_offline_without_a_folder_says_what_to_put_where(tmp_path):
    with pytest.raises(HalbenchError) as err:
        prepare(NAME, data_dir=tmp_path / "d", offline=True)
    text = str(err.value)
    assert "--from DIR" in text and "DIR/answers_gpt4.jsonl" in text and "DIR/images/" in text


def test_context_join_like_llava():
    assert wild_context_text(["a b.", "c."]) == "a b.\nc."
    assert wild_context_text("ab c") == "a\nb\n \nc"  # LLaVA's "\n".join on a string
    assert wild_context_text("ab c", string_caption="as-is") == "ab c"


def judge_reply(text):
    answer = text.split("[Assistant 2]\n", 1)[1].split("\n\n[End of Assistant 2]")[0]
    if "UNPARSEABLE" in answer:
        return "Assistant 1: 8, Assistant 2: 7"
    return "8 6\nAssistant 1 is better." if "short" in answer else "8 8\nBoth fine."


def _answers(tmp_path, texts):
    path = tmp_path / "answers.jsonl"
    path.write_text(
        "".join(
            json.dumps({"question_id": q, "text": texts.get(q, "A short answer.")}) + "\n"
            for q, *_ in QUESTIONS
        )
    )
    return path


def test_score_request_text_and_summary(prepared, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    answers = _answers(
        tmp_path,
        {1: "A long detailed answer.", 2: "UNPARSEABLE", 4: "DOWN", 5: "A long sketch answer."},
    )
    with FakeOpenAI() as server:
        server.reply = judge_reply
        server.fail_markers = {"[Assistant 2]\nDOWN"}
        cfg = JudgeConfig(
            model="judge-w",
            base_url=server.url,
            cache_dir=tmp_path / "c",
            max_retries=1,
            backoff_base=0.01,
        )
        rec = score_llava_bench_wild(answers, cfg, data_dir=prepared)
        bodies = {
            b["messages"][1]["content"].split("[Question]\n")[1].split("\n")[0]: b
            for b in server.requests
        }
    body = bodies["Describe this photo in detail."]
    assert body["temperature"] == 0.2 and body["max_tokens"] == 1024
    assert body["messages"][0] == {
        "role": "system",
        "content": "You are a helpful and precise assistant for checking the quality of the answer.",
    }
    expected = (
        "[Context]\nA red cup on a wooden table.\nA window behind it.\n\n"
        "[Question]\nDescribe this photo in detail.\n\n"
        "[Assistant 1]\nGPT-4 answer 1.\n\n[End of Assistant 1]\n\n"
        "[Assistant 2]\nA long detailed answer.\n\n[End of Assistant 2]\n\n"
        f"[System]\n{DETAIL_RULE}\n\n"
    )
    assert body["messages"][1]["content"] == expected
    sketch = bodies["Describe the sketch."]["messages"][1]["content"]
    assert sketch.startswith(
        "[Context]\nA\n \np\ne\nn\nc\ni\nl\n \ns\nk\ne\nt\nc\nh\n.\n\n[Question]\n"
    )
    # per category: conv 0, 3 short (6 vs 8); detail 1, 5 long (8 vs 8); complex 2 unparsable, 4 failed
    rep = rec.metrics["reported"]
    assert rep["conv"] == {"reference_mean": 8.0, "model_mean": 6.0, "relative": 75.0, "n": 2}
    assert rep["detail"]["relative"] == 100.0 and "complex" not in rep
    assert rep["all"] == {"reference_mean": 8.0, "model_mean": 7.0, "relative": 87.5, "n": 4}
    assert rec.metrics["relative_all"] == 28 / 32 and rec.metrics["n_unscored_by_category"] == {
        "complex": 2
    }
    assert rec.n_unscored == 2 and sorted(u.index for u in rec.unscored) == [2, 4]
    assert rec.benchmark == NAME and rec.benchmark_version == "llava-181a2f8+local-6q-3img"
    p = rec.protocol
    assert p["scorer"] == "llava-bench-wild" and p["prompt_version"].startswith(
        "llava-eval_gpt_review_bench@181a2f8"
    )
    assert p["n_string_captions"] == 1 and p["prompt_parity"] is True
    from benchmarks.llava_bench_in_the_wild.score import format_table as format_llava_bench

    table = format_llava_bench(rec)
    assert "LLaVA-Bench (In-the-Wild)" in table and "1 image caption(s) are plain strings" in table
    assert {f.role for f in rec.provenance.inputs} == {
        "answers",
        "questions",
        "reference_answers",
        "context",
    }
    cells = record_cells(rec, answers, "lb.json")
    assert (
        cells["llavabench_wild_conv"][1].value == 75.0
        and cells["llavabench_wild_all"][1].value == 87.5
    )
    assert "llavabench_conv" not in cells  # the paper's LLaVA-Bench columns are COCO's
    from pathlib import Path

    from halbench.leaderboard.build import build_tables

    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "w.json").write_text(rec.to_json())
    entries = Path(__file__).resolve().parents[2] / "leaderboard" / "entries"
    tables, _ = build_tables(entries, [tmp_path / "runs"])
    main_table = tables[0]  # the paper's LLaVA-Bench columns are COCO's: not filled from here
    assert not [r for r in main_table.rows if r.kind == "our run"]
    (own,) = [t for t in tables if t.kind == "benchmark"]  # In-the-Wild's own table
    (ours,) = own.rows
    assert ours.cells["relative_all"].value == 87.5
    assert ours.cells["relative_all"].badge == "sample, 4/6"  # local data, 2 unscored
    labels = {c.key: c.label for c in own.columns}
    assert labels["relative_conv"] == "relative score, conv"


def test_cli_score_as_is_captions_minus_one_and_tamper(prepared, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    answers = _answers(tmp_path, {2: "UNPARSEABLE"})
    out = tmp_path / "o" / "w.json"
    with FakeOpenAI() as server:
        server.reply = judge_reply
        args = [
            "-q",
            "score",
            NAME,
            "--data-dir",
            str(prepared),
            "--answers",
            str(answers),
            "--output",
            str(out),
            "--judge-model",
            "judge-w",
            "--judge-base-url",
            server.url,
        ]
        assert main([*args, "--string-caption", "as-is", "--failures", "llava-minus-one"]) == 0
        sent = [b["messages"][1]["content"] for b in server.requests]
    shown = capsys.readouterr().out
    assert "LLaVA-Bench (In-the-Wild), judge judge-w" in shown and "character per line" not in shown
    assert any(s.startswith("[Context]\nA pencil sketch.\n\n[Question]") for s in sent)
    rec = ResultRecord.load(out)
    assert rec.protocol["string_caption"] == "as-is" and rec.protocol["prompt_parity"] is False
    # the [-1, -1] is averaged in, as LLaVA does
    assert rec.metrics["reported"]["complex"]["n"] == 2
    for path in (tmp_path / "o").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes()
    (prepared / NAME / "answers_gpt4.jsonl").write_text("{}\n")
    with pytest.raises(InputError, match="changed since it was prepared"):
        load_data(prepared)
    from halbench.registry import get_benchmark
    from halbench.scorers import JudgeSetup, check_judge

    with pytest.raises(InputError, match="answers_gpt4.jsonl: missing or changed"):
        check_judge(
            get_benchmark(NAME), JudgeSetup(config=None), prepared
        )  # run checks before generating


def test_run_with_the_tiny_model_judged_and_not(
    tiny_model, prepared, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    base = [
        "-q",
        "run",
        "--model",
        str(tiny_model),
        "--benchmarks",
        "llava-w",
        "--data-dir",
        str(prepared),
        "--max-new-tokens",
        "6",
    ]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert "not judged (no --judge-model)" in capsys.readouterr().out
    plain = json.loads((tmp_path / "plain" / NAME / "result.json").read_text())
    assert plain["protocol"]["status"] == "not judged" and plain["n_unscored"] == 6
    with FakeOpenAI() as server:
        server.reply = lambda text: "7 5\nok"
        assert (
            main(
                [
                    *base,
                    "--out",
                    str(tmp_path / "judged"),
                    "--judge-model",
                    "judge-w",
                    "--judge-base-url",
                    server.url,
                ]
            )
            == 0
        )
        sent = [b["messages"][1]["content"] for b in server.requests]
    assert "relative score 71.4" in capsys.readouterr().out
    rec = json.loads((tmp_path / "judged" / NAME / "result.json").read_text())
    answers = [
        json.loads(x)
        for x in (tmp_path / "judged" / NAME / "answers.jsonl").read_text().splitlines()
    ]
    assert (
        len(sent) == 6 and rec["n_scored"] == 6 and rec["protocol"]["scorer"] == "llava-bench-wild"
    )
    for a in answers:  # the tiny model's own answer is what the judge saw as Assistant 2
        assert any(
            f"[Question]\n{a['question']}\n" in s and f"[Assistant 2]\n{a['answer']}\n\n[End" in s
            for s in sent
        )
    assert rec["metrics"]["reported"]["all"]["relative"] == 71.4 and rec["model"]["backend"] == "hf"


def test_online_prepare_downloads_from_the_resolve_urls(wild_dir, tmp_path, monkeypatch):
    """The download path against a local file server standing in for huggingface.co."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from benchmarks.llava_bench_in_the_wild import prepare as llava_wild

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(wild_dir))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(llava_wild, "BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
        target = prepare(NAME, data_dir=tmp_path / "d")
        (wild_dir / "images" / "003.png").unlink()
        with pytest.raises(HalbenchError, match="Offline\\? give a local copy"):
            prepare(NAME, data_dir=tmp_path / "d2")
    finally:
        server.shutdown()
        server.server_close()
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "download" and manifest["counts"]["images"] == 3
    assert not (target / "download").exists() and (target / "images" / "003.png").is_file()
