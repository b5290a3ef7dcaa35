"""Object HalBench with LLM-assisted extraction: prompt, parsing, refinement, fallback, end to end."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from benchmarks.object_halbench.llm_objects import (
    PROMPT,
    SpacyAnalyzer,
    WordNetAnalyzer,
    agreement,
    extraction_prompt,
    is_short,
    parse_object_list,
    refine,
    to_coco,
)
from halbench.cli import main
from halbench.types import ResultRecord

from ..conftest import CAPS_BOXES
from ..fake_openai import FakeOpenAI

SECRET = "sk-objhal-llm-secret-5"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('["dog", "frisbee"]', ["dog", "frisbee"]),
        ("[]", []),
        (
            'The objects are:\n["dog", "cat"]',
            ["dog", "cat"],
        ),  # last line when the whole is not JSON
        ('  ["man"]  ', ["man"]),
        ("()", None),
        ("Objects:\n[]", None),  # no [" in it: a failure ("No objects.", None),
        ('```json\n["dog"]\n```', None),  # the last line is the fence, as in the reference
        ('{"objects": ["dog"]}', None),
        ('"dog"', None),
        ('["dog", 3]', ["dog", "3"]),
    ],
)
def test_parse_object_list(reply, expected):
    if expected is None:
        with pytest.raises(ValueError):
            parse_object_list(reply)
    else:
        assert parse_object_list(reply) == expected


def test_prompt_and_short_answers():
    text = extraction_prompt("Describe it.", "A dog on grass.")
    assert text.startswith("You are an expert in image objects extraction")
    assert (
        "\n\n<image> Describe it.\n\n" in text
        and "\n\nA dog on grass.\n\n[End of Examiner's Answer]\n\n\n" in text
    )
    assert PROMPT.endswith(
        'JSON list format: ["object_1", ..., "object_n"].\n5. You should return an empty JSON list () if no visible objects can be found.\n'
    )
    assert is_short("A dog.") and is_short(" one  two\nthree ") and not is_short("a b c d")


class FakeTagger:
    """(lemma, tag) per token, as a spaCy pipeline would give them."""

    TAGS = {"a": "DT", "wooden": "JJ", "red": "JJ", "two": "CD", "of": "IN"}
    LEMMAS = {"dogs": "dog", "men": "man", "glasses": "glass"}
    name = "fake"

    def analyze(self, text):
        return [(self.LEMMAS.get(w, w), self.TAGS.get(w, "NN")) for w in text.split()]


def test_refine_like_the_reference(vocab):
    words = refine(
        [
            "wooden table",
            "baseball bat",
            "tennis player",
            "two dogs",
            "dog",
            "men",
            "toilet seat",
            "seat",
            "pair of glasses",
        ],
        FakeTagger(),
        vocab.double_words,
    )
    # compounds only where a pair matched; else noun runs; de-duplicated, first occurrence kept
    assert words == [
        "table",
        "baseball bat",
        "tennis player",
        "dog",
        "man",
        "toilet",
        "seat",
        "pair",
        "glass",
    ]
    mentions = to_coco(words, vocab)
    assert mentions == [
        ("table", "dining table"),
        ("baseball bat", "baseball bat"),
        ("dog", "dog"),
        ("man", "person"),
        ("toilet", "toilet"),
    ]  # fmt: skip (seat dropped: toilet present)
    assert to_coco(["seat", "Dog"], vocab) == [("seat", "chair")]  # no lower-casing


def test_wordnet_fallback_tags(nlp):
    wn = WordNetAnalyzer(nlp)
    assert wn.analyze("a red car") == [("a", "X"), ("red", "X"), ("car", "NN")]
    assert wn.analyze("a orange")[-1] == (
        "orange",
        "NN",
    )  # head word: a noun although also an adjective
    assert [t for _, t in wn.analyze("a tennis player")] == ["X", "NN", "NN"]
    assert wn.analyze("a two dogs")[-1] == ("dog", "NN")
    assert wn.analyze("a Dogs")[-1] == ("dog", "NN")  # lower-cased, as spaCy does for common nouns


def test_spacy_analyzer_with_a_given_pipeline():
    def tok(lemma, tag):
        return SimpleNamespace(lemma_=lemma, tag_=tag)

    def loader(name):
        return lambda text: [tok(w.rstrip("s"), "DT" if w == "a" else "NNS") for w in text.split()]

    a = SpacyAnalyzer("en_core_web_trf", loader=loader)
    assert a.parity and a.analyze("a dogs") == [("a", "DT"), ("dog", "NNS")]
    with pytest.raises(ValueError, match="no part-of-speech tags"):
        SpacyAnalyzer("blank", loader=lambda name: lambda text: [tok(w, "") for w in text.split()])


def test_agreement_counts():
    out = agreement(
        [[("dog", "dog")], [], [("man", "person"), ("cat", "cat")]],
        [[("dog", "dog")], [], [("man", "person")]],
    )
    assert out["same_class_set_count"] == 2 and out["both_empty"] == 1
    assert out["same_mentions_count"] == 2
    twice = agreement([[("dog", "dog"), ("puppy", "dog")]], [[("dog", "dog")]])
    assert twice["same_class_set_count"] == 1 and twice["same_mentions_count"] == 0
    assert out["mean_class_jaccard"] == (1 + 1 + 0.5) / 3


def judge_reply(text: str) -> str:
    answer = text.split("[Start of Examiner's Answer]\n\n", 1)[1].split(
        "\n\n[End of Examiner's Answer]"
    )[0]
    if "BADJSON" in answer:
        return "Sure! The objects are a dog and a cat."
    objects = [
        w.strip(".,").lower()
        for w in answer.split()
        if w.strip(".,").lower() in {"dog", "person", "giraffe", "men", "table", "car"}
    ]
    return "Here you go:\n" + json.dumps(objects) if objects else "[]"


@pytest.fixture
def llm_answers(tmp_path):
    ids = [json.loads(x)["id"] for x in CAPS_BOXES.read_text().splitlines()[:10]]
    texts = [
        "There is a dog and a giraffe near the table.",
        "A person stands beside two men and a car.",
        "A dog.",  # short: no call
        "Nothing of note appears in this picture at all.",
        "BADJSON answer with a dog in it.",
        "DOWN answer with a car here.",
        "A giraffe next to a person and a dog.",
        "The table holds a car model and more.",
        "Men and a dog walk on the table.",
        "A car, a dog, a person.",
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text(
        "".join(
            json.dumps({"image_id": int(i), "question": "Describe the image.", "text": t}) + "\n"
            for i, t in zip(ids, texts, strict=True)
        )
    )
    return path


def test_llm_extraction_end_to_end(llm_answers, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out = tmp_path / "o" / "objhal_llm.json"
    argv = [
        "-q",
        "score",
        "object-halbench",
        "--answers",
        str(llm_answers),
        "--coco-annotations",
        str(CAPS_BOXES),
        "--output",
        str(out),
        "--extractor",
        "llm",
        "--judge-model",
        "gpt-3.5-turbo-0613",
        "--judge-max-retries",
        "0",
    ]
    with FakeOpenAI() as server:
        server.reply = judge_reply
        server.fail_markers = {"DOWN answer"}
        # one judge call fails (HTTP 503): the record is written, exit status 3
        assert main([*argv, "--judge-base-url", server.url]) == 3
        shown = capsys.readouterr().out
        bodies = [b for b in server.requests if "DOWN" not in b["messages"][0]["content"]]
        assert len(bodies) == 8  # 10 answers, one short (no call), one 503 (not retried here)
        body = bodies[0]
        assert [m["role"] for m in body["messages"]] == ["system"]
        assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 1, 512)
        assert body["presence_penalty"] == 0 and body["frequency_penalty"] == 0
        n = len(server.requests)
        assert (
            main([*argv, "--judge-base-url", server.url]) == 3
        )  # re-scoring: every good reply cached
        assert len(server.requests) - n == 1  # only the failed call again
    rec = ResultRecord.load(out)
    p = rec.protocol
    assert p["extractor"] == "llm" and p["judge_model"] == "gpt-3.5-turbo-0613"
    assert p["prompt_version"].startswith("rlhfv-eval_gpt_obj_halbench") and p["lemmatizer"]
    assert rec.n_items == 10 and rec.n_unscored == 2 and rec.n_scored == 8
    reasons = sorted(u.reason for u in rec.unscored)
    assert reasons[0].startswith("judge call failed") and reasons[1].startswith(
        "judge reply is not a JSON object list"
    )
    short = rec.items[2]
    assert short["mentions"] == [] and "llm_skipped" in short  # the synonym path finds the dog
    assert short["synonym_mentions"] == [["dog", "dog"]]
    first = rec.items[0]
    assert first["extracted"] == ["dog", "giraffe", "table"]
    assert first["mentions"] == [["dog", "dog"], ["giraffe", "giraffe"], ["table", "dining table"]]
    scored = [it for it in rec.items if "unscored" not in it]
    hall = sum(1 for it in scored for _, c in it["mentions"] if c not in it["gt_objects"])
    assert rec.fractions["CHAIRi"].numerator == hall
    assert rec.fractions["CHAIRi"].denominator == sum(len(it["mentions"]) for it in scored)
    same = sum(
        {c for _, c in it["mentions"]} == {c for _, c in it["synonym_mentions"]} for it in scored
    )
    ag = rec.metrics["agreement"]
    assert ag["same_class_set_count"] == same and ag["n_items"] == 8
    assert ag["side_by_side"]["CHAIRi"]["llm"] == rec.metrics["CHAIRi"]
    assert "LLM vs synonym path on the same 8 items" in shown and "per-item agreement" in shown
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_llm_extractor_needs_a_judge(llm_answers, tmp_path, capsys):
    code = main(
        [
            "-q",
            "score",
            "object-halbench",
            "--answers",
            str(llm_answers),
            "--coco-annotations",
            str(CAPS_BOXES),
            "--output",
            str(tmp_path / "x.json"),
            "--extractor",
            "llm",
        ]
    )
    assert code == 1 and "--extractor llm needs --judge-model" in capsys.readouterr().err
