"""The fast tokenizer must give exactly nltk.word_tokenize's tokens."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTokenizer

from halbench.nlp import tokenize as tk
from halbench.nlp.tokenize import WordTokenizer, make_punkt

from .conftest import BENCHMARKS, CAPS_BOXES

_TB = NLTKWordTokenizer()


def nltk_tokens(punkt, text: str) -> list[str]:
    """nltk.word_tokenize, spelled out so the Punkt model can be chosen."""
    return [tok for sent in punkt.tokenize(text) for tok in _TB.tokenize(sent)]


@pytest.fixture(scope="module", params=["trained", "untrained"])
def pair(request):
    trained = request.param == "trained"
    ref = PunktTokenizer("english") if trained else PunktSentenceTokenizer()
    fast = WordTokenizer(make_punkt(trained))
    assert fast.mode == "fast"
    return ref, fast


def test_word_tokenize_is_the_reference(nlp):
    """With the trained model, the spelled-out reference equals nltk.word_tokenize itself."""
    import nltk

    text = 'Mr. Smith\'s dog -- a "big" one -- sat (quietly) at 3:30 p.m. on the U.S. flag... Ok!'
    assert nltk.word_tokenize(text) == nltk_tokens(PunktTokenizer("english"), text)
    assert nlp.tokenize(text) == nltk.word_tokenize(text)


def test_real_texts(pair, pope_captions):
    ref, fast = pair
    texts = [c["text"] for c in pope_captions]
    texts += [
        json.loads(line)["text"]
        for line in (BENCHMARKS / "llava-bench-coco" / "data" / "qa90_gpt4_answer.jsonl").open()
    ]
    for line in CAPS_BOXES.open():
        texts += json.loads(line)["captions"]
    texts = list(dict.fromkeys(texts))
    assert len(texts) > 18_000
    for text in texts:
        for variant in (text, text.lower()):
            assert fast.tokenize(variant) == nltk_tokens(ref, variant), variant


TRICKY = [
    "",
    "   ",
    "dog",
    " dog ",
    "A dog. A cat.",
    "a dog.the cat",
    "mr. smith and st. louis, e.g. a dog etc. ok",
    'he said "dog." then left',
    "(the dog.) a cat.",
    "the dog. ) a cat",
    "the dog.\n) cat",
    "a dog .",
    "dogs' toys and the dog's bone, isn't it?",
    "i cannot, gonna, wanna go; gimme that lemme see gotta run",
    "wanna",
    "it's 'tis 'twas more'n d'ye",
    "''hello'' ``world'' \"quoted\"",
    "«dog» “cat” ‘bird’ „x“",
    "a--b -- c ... d.. e.f.g. 3.5 1,000 10:30, a:b",
    "x\ty\n\nz\xa0w\u2003v\r\nu",
    "end with closers.\" ')",
    "dog.\u2019 cat",
    "wait... what?! really!!! yes?",
    "a – b — c ‒ d ― e",
    "@home #tag $5 50% a&b *star*",
    "cannot-be well-lit re-use x-gonna",
    "A. B. C. Smith",
    "No. 5 is here. ok",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky(pair, text):
    ref, fast = pair
    for variant in (text, text.lower(), text.upper()):
        assert fast.tokenize(variant) == nltk_tokens(ref, variant)


_WORDS = [
    "dog",
    "dogs",
    "the",
    "a",
    "mr",
    "st",
    "e.g",
    "etc",
    "cannot",
    "gonna",
    "wanna",
    "gimme",
    "lemme",
    "gotta",
    "more'n",
    "d'ye",
    "'tis",
    "'twas",
    "toilet",
    "seat",
    "hot",
    "1",
    "2.5",
    "3,000",
    "10:30",
    "i",
    "no",
    "don't",
    "isn't",
    "it's",
    "dog's",
    "dogs'",
    "we're",
    "I'm",
    "they'll",
    "you've",
    "he'd",
    "well-lit",
    "A",
    "J",
    "St",
    "Cannot",
    "WANNA",
]
_PUNCT = list(".,:;@#$%&?!'\"`()[]{}<>*-/") + [
    "--",
    "...",
    "..",
    "«",
    "»",
    "“",
    "”",
    "‘",
    "’",
    "„",
    "\u2012",
    "\u2013",
    "\u2014",
    "''",
    "``",
    '..."',
    '."',
    ".)",
    ".'",
]
_SEPS = ["", " ", " ", " ", "  ", "\n", "\t", "\n\n", "\xa0", " \n ", "\r\n", "\u2003"]

_piece = st.tuples(st.sampled_from(_WORDS + _PUNCT), st.sampled_from(_SEPS)).map("".join)
_texts = st.lists(_piece, min_size=1, max_size=14).map("".join)


@settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_texts)
def test_generated(pair, text):
    ref, fast = pair
    assert fast.tokenize(text) == nltk_tokens(ref, text)
    assert fast.tokenize(text.lower()) == nltk_tokens(ref, text.lower())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=60))
def test_arbitrary_unicode(pair, text):
    ref, fast = pair
    assert fast.tokenize(text) == nltk_tokens(ref, text)


def test_sentences_shortcut_matches_punkt(pair):
    ref, fast = pair
    for text in ["a dog on a couch", "  a dog  ", "a dog.", "a dog?", "", "a dog\n\n"]:
        assert fast.sentences(text) == ref.tokenize(text)


def test_unknown_rules_fall_back_to_nltk(monkeypatch):
    monkeypatch.setattr(tk, "CHECKED_RULE_SIGNATURES", frozenset())
    slow = WordTokenizer(make_punkt(True))
    assert slow.mode == "nltk"
    text = "Mr. Smith's dog sat. Then the cat (a big one) came."
    assert slow.tokenize(text) == nltk_tokens(PunktTokenizer("english"), text)


def test_memo_bound(monkeypatch):
    monkeypatch.setattr(tk, "_MAX_MEMO", 5)
    fast = WordTokenizer(make_punkt(True))
    ref = PunktTokenizer("english")
    texts = [f"word{i}, (x{i}) y{i}." for i in range(50)]
    for text in texts * 2:
        assert fast.tokenize(text) == nltk_tokens(ref, text)
    assert fast._tokens.size() < 20
