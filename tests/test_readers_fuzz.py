"""Every answer reader and every ``halbench score NAME`` survives arbitrary bytes (issue 13
item 17): only our ``InputError`` (exit 1, one line naming the file) comes out, never a
traceback, and exit 0 only for a file the reader accepts. The judge is never called on a
file that fails validation. Bounded: a few examples each, no deadline."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.amber.score import load_responses
from benchmarks.chair.score import load_answers as load_chair_answers
from benchmarks.llava_bench_coco.score import load_answers as load_llava_answers
from benchmarks.llava_bench_coco.score import load_questions as llava_questions
from benchmarks.mmhal_bench.score import load_answers as load_mmhal_answers
from benchmarks.pope.score import load_answers as load_pope_answers
from benchmarks.vqav2.score import load_predictions
from halbench.answers import load_object_halbench_answers
from halbench.cli import main
from halbench.errors import InputError
from halbench.io import read_answer_lines, read_records

from .benchmarks.test_chair import _write_coco
from .benchmarks.test_llava_bench_in_the_wild import CAPTIONS, QUESTIONS
from .benchmarks.test_llava_bench_in_the_wild import judge_reply as wild_reply
from .benchmarks.test_mmhal_bench import TEST_TEMPLATE
from .conftest import CAPS_BOXES
from .fake_openai import FakeOpenAI

FAST = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW = settings(FAST, max_examples=15)

# --------------------------------------------------------------------------- strategies

KEYS = [
    "question_id",
    "id",
    "image_id",
    "text",
    "answer",
    "response",
    "caption",
    "prompt",
    "question",
    "model_answer",
    "imgToEval",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 5, 95, 96, 441147, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["\ud800", "a\udfffb", "\ufeff", "x\r\ny", "000000441147", "Yes", "1"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
records = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), values, max_size=5)


def _dumps(value, ascii_only: bool) -> str:
    # NaN and Infinity are written as Python's literals; lone surrogates as \ud800 escapes
    return json.dumps(value, ensure_ascii=ascii_only)


IMAGE_IDS = [1, 2, 3, 4] + [
    int(json.loads(x)["image"].split("_")[-1].split(".")[0])
    for x in CAPS_BOXES.read_text().splitlines()[:3]
]


def _near_valid(draw, ascii_only: bool) -> str:
    """An answer file every scorer could read (ids, image ids, texts), then broken a little:
    a field changed to any JSON value or removed, a line dropped or repeated."""
    n = draw(st.sampled_from([1, 3, 6, 90, 96]))
    rows = [
        {
            "question_id": i,
            "id": i + 1,
            "image_id": IMAGE_IDS[i % len(IMAGE_IDS)],
            "prompt": "Describe the image.",
            "text": "A man and a dog near a bench.",
            "response": "No",
            "model_answer": "Fine.",
        }
        for i in range(n)
    ]
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, n - 1))
        op = draw(st.sampled_from(["set", "delete", "drop", "repeat", "surrogate"]))
        key = draw(st.sampled_from(list(rows[i]) or ["text"]))
        if op == "set":
            rows[i][key] = draw(values)
        elif op == "delete":
            rows[i].pop(key, None)
        elif op == "drop" and len(rows) > 1:
            rows.pop(i)
            n -= 1
        elif op == "surrogate":  # a lone surrogate in a field read, or one only echoed
            rows[i][key] = draw(st.sampled_from(["\ud800", "a \udfff b"]))
        elif op == "repeat":
            rows.append(dict(rows[i]))
    shape = draw(st.sampled_from(["array", "jsonl", "jsonl", "imgToEval"]))
    if shape == "imgToEval":  # LisaAnne's CHAIR output, keys of any text
        keys = draw(st.lists(st.text(max_size=4), min_size=len(rows), max_size=len(rows)))
        return _dumps(
            {"imgToEval": {f"{k}{i}": r for i, (k, r) in enumerate(zip(keys, rows, strict=True))}},
            ascii_only,
        )
    if shape == "array":
        return _dumps(rows, ascii_only)
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    return "".join(_dumps(r, ascii_only) + eol for r in rows)


@st.composite
def answer_files(draw) -> bytes:
    kind = draw(
        st.sampled_from(
            ["bytes", "jsonl", "array", "value", "huge-int", "deep"] + ["near-valid"] * 4
        )
    )
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "huge-int":  # past Python's int-from-string digit limit
        head = draw(st.sampled_from([b"", b"[", b'{"x": 1}\n']))
        return head + b'{"question_id": ' + b"9" * 5000 + b', "text": "a"}\n'
    if kind == "deep":  # valid JSON nested past Python's recursion limit
        n = 100_000
        return draw(st.sampled_from([b"[" * n + b"]" * n, b'{"text": ' * n + b"1" + b"}" * n]))
    ascii_only = draw(st.booleans())
    if kind == "near-valid":
        text = _near_valid(draw, ascii_only)
    elif kind == "value":
        text = _dumps(draw(values), ascii_only)
    elif kind == "array":
        text = _dumps(draw(st.lists(records, max_size=4)), ascii_only)
    else:
        eol = draw(st.sampled_from(["\n", "\r\n"]))
        rows = draw(st.lists(records, max_size=4))
        text = "".join(_dumps(r, ascii_only) + eol for r in rows)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if data and draw(st.booleans()):  # a truncated file
        data = data[: draw(st.integers(0, len(data) - 1))]
    return data


def accepts(read, path: Path) -> bool:
    """True if ``read(path)`` accepts the file; only our InputError, naming it, may come out."""
    try:
        read(path)
    except InputError as exc:
        assert exc.path == str(path), exc
        assert "\n" not in str(exc) and "\r" not in str(exc), repr(str(exc))
        if exc.line is not None:
            assert str(exc).startswith(f"{path}:{exc.line}: ")
        return False
    return True


# --------------------------------------------------------------------------- readers

POPE_QS = [{"question_id": i, "label": "yes"} for i in (1, 2, 5)]
LLAVA_QS = llava_questions()
READERS = {
    "read_records": read_records,
    "read_answer_lines": read_answer_lines,
    "object-halbench": load_object_halbench_answers,
    "chair": load_chair_answers,
    "llava-bench": lambda p: load_llava_answers(p, LLAVA_QS),
    "mmhal-bench": load_mmhal_answers,
    "pope": lambda p: load_pope_answers(p, POPE_QS),
    "vqav2": load_predictions,
    "amber": lambda p: load_responses(p, 10),
}


@pytest.mark.parametrize("name", list(READERS))
def test_readers_survive_arbitrary_files(name, tmp_path):
    path = tmp_path / "answers.jsonl"

    @FAST
    @given(answer_files())
    def check(data):
        path.write_bytes(data)
        accepts(READERS[name], path)

    check()


def test_object_halbench_with_a_question_file_survives(tmp_path):
    questions = tmp_path / "q.jsonl"
    path = tmp_path / "a.jsonl"

    @FAST
    @given(answer_files(), answer_files())
    def check(q, a):
        questions.write_bytes(q)
        path.write_bytes(a)
        try:
            load_object_halbench_answers(path, questions_path=questions)
        except InputError as exc:
            assert exc.path in (str(path), str(questions)) and "\n" not in str(exc)

    check()


# --------------------------------------------------------------------------- halbench score NAME


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The ground truth and question files each scorer needs."""
    from PIL import Image

    root = tmp_path_factory.mktemp("fuzz-inputs")
    coco = _write_coco(root / "coco")
    pope_q = root / "coco_pope_mini.json"
    pope_q.write_text("".join(json.dumps({**q, "text": "Is there a dog?"}) + "\n" for q in POPE_QS))
    ann = {
        "annotations": [
            {
                "question_id": 1,
                "image_id": 10,
                "question_type": "is the",
                "answer_type": "yes/no",
                "multiple_choice_answer": "yes",
                "answers": [
                    {"answer": "yes", "answer_confidence": "yes", "answer_id": j}
                    for j in range(1, 11)
                ],
            }
        ]
    }
    ques = {"questions": [{"question_id": 1, "image_id": 10, "question": "Is it?"}]}
    (root / "ann.json").write_text(json.dumps(ann))
    (root / "ques.json").write_text(json.dumps(ques))
    src = root / "wild"
    (src / "images").mkdir(parents=True)
    for name in ("001.jpg", "002.jpg", "003.png"):
        Image.new("RGB", (24, 20), (40, 90, 160)).save(src / "images" / name)

    def jl(name, rows):
        (src / name).write_text("".join(json.dumps(r) + "\n" for r in rows))

    jl(
        "questions.jsonl",
        [{"question_id": q, "image": im, "text": t, "category": c} for q, im, c, t in QUESTIONS],
    )
    jl(
        "answers_gpt4.jsonl",
        [{"question_id": q, "prompt": t, "text": f"GPT-4 answer {q}."} for q, _, _, t in QUESTIONS],
    )
    jl("context.jsonl", [{"id": im[:3], "image": im, "caption": c} for im, c in CAPTIONS.items()])
    data = root / "data"
    name = "llava-bench-in-the-wild"
    assert main(["-q", "data", "prepare", name, "--from", str(src), "--data-dir", str(data)]) == 0
    (root / "template.txt").write_text(TEST_TEMPLATE)
    return {"coco": coco, "pope_q": pope_q, "root": root, "data": data}


