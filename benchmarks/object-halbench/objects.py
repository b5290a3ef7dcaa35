"""COCO object mentions in free text, exactly as RLHF-V's CHAIR finds them.

Reference: RLHF-V ``eval/eval_gpt_obj_halbench.py`` (class ``CHAIR``,
``caption_to_words``), commit 3d35a91. Steps for one text:

1. lower-case; ``nltk.word_tokenize``; ``WordNetLemmatizer().lemmatize`` every token
   (noun, the default part of speech);
2. merge two-token compounds left to right, greedily (``DOUBLE_WORDS``): every
   multi-word synonym maps to itself, plus "home plate"/"train track" (they swallow
   the tokens and are then dropped), "baby X"/"adult X" -> X for 12 animal words,
   "passenger jet"/"passenger train", "bow tie" -> tie, "toilet seat" -> toilet,
   "wine glas" -> wine glass;
3. if "toilet" and "seat" both occur anywhere, drop every "seat";
4. keep the words that are synonym forms, each occurrence a mention, mapped to its
   COCO class.

Quirks this keeps on purpose (documented in docs/object-halbench.md): "men" is a
WordNet lemma and so never a person; "stove top oven" (three words) can never
merge and counts as two oven mentions; "iPhone" can never match lower-cased text.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from halbench.nlp.tokenize import ChunkMap, T

#: Bump when the extraction logic changes: invalidates cached ground truth.
EXTRACTOR_VERSION = "rlhfv-chair-1"

_ANIMALS = (
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "animal",
    "cub",
)
_VEHICLES = ("jet", "train")


@dataclass(frozen=True)
class SynonymVocabulary:
    """COCO classes and their surface forms, read like the reference reads ``synonyms_refine.txt``.

    Each line is split on ", " and every piece is stripped; the first piece is the
    canonical class. ``forms`` holds every piece, ``canonical`` maps piece -> class
    (a later line wins on conflicts, as in the reference; the shipped file has none).
    """

    classes: tuple[str, ...]
    canonical: dict[str, str]
    sha256: str
    double_words: dict[str, str] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_text(cls, text: str) -> SynonymVocabulary:
        classes: list[str] = []
        canonical: dict[str, str] = {}
        # Universal newlines, as the reference's open(...).readlines() reads the file.
        for line in io.StringIO(text, newline=None).readlines():
            pieces = [p.strip() for p in line.strip().split(", ")]
            classes.append(pieces[0])
            for piece in pieces:
                canonical[piece] = pieces[0]
        sha = hashlib.sha256(text.encode()).hexdigest()
        return cls(tuple(classes), canonical, sha, _double_words(canonical))

    @classmethod
    def from_file(cls, path: str | Path) -> SynonymVocabulary:
        return cls.from_text(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def default(cls) -> SynonymVocabulary:
        """RLHF-V's ``synonyms_refine.txt`` (shipped; CC BY-NC 4.0, see this folder's README.md)."""
        ref = Path(__file__).resolve().parent / "data" / "synonyms_refine.txt"
        return cls.from_text(ref.read_text(encoding="utf-8"))


def _double_words(canonical: dict[str, str]) -> dict[str, str]:
    table: dict[str, str] = {}
    multi = [w for w in canonical if len(w.strip().split(" ")) >= 2]
    for word in [*multi, "home plate", "train track"]:
        table[word] = word
    for animal in _ANIMALS:
        table[f"baby {animal}"] = animal
        table[f"adult {animal}"] = animal
    for vehicle in _VEHICLES:
        table[f"passenger {vehicle}"] = vehicle
    table["bow tie"] = "tie"
    table["toilet seat"] = "toilet"
    table["wine glas"] = "wine glass"
    return table


class NltkLike(Protocol):
    """What the extractor needs from ``halbench.nlp.pipeline.NltkPipeline``."""

    def lemmatize(self, token: str) -> str: ...

    def map_chunks(self, text: str, cmap: ChunkMap[T]) -> list[T]: ...

    def fingerprint(self) -> str: ...


Mention = tuple[str, str]  # (matched word after lemmatisation/merging, COCO class)


class ObjectExtractor:
    """Finds COCO object mentions in text (the reference's ``caption_to_words``).

    Only the words that can matter are tracked: a lemma that is neither a synonym
    form nor part of a compound can never be merged, kept or trigger the
    toilet/seat rule, so runs of such words are reduced to one placeholder that
    still separates its neighbours (compounds need adjacent tokens).
    """

    def __init__(self, vocab: SynonymVocabulary, nlp: NltkLike) -> None:
        self.vocab = vocab
        self._nlp = nlp
        self._canonical = vocab.canonical
        self._double = vocab.double_words
        relevant = {w for w in vocab.canonical if " " not in w}
        for key in self._double:
            relevant.update(key.split(" "))
        self._relevant = frozenset(relevant)
        self._projected: ChunkMap[tuple[str | None, ...]] = ChunkMap(self._project)

    def fingerprint(self) -> str:
        parts = [EXTRACTOR_VERSION, self.vocab.sha256, self._nlp.fingerprint()]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def _project(self, tokens: tuple[str, ...]) -> tuple[str | None, ...]:
        out: list[str | None] = []
        for tok in tokens:
            lemma = self._nlp.lemmatize(tok)
            if lemma in self._relevant:
                out.append(lemma)
            elif not out or out[-1] is not None:
                out.append(None)
        return tuple(out)

    def words(self, text: str) -> list[str | None]:
        """Lemmas after compound merging; ``None`` stands for a run of irrelevant words."""
        lemmas: list[str | None] = []
        for proj in self._nlp.map_chunks(text.lower(), self._projected):
            for lemma in proj:
                if lemma is None and lemmas and lemmas[-1] is None:
                    continue
                lemmas.append(lemma)
        merged: list[str | None] = []
        double = self._double
        i, n = 0, len(lemmas)
        while i < n:
            word = lemmas[i]
            if word is not None and i + 1 < n and lemmas[i + 1] is not None:
                joined = double.get(f"{word} {lemmas[i + 1]}")
                if joined is not None:
                    merged.append(joined)
                    i += 2
                    continue
            merged.append(word)
            i += 1
        return merged

    def mentions(self, text: str) -> list[Mention]:
        """Ordered ``(word, coco_class)`` pairs, one per occurrence."""
        words = self.words(text)
        if "toilet" in words and "seat" in words:
            words = [w for w in words if w != "seat"]
        canonical = self._canonical
        return [(w, canonical[w]) for w in words if w is not None and w in canonical]

    def classes(self, texts: Iterable[str]) -> set[str]:
        """Union of the COCO classes mentioned in ``texts`` (ground truth from captions)."""
        found: set[str] = set()
        for text in texts:
            found.update(c for _, c in self.mentions(text))
        return found
