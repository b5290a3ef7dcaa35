"""MMHal-Bench: rating parsing, aggregation, judge-prompt extraction, images, end to end on a local judge."""

from __future__ import annotations

import hashlib
import json

import pytest

from benchmarks.mmhal_bench import mmhal_data
from benchmarks.mmhal_bench.metrics import aggregate, parse_rating, reported
from benchmarks.mmhal_bench.score import load_answers, score_mmhal_bench
from halbench.cli import main
from halbench.errors import HalbenchError, InputError
from halbench.judges import JudgeConfig
from halbench.types import ResultRecord

from ..fake_openai import FakeOpenAI

SECRET = "sk-mmhal-secret-77"
# a test-only template with the reference's four positional slots (the real text is not shipped)
TEST_TEMPLATE = (
    "TEST JUDGE\n### Image Contents\n{}\n### Question\n{}\n### Human\n{}\n### Response\n{}\n"
)
OPTIONS = "\n".join(f"- Rating: {s}, option" for s in range(6, -1, -1))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Good answer.\nRating: 5, very informative", 5),
        ("RATING: 2", 2),
        ("rating: 0", 0),
        ("Rating: 3 ... as I said, rating: 3", 3),  # one distinct value
        ("rating: 10", 1),  # substring quirk of the reference
        ("I cannot decide.", None),
        ("Rating:4", None),
        ("Rating 4", None),
        (OPTIONS, None),
        ("Rating: 4 or Rating: 5", None),
    ],
)
def test_parse_rating_like_the_reference(reply, expected):
    assert parse_rating(reply) == expected


def test_aggregate_rates_and_informativeness():
    scores = [6, 3, 2, 0, None, 4]
    types = ["attribute", "attribute", "counting", "counting", "counting", "other"]
    m = aggregate(scores, types)
    o = m["overall"]
    assert o["n"] == 5 and o["n_unscored"] == 1
    assert o["average_score"] == 15 / 5 and o["hallucination_rate"] == 2 / 5
    assert o["informativeness"] == (3 + 0 + 2 + 0 + 1) / 15  # s-3 if s>=3 else s
    assert list(m["per_type"]) == ["attribute", "counting", "other"]  # the reference's type order
    assert m["per_type"]["counting"]["n"] == 2 and m["per_type"]["counting"]["n_unscored"] == 1
    rep = reported(m)
    assert rep["average_score"] == 3.0 and rep["hallucination_rate"] == 0.4
    assert rep["informativeness"] == 40.0


def _script(tmp_path, template=TEST_TEMPLATE):
    path = tmp_path / "eval_gpt_mmhal.py"
    path.write_text(
        f"import json\n\ntemplate = {template!r}\n\nif __name__ == '__main__':\n    raise SystemExit(1)\n"
    )
    return path


def test_judge_prompt_extraction_is_verified(tmp_path, monkeypatch):
    script = _script(tmp_path)
    with pytest.raises(InputError, match="sha256 .* is not the published MMHal-Bench judge prompt"):
        mmhal_data.install_judge_prompt(script, tmp_path / "data")
    with pytest.raises(HalbenchError, match="--judge-prompt-from eval_gpt_mmhal.py"):
        mmhal_data.load_judge_prompt(None, tmp_path / "data")  # nothing was stored
    other = tmp_path / "x.py"
    other.write_text("t = 1\n")
    with pytest.raises(InputError, match="no top-level string assignment"):
        mmhal_data.extract_template(other)
    # the real text's hash is what is checked; the test stands in its own with the same four slots
    monkeypatch.setattr(
        mmhal_data, "PROMPT_SHA256", hashlib.sha256(TEST_TEMPLATE.encode()).hexdigest()
    )
    monkeypatch.setattr(mmhal_data, "PROMPT_CHARS", len(TEST_TEMPLATE))
    assert (
        main(
            [
                "-q",
                "data",
                "prepare",
                "mmhal-bench",
                "--judge-prompt-from",
                str(script),
                "--data-dir",
                str(tmp_path / "data"),
                "--offline",
            ]
        )
        == 0
    )
    text, info = mmhal_data.load_judge_prompt(None, tmp_path / "data")
    assert text == TEST_TEMPLATE and info["prompt_parity"] is True


