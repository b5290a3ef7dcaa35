"""Classic CHAIR (Rohrbach et al., EMNLP 2018): pure protocol code, every quirk kept.

Reference: LisaAnne/Hallucination @ 6e4d33c4bedf6dfcd24c61bf527f40714717be47,
``utils/chair.py`` (class ``CHAIR``: ``caption_to_words``, ``get_annotations``,
``compute_chair``) with ``data/synonyms.txt``; Recall and Len as OPERA adds them
(shikiw/OPERA @ 61426efe4e2e53207f32d9112a86ba5f8364d1d9, ``chair.py``). The spec is
``docs/specs/scoring-chair.md`` of the shared project docs; ``oracle.py`` is the literal
procedure the tests compare with.

Extraction of one text (model captions and COCO reference captions alike):

1. ``text.lower()``, ``nltk.word_tokenize`` (``halbench.nlp``'s exact fast tokenizer);
2. every token through Pattern 3.6's ``singularize`` (``inflect.py``), *not* WordNet;
3. two-token "double words" merged left to right, a match consuming both tokens
   (``double_words()``), matched on singularized tokens;
4. if "toilet" and "seat" both remain, every "seat" is dropped;
5. the words that are synonym entries are kept, each occurrence a mention
   ``(word, class)``, the class being the first entry of the word's line.

Quirks kept on purpose:

* synonym lines are ``strip()``-ped and split on ``", "`` exactly, entries are *not*
  stripped: ``" motor bike"`` and ``" cheesecake"`` (written after two spaces) can never
  match, so "motorbike" counts but "motor bike" (merged, then unknown) and "cheesecake"
  do not;
* singularize's quirks: a singular "bus" becomes "bu" (not found; "buses" is), "glass"
  -> "glas", "tennis" -> "tenni" (so the "tennis racket" pair never matches and only
  "racket" is found), "doggies"/"collies" stay plural (not found), "men" -> "man";
* the double-word list is the reference's hand-written one (not every multi-word
  synonym): "dining table" is never merged (its "table" is found); "sports ball" never
  matches (its first token is "sport"); "stove top oven" has three words and never
  matches; "home plate" and "train track" map to themselves, are no synonym and so
  swallow their two tokens ("train track" hides a train);
* "wine glas" (the singularized pair) -> "wine glass"; "bow tie" -> "tie";
  "toilet seat" -> "toilet"; "baby/adult X" -> X for 12 animal words; "passenger
  jet/train" -> jet/train;
* CHAIR_S = hallucinated captions / *all* captions (captions without objects count);
  CHAIR_I = hallucinated mentions / all mentions (sums, not a mean of ratios);
* OPERA's Recall = sum over captions of |distinct classes correctly mentioned| / sum
  over captions of |GT classes| (an image captioned twice counts twice); OPERA's Len is
  the mean number of words *after* double-word merging (it stores 0.01 x that; we store
  the plain mean).

A zero denominator makes a metric ``None`` with a reason (the reference divides by zero).
No I/O here: callers read files and pass texts and sets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from halbench.nlp.tokenize import ChunkMap, T
from halbench.types import ratios

from .inflect import singularize_cached

#: Bump when the extraction changes: invalidates cached ground truth.
EXTRACTOR_VERSION = "chair-lisaanne-6e4d33c4-pattern36-1"

#: The reference's hand-written double words (duplicates in its list dropped).
COCO_DOUBLE_WORDS = (
    "motor bike",
    "motor cycle",
    "air plane",
    "traffic light",
    "street light",
    "traffic signal",
    "stop light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "suit case",
    "sports ball",
    "baseball bat",
    "baseball glove",
    "tennis racket",
    "wine glass",
    "hot dog",
    "cell phone",
    "mobile phone",
    "teddy bear",
    "hair drier",
    "potted plant",
    "bow tie",
    "laptop computer",
    "stove top oven",
    "home plate",
    "train track",
)
ANIMAL_WORDS = (
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
VEHICLE_WORDS = ("jet", "train")

Mention = tuple[str, str]  # (word after singularize/merging, COCO class)


def double_words() -> dict[str, str]:
    """Two-word key -> the word it stands for, built in the reference's order."""
    table = {w: w for w in COCO_DOUBLE_WORDS}
    for animal in ANIMAL_WORDS:
        table[f"baby {animal}"] = animal
        table[f"adult {animal}"] = animal
    for vehicle in VEHICLE_WORDS:
        table[f"passenger {vehicle}"] = vehicle
    table["bow tie"] = "tie"
    table["toilet seat"] = "toilet"
    table["wine glas"] = "wine glass"
    return table


