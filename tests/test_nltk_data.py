"""NLTK data: Debian-built copy, fingerprints, the Punkt model and the fix messages."""

from __future__ import annotations

import json

import nltk
import pytest
from nltk.tokenize.punkt import PunktSentenceTokenizer, load_punkt_params

from halbench.errors import MissingResourceError
from halbench.nlp import nltk_data

needs_debian = pytest.mark.skipif(
    not nltk_data.DEBIAN_WORDNET_DIR.exists(), reason="Debian package wordnet-base not installed"
)


@pytest.mark.skipif(
    not nltk_data.DEBIAN_LEXNAMES_MAN.exists(), reason="lexnames(5WN) man page not installed"
)
def test_lexnames_match_the_man_page():
    assert list(nltk_data.LEXNAMES) == nltk_data.lexnames_from_man_page()


@pytest.mark.skipif(
    not nltk_data.DEBIAN_PUNKT_JSON.exists(), reason="Debian Punkt JSON not installed"
)
def test_punkt_conversion_keeps_every_parameter(tmp_path, monkeypatch):
    monkeypatch.setattr(
        nltk.data, "path", [*nltk.data.path, str(tmp_path)]
    )  # NLTK reads only from its paths
    nltk_data.convert_punkt_json(nltk_data.DEBIAN_PUNKT_JSON, tmp_path)
    params = load_punkt_params(nltk.data.FileSystemPathPointer(str(tmp_path)))
    src = json.loads(nltk_data.DEBIAN_PUNKT_JSON.read_text())
    assert params.abbrev_types == set(src["AbbrevTypes"])
    assert params.sent_starters == set(src["SentStarters"])
    assert params.collocations == {tuple(k.split(",")) for k in src["Collocations"]}
    assert dict(params.ortho_context) == src["OrthoContext"]
    assert (len(params.abbrev_types), len(params.sent_starters), len(params.collocations)) == (
        156,
        39,
        37,
    )


@needs_debian
def test_build_from_debian(tmp_path, monkeypatch):
    target = tmp_path / "nltk_data"
    monkeypatch.setattr(nltk.data, "path", [*nltk.data.path, str(target)])
    nltk_data.build_from_debian(target)
    wn = target / "corpora" / "wordnet"
    assert (wn / "lexnames").read_text().splitlines()[18] == "18\tnoun.person\t1"
    assert (wn / "index.sense").exists()
    root = nltk.data.FileSystemPathPointer(str(wn))
    assert nltk_data.wordnet_noun_fingerprint(root) == nltk_data.WORDNET30_NOUN_FINGERPRINT
    assert json.loads((target / nltk_data.SOURCE_MARKER).read_text())["origin"] == "debian"
    assert not list(tmp_path.glob(".nltk_data-*"))  # the temporary build directory is gone


def test_located_data_is_wordnet30():
    info = nltk_data.require()
    assert info.wordnet_matches_reference
    assert info.nltk_version.startswith("3.10.")


def test_lemmas(nlp):
    got = [
        nlp.lemmatize(w)
        for w in "dogs glasses women knives children buses people men vases mice skis scissors".split()
    ]
    assert got == [
        "dog",
        "glass",
        "woman",
        "knife",
        "child",
        "bus",
        "people",
        "men",
        "vas",
        "mouse",
        "ski",
        "scissors",
    ]


def test_trained_punkt_knows_abbreviations(nlp):
    text = "mr. smith has a dog. it sleeps."
    assert nlp.info.punkt_source == "punkt_tab"
    assert nlp.tokenizer.sentences(text) == ["mr. smith has a dog.", "it sleeps."]
    # an untrained Punkt also splits after the abbreviation (documented difference)
    assert PunktSentenceTokenizer().tokenize(text) == ["mr.", "smith has a dog.", "it sleeps."]


def test_missing_wordnet_says_how_to_fix(monkeypatch):
    real_find = nltk.data.find

    def find(resource, *a, **k):
        if resource.startswith("corpora/wordnet"):
            raise LookupError(resource)
        return real_find(resource, *a, **k)

    monkeypatch.setattr(nltk.data, "find", find)
    with pytest.raises(MissingResourceError) as err:
        nltk_data.require()
    msg = str(err.value)
    assert "halbench setup nltk" in msg and "apt-get install -y wordnet-base" in msg


def test_prepare_is_a_no_op_when_present():
    info, log = nltk_data.prepare(download=False)
    assert log == ["NLTK data already present."]
    assert info.wordnet_path is not None