def test_custom_prompt_needs_four_slots(tmp_path):
    bad = tmp_path / "t.txt"
    bad.write_text("only {} and {}")
    with pytest.raises(InputError, match="2 slots"):
        mmhal_data.load_judge_prompt(bad)
    bad.write_text("{} {} {} {name}")
    with pytest.raises(InputError, match="not a str.format template"):
        mmhal_data.load_judge_prompt(bad)


def test_prepare_images_names_what_is_missing(tmp_path):
    records = mmhal_data.load_template()
    images = tmp_path / "imgs"
    images.mkdir()
    for i, rec in enumerate(records[:-1]):  # half by image_id, half by the Flickr file name
        name = f"{rec['image_id']}.jpg" if i % 2 else mmhal_data.image_candidates(rec)[-1]
        (images / name).write_bytes(b"\xff\xd8\xff fake")
    args = [
        "-q",
        "data",
        "prepare",
        "mmhal-bench",
        "--images",
        str(images),
        "--data-dir",
        str(tmp_path / "d"),
    ]
    assert main(args) == 1
    last = records[-1]
    (images / f"{last['image_id']}.png").write_bytes(b"png")
    assert main(args) == 0
    lines = (tmp_path / "d" / "mmhal-bench" / "items.jsonl").read_text().splitlines()
    assert len(lines) == 96 and json.loads(lines[-1])["image"].endswith(f"{last['image_id']}.png")
    assert json.loads(lines[3])["question_type"] == "counting"


def test_missing_image_error_text(tmp_path):
    from halbench.registry import get_benchmark

    with pytest.raises(InputError) as err:
        mmhal_data.prepare_mmhal_bench(
            get_benchmark("mmhal-bench"), data_dir=tmp_path, images=tmp_path
        )
    msg = str(err.value)
    assert "96 of the 96 MMHal-Bench images are missing" in msg
    assert "df62a56fdc1bb12b.jpg (or 7206072054_c53d53b97d_o.jpg)" in msg


REPLIES = {  # answer text -> judge reply: every reply form of the spec
    "A0": "Accurate and detailed.\nRating: 6, very informative with good analysis",
    "A1": "Fine.\nrating: 4, somewhat informative",
    "A2": "Wrong colour.\nRATING: 2, VERY INFORMATIVE, WITH HALLUCINATION",
    "A3": "Rating: 10",  # the quirk: scores 1
    "A4": "I am unable to evaluate this.",  # none
    "A5": f"Options:\n{OPTIONS}",  # several
}


def judge_reply(text: str) -> str:
    answer = text.rsplit("### Response\n", 1)[1].strip()
    return REPLIES[answer.split("-")[0]]


