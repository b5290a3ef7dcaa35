"""Punkt's sentence-break decision shortcut (tokenize.plain_sentbreak) against Punkt itself."""

from __future__ import annotations

import itertools
import json

import pytest
from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTokenizer

from halbench.nlp import tokenize as tk
from halbench.nlp.tokenize import make_punkt, plain_sentbreak

from .conftest import BENCHMARKS, CAPS_BOXES


@pytest.fixture(scope="module", params=["trained", "untrained"])
def punkts(request):
    trained = request.param == "trained"
    ref = PunktTokenizer("english") if trained else PunktSentenceTokenizer()
    return ref, make_punkt(trained)


def real_texts(pope_captions) -> list[str]:
    texts = [r["text"] for r in pope_captions]
    texts += [
        c for line in CAPS_BOXES.read_text().splitlines() for c in json.loads(line)["captions"]
    ]
    for path in (BENCHMARKS / "demo" / "data").glob("*.jsonl"):
        texts += [json.loads(line).get("text", "") for line in path.read_text().splitlines()]
    return sorted(set(texts))


def adversarial_contexts(ref) -> list[str]:
    params = ref._params
    abbrevs = sorted(params.abbrev_types)[:40]
    colloc = sorted(params.collocations)[:20]
    words = [
        "dog",
        "Dog",
        "DOG",
        "a",
        "I",
        "x",
        "ab",
        "well-known",
        "x-mr",
        "mr",
        "Mr",
        "st",
        "u.s",
        "e.g",
        "etc",
        "no",
        "vs",
        "10",
        "1990s",
        "3rd",
        "iv",
        "ca",
        "dog-",
        "-dog",
        "dog's",
        "(dog",
        "dog)",
        '"dog',
        'dog"',
        "naïve",
        "café",
        "ǅog",
        *abbrevs,
        *(a for a, _ in colloc),
    ]
    enders = [".", "?", "!", "..", "...", "?!", ".)", '."', '!"', ".'"]
    spaces = [" ", "  ", "\n", "\n\n", "\t", " \n ", "\r\n", "\u2028", "\u00a0", "\x0c"]
    nexts = [
        "the",
        "The",
        "THE",
        "i",
        "A",
        "(the",
        '"the',
        "...",
        ".",
        "-",
        "--",
        "10",
        "—",
        "smith",
        "Smith",
        "louis",
        "Louis",
        "é",
        "'s",
        "n't",
        "?",
        *(b for _, b in colloc),
    ]
    return [w + e + s + n for w, e, s, n in itertools.product(words, enders, spaces, nexts)]


def test_shortcut_only_answers_what_punkt_answers(punkts, pope_captions):
    ref, fast = punkts
    contexts: set[str] = set()
    for text in real_texts(pope_captions):
        for variant in (text, text.lower()):
            contexts.update(c for _, c in ref._match_potential_end_contexts(variant))
    real = sorted(contexts)
    contexts.update(adversarial_contexts(ref))
    wrong, answered = [], 0
    for c in sorted(contexts):
        if plain_sentbreak(c, fast.not_plain):
            answered += 1
            if not ref.text_contains_sentbreak(c):
                wrong.append(c)
    assert wrong == []
    # not vacuous: most real contexts are plain, and some of them are not
    shortcut_real = sum(plain_sentbreak(c, fast.not_plain) for c in real)
    assert shortcut_real > 0.9 * len(real) and shortcut_real < len(real)
    assert answered > 20_000


@pytest.mark.parametrize(
    "context, expected",
    [
        ("dog. the", True),
        ("well-known. the", True),
        ("dog? the", True),
        ("dog.\nthe", True),
        ("mr. smith", False),  # abbreviation: ask Punkt
        ("x-mr. smith", False),  # last hyphen part is an abbreviation
        ("a. b", False),  # an initial
        ("10. the", False),  # a number
        ("dog.. the", False),
        ("dog.\u2028the", False),  # unusual whitespace: ask Punkt
        ("dog.", False),  # no next token
        ("naïve. the", False),  # non-ASCII letters: ask Punkt
    ],
)
def test_plain_contexts(context, expected):
    fast = make_punkt(True)
    assert plain_sentbreak(context, fast.not_plain) is expected


def test_other_punkt_source_disables_the_shortcut(monkeypatch, pope_captions):
    monkeypatch.setattr(tk, "CHECKED_PUNKT_SIGNATURES", frozenset())
    slow = make_punkt(True)
    assert not slow.plain_shortcut
    monkeypatch.undo()
    fast = make_punkt(True)
    assert fast.plain_shortcut and tk.punkt_signature() in tk.CHECKED_PUNKT_SIGNATURES
    texts = [r["text"].lower() for r in pope_captions[:3000]]
    assert [slow.tokenize(t) for t in texts] == [fast.tokenize(t) for t in texts]