def _mmhal_reply(text: str) -> str:
    return "Rating: 6"


def _llava_reply(text: str) -> str:
    return "8 8\nBoth fine."


def cli_args(name: str, inputs: dict, answers: Path, out: Path, judge_url: str) -> list[str]:
    judge = ["--judge-model", "judge-x", "--judge-base-url", judge_url, "--judge-max-retries", "0"]
    extra = {
        "object-halbench": ["--coco-annotations", str(CAPS_BOXES)],
        "chair": ["--coco-annotations", str(inputs["coco"]), "--unknown-images", "unscored"],
        "pope": ["--questions", str(inputs["pope_q"])],
        "vqav2": [
            "--annotations",
            str(inputs["root"] / "ann.json"),
            "--questions",
            str(inputs["root"] / "ques.json"),
        ],
        "amber": ["--similarity", "exact"],
        "llava-bench": judge,
        "llava-bench-in-the-wild": [*judge, "--data-dir", str(inputs["data"])],
        "mmhal-bench": [*judge, "--judge-prompt", str(inputs["root"] / "template.txt")],
    }[name]
    return ["-q", "score", name, "--answers", str(answers), "--output", str(out), *extra]


CLI_READERS = {
    "object-halbench": load_object_halbench_answers,
    "chair": load_chair_answers,
    "pope": READERS["pope"],
    "vqav2": load_predictions,
    "amber": lambda p: load_responses(p, 15220),
    "llava-bench": READERS["llava-bench"],
    "llava-bench-in-the-wild": lambda p: load_llava_answers(
        p, [{"question_id": q[0]} for q in QUESTIONS]
    ),
    "mmhal-bench": load_mmhal_answers,
}


