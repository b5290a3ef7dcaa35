"""The fast noun lemmatizer (halbench.nlp.lemma) against NLTK's WordNetLemmatizer."""

from __future__ import annotations

import json
import zipfile

import nltk
import pytest
from nltk.stem import WordNetLemmatizer

from halbench.nlp import lemma as lemma_mod
from halbench.nlp import nltk_data
from halbench.nlp.lemma import NOUN_RULES, NounLemmatizer, UnsupportedData, parse_noun_data
from halbench.nlp.pipeline import NltkPipeline
from halbench.paths import cache_dir

ODD = [
    "",
    " ",
    "  ",
    "_",
    "-",
    "s",
    "ss",
    "es",
    "ies",
    "ses",
    "ves",
    "xes",
    "zes",
    "ches",
    "shes",
    "men",
    "man",
    "mens",
    "Dogs",
    "DOGS",
    "dOgs",
    "Glasses",
    "Women",
    "US",
    "Us",
    "us",
    "dog s",
    "dogs ",
    " dogs",
    "dog\tdogs",
    "dog\ndogs",
    "ice_creams",
    "ice creams",
    "ice-creams",
    "hot_dogs",
    "hot dogs",
    "hot-dogs",
    "t-shirts",
    "t_shirts",
    "teddy_bears",
    "teddy bears",
    "café",
    "cafés",
    "naïves",
    "straße",
    "straßes",
    "ﬁles",
    "dogſ",
    "İstanbuls",
    "ǅogs",
    "dogs\u200b",
    "\u00a0dogs",
    "dogs\u00a0",
    "ＤＯＧＳ",
    "犬",
    "🐶s",
    "1990s",
    "10s",
    "a.m.s",
    "u.s.",
    "dogs.",
    "dogs,",
    "'s",
    "n't",
    "dog's",
    "children's",
    "men's",
    "''",
    "``",
    "--",
    "aardwolves",
    "abaci",
    "people",
    "peoples",
    "mice",
    "mouses",
    "geese",
    "oxen",
    "scissors",
    "vases",
    "glasses",
    "buses",
    "busses",
    "wolves",
    "boxes",
    "quizzes",
    "churches",
    "dishes",
    "policemen",
    "ladies",
    "keys",
    "toys",
    "leaves",
    "knives",
    "lives",
    "wives",
    "halves",
]


@pytest.fixture(scope="module")
def wordnet_files() -> tuple[bytes, bytes]:
    root = nltk_data.wordnet_root()
    with root.join("index.noun").open() as f:
        index_noun = f.read()
    with root.join("noun.exc").open() as f:
        noun_exc = f.read()
    return index_noun, noun_exc


@pytest.fixture(scope="module")
def fast() -> NounLemmatizer:
    got = NounLemmatizer.load(nltk_data.locate().wordnet_noun_fingerprint)
    assert got is not None
    return got


def all_forms(index_noun: bytes, noun_exc: bytes) -> list[str]:
    """Every lemma name, exception form and base, their inflections by each rule, case variants."""
    names = [
        line.split()[0]
        for line in index_noun.decode().splitlines()
        if line and not line.startswith(" ")
    ]
    exc = [t for line in noun_exc.decode().splitlines() for t in line.split()]
    forms: set[str] = set(names) | set(exc)
    for base in list(forms):
        for old, new in NOUN_RULES:
            if base.endswith(new):
                forms.add(base[: len(base) - len(new)] + old)
        forms.add(base + "s")
        forms.add(base + "es")
    for w in list(forms)[::7]:
        forms.update((w.capitalize(), w.upper(), w.replace("_", " "), w.replace("_", "-")))
    forms.update(ODD)
    return sorted(forms)


def test_every_noun_form_matches_nltk(wordnet_files, fast):
    forms = all_forms(*wordnet_files)
    assert len(forms) > 500_000
    nltk_lemmatize = WordNetLemmatizer().lemmatize
    diffs = [(w, fast.lemmatize(w), nltk_lemmatize(w)) for w in forms]
    diffs = [d for d in diffs if d[1] != d[2]]
    assert diffs == []
    # the enumeration reaches each kind of analysis (the comparison could not pass vacuously)
    kinds = {w: fast.lemmatize(w) for w in ("dogs", "mice", "us", "vases", "men", "Dogs", "")}
    assert kinds == {
        "dogs": "dog",
        "mice": "mouse",
        "us": "u",
        "vases": "vas",
        "men": "men",
        "Dogs": "Dogs",
        "": "",
    }


def test_data_is_wordnet30(fast):
    assert fast.fingerprint == nltk_data.WORDNET30_NOUN_FINGERPRINT
    assert len(fast.nouns) == 117_798 and len(fast.exceptions) == 2_050
    # noun.exc lists a few forms twice; as in NLTK's reader the later line wins
    assert fast.exceptions["aurar"] == ["eyrir"] and fast.exceptions["involucra"] == ["involucrum"]


def test_later_exception_line_wins_and_order_of_candidates():
    index = b"  header line\nbus n 1 0 1 0 02924116  \nbu n 1 0 1 0 0001  \nbuss n 1 0 1 0 01\n"
    exc = b"buses bus\nbuses buss bu\n"
    nouns, exceptions = parse_noun_data(index, exc)
    assert nouns == ["bus", "bu", "buss"] and exceptions == {"buses": ["buss", "bu"]}
    lem = NounLemmatizer(nouns, exceptions, "x")
    assert lem.lemmatize("buses") == "bu"  # exception bases only, shortest
    assert lem.lemmatize("buss") == "bus"  # the form and "s" -> "": the shorter wins
    assert lem.lemmatize("bu") == "bu" and lem.lemmatize("Bus") == "Bus"
    assert lem.lemmatize("busses") == "buss"


