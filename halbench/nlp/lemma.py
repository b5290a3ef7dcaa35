"""``WordNetLemmatizer().lemmatize(word, "n")``, exactly, without loading NLTK's WordNet reader.

NLTK's ``WordNetCorpusReader`` reads every index file, both sense indexes (to map
WordNet versions for the multilingual data) and all exception lists when it is first
used: about 3 s per process. Noun lemmas need two things only (NLTK 3.10's
``WordNetCorpusReader._morphy``):

* the lemma names of ``index.noun`` (``_lemma_pos_offset_map[form]`` has ``"n"``), and
* the noun exception list ``noun.exc`` (form -> base forms; a later line for the
  same form replaces an earlier one).

``lemmatize(form)``: candidates are the exception list's base forms when ``form`` is
listed there, else the form with each noun detachment rule applied once (in the rule
order); ``[form] + candidates`` is filtered to WordNet noun lemmas (first occurrence
kept) and the shortest wins (the first among equals); no lemma: ``form`` unchanged.
No case folding, no other normalisation.

The two files are read from the WordNet folder NLTK finds (directory or zip) and the
result is cached as JSON in halbench's cache directory, keyed by the sha256 of the
two files (``nltk_data.wordnet_noun_fingerprint``). The algorithm above depends on the
installed NLTK: its source is fingerprinted (``algorithm_signature``), and on a
version we have not checked ``NounLemmatizer.load`` returns ``None`` so callers use
NLTK's own lemmatizer (same lemmas, no speed-up). ``tests/test_lemma.py`` compares
every noun form of WordNet 3.0 (and inflections of them) with NLTK's lemmatizer.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from halbench.paths import cache_dir

#: NLTK 3.10's noun detachment rules (``WordNetCorpusReader.MORPHOLOGICAL_SUBSTITUTIONS``).
NOUN_RULES: tuple[tuple[str, str], ...] = (
    ("s", ""),
    ("ses", "s"),
    ("ves", "f"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("ies", "y"),
)

#: ``algorithm_signature()`` values whose lemmatizer this module reproduces (nltk 3.10.4).
CHECKED_ALGORITHM_SIGNATURES = frozenset(
    {"34aff81d5ff83962b073a717f0acbb8658f0fcf14ae3caf0ba1057af4186a84c"}
)

CACHE_FORMAT = 1


def algorithm_signature() -> str:
    """sha256 over the source of NLTK's noun lemmatizing code and its noun rules."""
    import inspect

    from nltk.corpus.reader.wordnet import NOUN, WordNetCorpusReader
    from nltk.stem.wordnet import WordNetLemmatizer

    parts = [
        inspect.getsource(WordNetLemmatizer.lemmatize),
        inspect.getsource(WordNetLemmatizer._morphy),
        inspect.getsource(WordNetCorpusReader._morphy),
        inspect.getsource(WordNetCorpusReader._load_exception_map),
        inspect.getsource(WordNetCorpusReader._load_lemma_pos_offset_map),
        repr(WordNetCorpusReader.MORPHOLOGICAL_SUBSTITUTIONS[NOUN]),
        repr(WordNetCorpusReader._ENCODING),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class UnsupportedData(ValueError):
    """The WordNet files are not in the plain form this module parses exactly."""


def parse_noun_data(index_noun: bytes, noun_exc: bytes) -> tuple[list[str], dict[str, list[str]]]:
    """Noun lemma names (file order) and the exception map, as NLTK's reader builds them.

    Raises ``UnsupportedData`` for anything but ASCII text with well-formed index
    lines (NLTK's reader would decode other bytes with its stream reader, or raise
    on a malformed line); callers then fall back to NLTK itself.
    """
    if not (index_noun.isascii() and noun_exc.isascii()):
        raise UnsupportedData("non-ASCII WordNet noun files")
    nouns: list[str] = []
    for number, line in enumerate(index_noun.decode("ascii").splitlines(True), 1):
        if line.startswith(" "):
            continue
        fields = line.split()
        if len(fields) < 6 or not _well_formed(fields):
            raise UnsupportedData(f"index.noun line {number} is not a plain index line")
        if fields[1] == "n":
            nouns.append(fields[0])
    exceptions: dict[str, list[str]] = {}
    for number, line in enumerate(noun_exc.decode("ascii").splitlines(True), 1):
        terms = line.split()
        if not terms:
            raise UnsupportedData(f"noun.exc line {number} is empty")
        exceptions[terms[0]] = terms[1:]
    return nouns, exceptions


def _well_formed(fields: list[str]) -> bool:
    """The checks ``_load_lemma_pos_offset_map`` makes (so it would not raise on this line)."""
    try:
        n_synsets = int(fields[2])
        n_pointers = int(fields[3])
        at = 4 + n_pointers
        if n_synsets <= 0 or int(fields[at]) != n_synsets:
            return False
        int(fields[at + 1])
        offsets = fields[at + 2 : at + 2 + n_synsets]
        if len(offsets) != n_synsets:
            return False
        for off in offsets:
            int(off)
    except (ValueError, IndexError):
        return False
    return True


class NounLemmatizer:
    """Noun lemmas identical to ``WordNetLemmatizer().lemmatize(form)`` (not memoised)."""

    def __init__(self, nouns: Any, exceptions: dict[str, list[str]], fingerprint: str) -> None:
        self.nouns = frozenset(nouns)
        self.exceptions = exceptions
        self.fingerprint = fingerprint

    def lemmatize(self, form: str) -> str:
        nouns = self.nouns
        bases = self.exceptions.get(form)
        if bases is None:
            bases = [form[: -len(old)] + new for old, new in NOUN_RULES if form.endswith(old)]
        best = form if form in nouns else None
        for base in bases:
            # min(key=len) keeps the first of the shortest; duplicates cannot change that.
            if base in nouns and (best is None or len(base) < len(best)):
                best = base
        return form if best is None else best

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(
        cls, fingerprint: str | None = None, *, cache: bool = True, root: Any = None
    ) -> NounLemmatizer | None:
        """From the cache when ``fingerprint`` (of the data NLTK finds) has one, else from the files.

        ``root``: an NLTK path pointer to a WordNet folder or zip (default: the one NLTK finds).

        Returns ``None`` when the installed NLTK's algorithm is not a checked one or the
        files are not plain WordNet files (use NLTK's lemmatizer then).
        """
        if algorithm_signature() not in CHECKED_ALGORITHM_SIGNATURES:
            return None
        if cache and fingerprint:
            hit = _read_cache(_cache_path(fingerprint), fingerprint)
            if hit is not None:
                return hit
        if root is None:
            from halbench.nlp.nltk_data import wordnet_root

            root = wordnet_root()
        with root.join("index.noun").open() as f:
            index_noun = f.read()
        with root.join("noun.exc").open() as f:
            noun_exc = f.read()
        try:
            nouns, exceptions = parse_noun_data(index_noun, noun_exc)
        except UnsupportedData:
            return None
        actual = noun_data_fingerprint(index_noun, noun_exc)
        if cache:
            _write_cache(_cache_path(actual), actual, nouns, exceptions)
        return cls(nouns, exceptions, actual)


def noun_data_fingerprint(index_noun: bytes, noun_exc: bytes) -> str:
    """Same value as ``nltk_data.wordnet_noun_fingerprint`` for these file contents."""
    h = hashlib.sha256()
    for name, data in (("index.noun", index_noun), ("noun.exc", noun_exc)):
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def _cache_path(fingerprint: str) -> Path:
    return cache_dir() / "wordnet_nouns" / f"{fingerprint}.json"


def _read_cache(path: Path, fingerprint: str) -> NounLemmatizer | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    ok = (
        isinstance(data, dict)
        and data.get("format") == CACHE_FORMAT
        and data.get("fingerprint") == fingerprint
        and isinstance(data.get("nouns"), list)
        and isinstance(data.get("exceptions"), dict)
    )
    if not ok:
        return None
    # A wrong type would silently change lemmas (a string iterated as its characters).
    nouns, exceptions = data["nouns"], data["exceptions"]
    if not all(type(w) is str for w in nouns):
        return None
    for bases in exceptions.values():
        if type(bases) is not list or not all(type(b) is str for b in bases):
            return None
    return NounLemmatizer(data["nouns"], data["exceptions"], fingerprint)


def _write_cache(
    path: Path, fingerprint: str, nouns: list[str], exceptions: dict[str, list[str]]
) -> None:
    """Write atomically (temporary file, then rename); a cache that cannot be written is skipped."""
    payload = {
        "format": CACHE_FORMAT,
        "fingerprint": fingerprint,
        "nouns": nouns,
        "exceptions": exceptions,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                json.dump(payload, f, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