@dataclass(frozen=True)
class ChairVocabulary:
    """The synonym file as the reference reads it: line ``strip()``, split on ``", "``."""

    classes: tuple[str, ...]  # first entry of each line, file order
    canonical: dict[str, str]  # entry -> class (a later line wins, as in the reference)
    sha256: str

    @classmethod
    def from_text(cls, text: str) -> ChairVocabulary:
        classes: list[str] = []
        canonical: dict[str, str] = {}
        for line in text.splitlines():
            entries = line.strip().split(", ")
            if entries[0] not in classes:
                classes.append(entries[0])
            for entry in entries:
                canonical[entry] = entries[0]
        return cls(tuple(classes), canonical, hashlib.sha256(text.encode()).hexdigest())

    @classmethod
    def from_file(cls, path: str | Path) -> ChairVocabulary:
        return cls.from_text(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def default(cls) -> ChairVocabulary:
        """LisaAnne/Hallucination's ``data/synonyms.txt`` (shipped in ``data/``; BSD-2-Clause)."""
        return cls.from_text(default_synonyms_text())


def default_synonyms_text() -> str:
    return resources.files(__package__).joinpath("data/synonyms.txt").read_text(encoding="utf-8")


class Tokenizer(Protocol):
    """What the extractor needs from ``halbench.nlp.pipeline.NltkPipeline``."""

    def map_chunks(self, text: str, cmap: ChunkMap[T]) -> list[T]: ...

    def fingerprint(self) -> str: ...


@dataclass(frozen=True)
class Extraction:
    mentions: list[Mention]
    n_words: int  # words after double-word merging (OPERA's Len counts these)


class ChairExtractor:
    """The reference's ``caption_to_words``, fast: per-chunk memo of singularized tokens.

    Only words that can matter are tracked: a singularized token that is neither a
    synonym entry nor part of a double word can never be merged, kept or trigger the
    toilet/seat rule, so a run of such tokens becomes one placeholder (``None``) that
    still separates its neighbours; token counts are kept for the word count.
    """

    def __init__(self, vocab: ChairVocabulary, nlp: Tokenizer) -> None:
        self.vocab = vocab
        self.nlp = nlp
        self._canonical = vocab.canonical
        self._double = double_words()
        relevant = {w for w in vocab.canonical if " " not in w}
        for key in self._double:
            relevant.update(key.split(" "))
        self._relevant = frozenset(relevant)
        self._chunks: ChunkMap[tuple[tuple[str | None, ...], int]] = ChunkMap(self._project)

    def fingerprint(self) -> str:
        parts = [EXTRACTOR_VERSION, self.vocab.sha256, self.nlp.fingerprint()]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def _project(self, tokens: tuple[str, ...]) -> tuple[tuple[str | None, ...], int]:
        out: list[str | None] = []
        for tok in tokens:
            word = singularize_cached(tok)
            if word in self._relevant:
                out.append(word)
            elif not out or out[-1] is not None:
                out.append(None)
        return tuple(out), len(tokens)

    def extract(self, text: str) -> Extraction:
        seq: list[str | None] = []
        n_tokens = 0
        for projected, count in self.nlp.map_chunks(text.lower(), self._chunks):
            n_tokens += count
            for word in projected:
                if word is None and seq and seq[-1] is None:
                    continue
                seq.append(word)
        merged: list[str | None] = []
        double = self._double
        i, n, pairs = 0, len(seq), 0
        while i < n:
            word = seq[i]
            if word is not None and i + 1 < n and seq[i + 1] is not None:
                joined = double.get(f"{word} {seq[i + 1]}")
                if joined is not None:
                    merged.append(joined)
                    pairs += 1
                    i += 2
                    continue
            merged.append(word)
            i += 1
        if "toilet" in merged and "seat" in merged:
            merged = [w for w in merged if w != "seat"]
        canonical = self._canonical
        found = [(w, canonical[w]) for w in merged if w is not None and w in canonical]
        return Extraction(found, n_tokens - pairs)

    def mentions(self, text: str) -> list[Mention]:
        """Ordered ``(word, class)`` pairs, one per occurrence."""
        return self.extract(text).mentions


def image_ground_truth(
    category_names: Iterable[str], captions: Iterable[str], extractor: ChairExtractor
) -> frozenset[str]:
    """One image's GT classes: instance categories through the synonym map, plus the classes
    the extractor finds in its reference captions. ``KeyError`` for an unknown category."""
    canonical = extractor.vocab.canonical
    found = {canonical[name] for name in category_names}
    for caption in captions:
        found.update(c for _, c in extractor.mentions(caption))
    return frozenset(found)


# --------------------------------------------------------------------------- scoring

#: metric -> (numerator count, denominator count); the record stores both.
FRACTIONS = {
    "CHAIRs": ("hallucinated_captions", "n_captions"),
    "CHAIRi": ("hallucinated_mentions", "n_mentions"),
    "recall": ("recalled_objects", "gt_objects"),
    "avg_len": ("words", "n_captions"),
}


@dataclass(frozen=True)
class CaptionScore:
    image_id: int
    mentions: list[Mention]
    hallucinated: list[Mention]
    gt_objects: list[str]  # sorted
    n_words: int

    @property
    def chair_s(self) -> int:
        return int(bool(self.hallucinated))

    @property
    def chair_i(self) -> float:
        return len(self.hallucinated) / len(self.mentions) if self.mentions else 0.0

    @property
    def recalled(self) -> set[str]:
        gt = set(self.gt_objects)
        return {c for _, c in self.mentions if c in gt}


@dataclass(frozen=True)
class ChairResult:
    items: list[CaptionScore]
    metrics: dict[str, float | int | None]
    counts: dict[str, int]
    not_computable: dict[str, str]


def score_caption(
    image_id: int, caption: str, gt: frozenset[str], extractor: ChairExtractor
) -> CaptionScore:
    ext = extractor.extract(caption)
    hallucinated = [m for m in ext.mentions if m[1] not in gt]
    return CaptionScore(image_id, ext.mentions, hallucinated, sorted(gt), ext.n_words)


def aggregate(items: Sequence[CaptionScore]) -> ChairResult:
    counts = {
        "n_captions": len(items),
        "n_captions_with_objects": sum(1 for it in items if it.mentions),
        "hallucinated_captions": sum(it.chair_s for it in items),
        "n_mentions": sum(len(it.mentions) for it in items),
        "hallucinated_mentions": sum(len(it.hallucinated) for it in items),
        "recalled_objects": sum(len(it.recalled) for it in items),
        "gt_objects": sum(len(it.gt_objects) for it in items),
        "words": sum(it.n_words for it in items),
    }
    values, not_computable = ratios(counts, FRACTIONS)
    metrics: dict[str, float | int | None] = dict(values)
    metrics["n_captions"] = counts["n_captions"]
    metrics["n_mentions"] = counts["n_mentions"]
    return ChairResult(list(items), metrics, counts, not_computable)


def score_captions(
    captions: Sequence[tuple[int, str]],
    ground_truth: Mapping[int, frozenset[str]],
    extractor: ChairExtractor,
) -> ChairResult:
    """Score ``(image_id, caption)`` pairs; every image id must be in ``ground_truth``."""
    return aggregate([score_caption(i, c, ground_truth[i], extractor) for i, c in captions])


def item_record(item: CaptionScore, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The output item: the input fields echoed, then the scorer's fields."""
    rec = dict(fields)
    rec["mentions"] = [list(m) for m in item.mentions]
    rec["hallucinated"] = [list(m) for m in item.hallucinated]
    rec["gt_objects"] = item.gt_objects
    rec["chair_s"] = item.chair_s
    rec["chair_i"] = item.chair_i
    rec["n_words"] = item.n_words
    return rec