@pytest.mark.parametrize("name", list(CLI_READERS))
def test_score_commands_survive_arbitrary_files(name, inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fuzz")
    answers = tmp_path / "answers.jsonl"
    out = tmp_path / "out" / "record.json"
    with FakeOpenAI() as server:
        server.reply = {"mmhal-bench": _mmhal_reply, "llava-bench-in-the-wild": wild_reply}.get(
            name, _llava_reply
        )

        @SLOW
        @given(answer_files())
        def check(data):
            answers.write_bytes(data)
            if out.exists():
                out.unlink()
            calls = len(server.requests)
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(cli_args(name, inputs, answers, out, server.url))
            ok = accepts(CLI_READERS[name], answers)
            if code == 1:
                lines = err.getvalue().strip().splitlines()
                assert len(lines) == 1 and lines[0].startswith("halbench: error: "), lines
                assert str(answers) in lines[0]
                assert len(server.requests) == calls, "the judge was called on a bad file"
                assert not out.exists()  # (a file read fine may still fail later: an
                # image without ground truth, a question without an answer)
            else:
                assert code == 0 and ok and out.exists(), (code, err.getvalue())

        check()


def test_strategies_reach_the_corners():
    """The generator writes what the issue lists (NaN/Infinity literals, lone surrogates)."""
    assert _dumps([math.nan, math.inf, "\ud800"], True) == '[NaN, Infinity, "\\ud800"]'