def test_unsupported_data_is_refused():
    with pytest.raises(UnsupportedData):
        parse_noun_data("caf\u00e9 n 1 0 1 0 01\n".encode(), b"")
    with pytest.raises(UnsupportedData):
        parse_noun_data(b"dog n 2 0 1 0 01 02\n", b"")  # synset count mismatch: NLTK raises
    with pytest.raises(UnsupportedData):
        parse_noun_data(b"dog n 1 0 1 0 01\n", b"dogs dog\n\n")


def test_cache_is_written_atomically_and_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("HALBENCH_HOME", str(tmp_path))  # NLTK's search path keeps the real data
    fp = nltk_data.WORDNET30_NOUN_FINGERPRINT
    first = NounLemmatizer.load(fp, root=nltk_data.wordnet_root())
    cached = cache_dir() / "wordnet_nouns" / f"{fp}.json"
    assert first is not None and cached.exists()
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temporary left
    head = json.loads(cached.read_text())
    assert head["format"] == lemma_mod.CACHE_FORMAT and head["fingerprint"] == fp

    def no_files():
        raise AssertionError("read the WordNet files although the cache is warm")

    monkeypatch.setattr(nltk_data, "wordnet_root", no_files)
    again = NounLemmatizer.load(fp)
    assert again is not None and again.nouns == first.nouns
    assert again.exceptions == first.exceptions
    monkeypatch.undo()
    monkeypatch.setenv("HALBENCH_HOME", str(tmp_path))
    # a cache with wrong types is ignored (a string would be iterated as its characters)
    bad = json.loads(cached.read_text())
    bad["exceptions"]["mice"] = "mouse"
    cached.write_text(json.dumps(bad))
    fixed = NounLemmatizer.load(fp, root=nltk_data.wordnet_root())
    assert fixed is not None and fixed.lemmatize("mice") == "mouse"
    assert json.loads(cached.read_text())["exceptions"]["mice"] == ["mouse"]  # rewritten
    # a damaged cache is ignored and rewritten
    cached.write_text('{"format": 1, "fingerprint": "' + fp + '", "nouns": [')
    rebuilt = NounLemmatizer.load(fp, root=nltk_data.wordnet_root())
    assert rebuilt is not None and rebuilt.nouns == first.nouns
    assert json.loads(cached.read_text())["nouns"]


def test_zip_data_as_nltk_downloads_it(monkeypatch, tmp_path, fast):
    """NLTK's downloader may leave only ``corpora/wordnet.zip``: read through a zip pointer."""
    root = nltk_data.wordnet_root()
    (tmp_path / "corpora").mkdir()
    with zipfile.ZipFile(tmp_path / "corpora" / "wordnet.zip", "w") as z:
        for name in ("index.noun", "noun.exc"):
            with root.join(name).open() as f:
                z.writestr(f"wordnet/{name}", f.read())
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    pointer = nltk.data.find(nltk_data.WORDNET_RESOURCE + "/")
    assert isinstance(pointer, nltk.data.ZipFilePathPointer)
    got = NounLemmatizer.load(None, cache=False, root=pointer)
    assert got is not None and got.fingerprint == fast.fingerprint
    assert got.nouns == fast.nouns and got.exceptions == fast.exceptions


def test_unchecked_nltk_falls_back_to_nltk(monkeypatch):
    monkeypatch.setattr(lemma_mod, "CHECKED_ALGORITHM_SIGNATURES", frozenset())
    assert NounLemmatizer.load(nltk_data.WORDNET30_NOUN_FINGERPRINT) is None
    nlp = NltkPipeline()
    assert nlp.lemmatize("glasses") == "glass" and nlp.lemmatizer_mode == "nltk"


def test_pipeline_modes_agree():
    fast_nlp, nltk_nlp = NltkPipeline(), NltkPipeline(lemmatizer="nltk")
    assert NltkPipeline(fast=False).provenance()["lemmatizer"] == "unused"
    words = [w for w in ODD if w.strip()] + ["dogs", "glasses", "women"]
    assert [fast_nlp.lemmatize(w) for w in words] == [nltk_nlp.lemmatize(w) for w in words]
    assert fast_nlp.lemmatizer_mode == "fast" and nltk_nlp.lemmatizer_mode == "nltk"
    assert NltkPipeline(fast=False).lemmatizer_mode == "nltk"
    assert fast_nlp.provenance()["lemmatizer"] == "fast"
    assert fast_nlp.fingerprint() == nltk_nlp.fingerprint()  # lemmas are the same
    with pytest.raises(ValueError):
        NltkPipeline(lemmatizer="spacy")


def test_signature_is_the_checked_one():
    assert lemma_mod.algorithm_signature() in lemma_mod.CHECKED_ALGORITHM_SIGNATURES


def test_fast_path_never_loads_nltk_wordnet_reader():
    """The point of the fast path: a fresh process lemmatizes without NLTK's WordNet reader."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "from halbench.nlp.pipeline import NltkPipeline\n"
        "import nltk\n"
        "nlp = NltkPipeline()\n"
        "print(nlp.lemmatize('glasses'), nlp.lemmatizer_mode, type(nltk.corpus.wordnet).__name__)\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["glass", "fast", "LazyCorpusLoader"]