@pytest.fixture
def answers(tmp_path):
    path = tmp_path / "mmhal_answers.jsonl"
    lines = []
    for i in range(96):  # no question_id: matched by position, like the reference
        kind = "DOWN" if i == 7 else f"A{i % 6}"
        lines.append(json.dumps({"prompt": "q", "text": f"Assistant: {kind}-{i}"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _expected(parity: bool) -> list[int | None]:
    by_kind = {0: 6, 1: 4, 2: 2, 3: 1, 4: 0 if parity else None, 5: 0 if parity else None}
    return [None if i == 7 else by_kind[i % 6] for i in range(96)]


@pytest.mark.parametrize("parity", [False, True])
def test_score_end_to_end_on_a_local_judge(answers, tmp_path, monkeypatch, capsys, parity):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    prompt = tmp_path / "template.txt"
    prompt.write_text(TEST_TEMPLATE)
    out = tmp_path / "o" / "mmhal.json"
    with FakeOpenAI() as server:
        server.reply = judge_reply
        server.fail_markers = {"DOWN-7"}
        argv = [
            "-q",
            "score",
            "mmhal-bench",
            "--answers",
            str(answers),
            "--output",
            str(out),
            "--judge-model",
            "judge-x",
            "--judge-base-url",
            server.url,
            "--judge-prompt",
            str(prompt),
            "--judge-concurrency",
            "8",
            "--judge-max-retries",
            "0",
        ]
        # one judge call fails (HTTP 503): the record is written, exit status 3
        assert main(argv + (["--failures", "parity"] if parity else [])) == 3
        body = next(b for b in server.requests if "A0-0" in b["messages"][0]["content"])
    assert body["temperature"] == 0.0 and body["max_tokens"] == 512 and len(body["messages"]) == 1
    rec0 = mmhal_data.load_template()[0]
    assert body["messages"] == [
        {
            "role": "user",
            "content": TEST_TEMPLATE.format(
                ", ".join(rec0["image_content"]), rec0["question"], rec0["gt_answer"], "A0-0"
            ),
        }
    ]
    rec = ResultRecord.load(out)
    expected = _expected(parity)
    got = [it.get("rating") for it in rec.items]
    assert got == expected
    scored = [s for s in expected if s is not None]
    assert rec.n_unscored == 96 - len(scored) and rec.n_items == 96
    o = rec.metrics["overall"]
    assert o["average_score"] == sum(scored) / len(scored)
    assert rec.fractions["hallucination_rate"].numerator == sum(s < 3 for s in scored)
    assert rec.fractions["hallucination_rate"].denominator == len(scored)
    assert rec.protocol["prompt_version"] == "custom" and rec.protocol["prompt_parity"] is False
    assert rec.protocol["failures"] == ("parity" if parity else "unscored")
    reasons = {u.reason for u in rec.unscored}
    assert any(r.startswith("judge call failed") for r in reasons)
    from halbench.leaderboard.data import record_cells

    cells = record_cells(rec, out, "mmhal.json")  # the paper's "MMHal Info." column
    assert cells["mmhal_info"][1].value == 100 * o["informativeness"] and "mmhal_resp" not in cells
    if parity:
        assert rec.metrics["n_parity_score_0"] == 32 and "parity_score_0" in rec.items[4]
        assert "scored 0 by the reference rule" in capsys.readouterr().out
    else:
        assert "judge reply has no 'rating: N'" in reasons
        assert any(r.startswith("judge reply has several ratings") for r in reasons)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_answers_by_question_id_and_errors(tmp_path, monkeypatch):
    path = tmp_path / "a.jsonl"
    path.write_text(
        "".join(json.dumps({"question_id": i, "answer": f"A0-{i}"}) + "\n" for i in (5, 2))
    )
    got, how = load_answers(path)
    assert got == {5: "A0-5", 2: "A0-2"} and how == "question_id"
    path.write_text(json.dumps({"text": "x"}) + "\n")
    with pytest.raises(InputError, match="1 answers for 96 questions"):
        load_answers(path)
    filled = [
        dict(r, model_answer=f"Assistant: A1-{i} ")
        for i, r in enumerate(mmhal_data.load_template())
    ]
    (tmp_path / "resp.json").write_text(json.dumps(filled))  # LLaVA-RLHF's response file
    got, how = load_answers(tmp_path / "resp.json")
    assert how == "position" and got[95] == "A1-95"
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    prompt = tmp_path / "t.txt"
    prompt.write_text(TEST_TEMPLATE)
    path.write_text(
        "".join(json.dumps({"question_id": i, "answer": f"A0-{i}"}) + "\n" for i in (5, 2))
    )
    with FakeOpenAI() as server:
        server.reply = judge_reply
        cfg = JudgeConfig(model="j", base_url=server.url, cache_dir=tmp_path / "c")
        rec = score_mmhal_bench(path, cfg, judge_prompt_file=prompt)
    assert rec.n_items == 96 and rec.n_scored == 2 and len(server.requests) == 2
    assert (
        rec.items[2]["rating"] == 6 and rec.items[0]["unscored"] == "no answer in the answer file"
    )


def test_doctor_reports_the_judge_prompt(tmp_path, monkeypatch):
    from halbench.doctor import run_doctor

    monkeypatch.setenv("HALBENCH_HOME", str(tmp_path))
    assert "[--] MMHal-Bench judge prompt: not prepared" in run_doctor()[0]
    monkeypatch.setattr(
        mmhal_data, "PROMPT_SHA256", hashlib.sha256(TEST_TEMPLATE.encode()).hexdigest()
    )
    monkeypatch.setattr(mmhal_data, "PROMPT_CHARS", len(TEST_TEMPLATE))
    mmhal_data.install_judge_prompt(_script(tmp_path))
    assert "[ok] MMHal-Bench judge prompt" in run_doctor()[0]
