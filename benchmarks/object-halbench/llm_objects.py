"""Object HalBench, LLM-assisted extraction (the paper's "GPT path", RLHF-V ``--use_gpt``).

Reference: RLHF-V ``eval/eval_gpt_obj_halbench.py`` @ 3d35a91 (``prompt_template``,
``parse_object_list``, ``get_gpt_resp``, ``get_pred_objs_match``, ``postagging``,
``caption_objects_to_coco_objects``). Per answer:

1. an answer of <= 3 whitespace-separated words is not sent: its object list is [];
2. otherwise one **system** message: the prompt with ``{question}`` then ``{answer}``
   replaced (plain string replacement); gpt-3.5-turbo-0613, temperature 0.2, top_p 1,
   max_tokens 512, no penalties;
3. parse: JSON-decode the reply; failing that, if it contains ``["``, JSON-decode its last
   line (after stripping); else a failure. halbench also requires a JSON *list* (the
   reference would iterate a dict's keys or a string's characters): anything else, and any
   failed call, makes the item **unscored** (the reference retries up to 100 times and then
   aborts the whole run);
4. each extracted string s: analyse ``"a " + s`` (spaCy ``en_core_web_trf`` in the
   reference); scan the lemmas with the compound table emitting only matched pairs; if any
   matched, keep those; else keep every maximal run of NN/NNS/NNP/NNPS tokens, lemmas joined
   by spaces; de-duplicate the answer's strings keeping the first occurrence;
5. toilet/seat rule, keep strings that are synonym forms, map to COCO classes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from benchmarks.object_halbench.objects import Mention, SynonymVocabulary

#: RLHF-V eval/eval_gpt_obj_halbench.py @ 3d35a91, ``prompt_template`` (also paper Table 7)
PROMPT = """You are an expert in image objects extraction according to a question answer pair. We asked an examiner to answer a question about a picture.

[Start of Question]

<image> {question}

[End of Question]

[Start of Examiner's Answer]

{answer}

[End of Examiner's Answer]


Assume that the answer is correct, please identify all visible objects that are directly shown in the image. Please following the instructions in below:

1. You should only mention objects that are explicitly mentioned in the examiner's answer.
2. You should only extract the object names without the attributes of the objects.
3. You should not include the properties of the object, like the color, material, etc. as part of the object name in your result.
4. Make your answer precise. Present the results in a JSON list format: [\"object_1\", ..., \"object_n\"].
5. You should return an empty JSON list () if no visible objects can be found.
"""  # noqa: E501
PROMPT_VERSION = "rlhfv-eval_gpt_obj_halbench@3d35a91"
PROMPT_SHA256 = hashlib.sha256(PROMPT.encode()).hexdigest()
PARAMS = {
    "temperature": 0.2,
    "top_p": 1,
    "max_tokens": 512,
    "presence_penalty": 0,
    "frequency_penalty": 0,
}
NOUN_TAGS = ("NNP", "NNPS", "NN", "NNS")


def is_short(answer: str) -> bool:
    """The reference skips the call for answers of at most 3 whitespace-separated words."""
    return len(answer.strip().split()) <= 3


def extraction_prompt(question: str, answer: str) -> str:
    return PROMPT.replace("{question}", question).replace("{answer}", answer)


def parse_object_list(content: str) -> list[str]:
    """The reference's parse, plus: the result must be a JSON list. Raises ValueError."""
    try:
        value = json.loads(content)
    except ValueError:
        if '["' not in content:
            raise ValueError('reply is not JSON and has no [" in it') from None
        try:
            value = json.loads(content.strip().split("\n")[-1])
        except ValueError:
            raise ValueError("reply's last line is not JSON") from None
    if not isinstance(value, list):
        raise ValueError(f"reply is JSON but not a list ({type(value).__name__})")
    return [str(x) for x in value]  # the reference formats each with f"a {x}"


class PhraseAnalyzer(Protocol):
    """Tokens of a short phrase as (lemma, Penn Treebank tag) pairs."""

    name: str

    def analyze(self, text: str) -> list[tuple[str, str]]: ...


def refine(
    objects: Iterable[str], analyzer: PhraseAnalyzer, double_words: dict[str, str]
) -> list[str]:
    """``get_pred_objs_match`` for one answer: compounds first, else noun runs; de-duplicated."""
    refined: list[str] = []
    for text in objects:
        tokens = analyzer.analyze(f"a {text}")
        lemmas = [lemma for lemma, _ in tokens]
        pairs, i = [], 0
        while i < len(lemmas):
            joined = " ".join(lemmas[i : i + 2])
            if joined in double_words:
                pairs.append(double_words[joined])
                i += 2
            else:
                i += 1
        if pairs:
            refined += pairs
            continue
        run: list[str] = []
        for lemma, tag in tokens:
            if tag in NOUN_TAGS:
                run.append(lemma)
            elif run:
                refined.append(" ".join(run).strip())
                run = []
        if run:
            refined.append(" ".join(run).strip())
    out: list[str] = []
    for r in refined:
        if r not in out:
            out.append(r)
    return out


def to_coco(words: Sequence[str], vocab: SynonymVocabulary) -> list[Mention]:
    """``caption_objects_to_coco_objects``: toilet/seat rule, keep synonym forms, map to class."""
    if "toilet" in words and "seat" in words:
        words = [w for w in words if w != "seat"]
    return [(w, vocab.canonical[w]) for w in words if w in vocab.canonical]


# --------------------------------------------------------------------------- analyzers


class SpacyAnalyzer:
    """A spaCy pipeline with a tagger (the reference: ``en_core_web_trf``)."""

    def __init__(self, model: str, loader: Callable[[str], Any] | None = None) -> None:
        if loader is None:
            try:
                import spacy
            except ImportError:
                raise ImportError("spaCy is not installed: pip install spacy") from None
            loader = spacy.load
            version = f"spacy {spacy.__version__}"
        else:
            version = "spacy (given loader)"
        self._nlp = loader(model)
        meta = getattr(self._nlp, "meta", {}) or {}
        self.name = f"spacy:{model} {meta.get('version', '?')} ({version})"
        self.parity = model == "en_core_web_trf"
        probe = self._nlp("a dog")
        if not any(getattr(t, "tag_", "") for t in probe):
            raise ValueError(
                f"spaCy pipeline {model!r} assigns no part-of-speech tags (it needs a tagger)"
            )

    def analyze(self, text: str) -> list[tuple[str, str]]:
        return [(t.lemma_, t.tag_) for t in self._nlp(text)]


#: closed-class words that WordNet also lists as nouns ("a" = vitamin A, "in" = inch, ...)
_FUNCTION_WORDS = frozenset(
    "a an the of in on at with and or for to from by into onto over under near next behind "
    "its his her their our my your this that these those some any each every it they he she".split()
)


class WordNetAnalyzer:
    """halbench's fallback where no spaCy tagger is installed (not the reference's tagger).

    NLTK tokens (as the synonym path tokenizes), the WordNet noun lemmatizer on every
    lower-cased token (spaCy lower-cases all but proper nouns), and a noun tag for a token whose lemma has a WordNet noun sense, is not a function word,
    and either has no adjective sense or is the phrase's last word (English noun phrases are
    head-final: "red car" -> car, but "orange" alone stays a noun).
    """

    name = "nltk-wordnet-fallback-1"
    parity = False

    def __init__(self, nlp: Any) -> None:
        from nltk.corpus import wordnet

        self._nlp = nlp
        self._wn = wordnet
        self._memo: dict[tuple[str, bool], bool] = {}

    def _is_noun(self, lemma: str, last: bool) -> bool:
        key = (lemma, last)
        hit = self._memo.get(key)
        if hit is None:
            low = lemma.lower()
            if low in _FUNCTION_WORDS or not self._wn.synsets(low, pos="n"):
                hit = False
            else:
                hit = last or not (self._wn.synsets(low, pos="a") or self._wn.synsets(low, pos="s"))
            self._memo[key] = hit
        return hit

    def analyze(self, text: str) -> list[tuple[str, str]]:
        tokens = self._nlp.tokenize(text)
        lemmas = [self._nlp.lemmatize(t.lower()) for t in tokens]  # spaCy lower-cases common nouns
        words = [i for i, t in enumerate(tokens) if any(c.isalnum() for c in t)]
        last = words[-1] if words else -1
        return [
            (lem, "NN" if self._is_noun(lem, i == last) else "X") for i, lem in enumerate(lemmas)
        ]


# --------------------------------------------------------------------------- agreement


def agreement(llm: Sequence[list[Mention]], synonym: Sequence[list[Mention]]) -> dict[str, Any]:
    """Per-item agreement of the two paths' mentioned COCO classes (same items, same order)."""
    n = len(llm)
    same = jacc_sum = 0.0
    both_empty = same_counts = 0
    for a, b in zip(llm, synonym, strict=True):
        sa, sb = {c for _, c in a}, {c for _, c in b}
        same += sa == sb
        same_counts += sorted(c for _, c in a) == sorted(c for _, c in b)
        if not sa and not sb:
            both_empty += 1
            jacc_sum += 1.0
        else:
            jacc_sum += len(sa & sb) / len(sa | sb)
    return {
        "n_items": n,
        "same_class_set": same / n if n else None,
        "same_class_set_count": int(same),
        "same_mentions": same_counts / n if n else None,  # same classes, each as often
        "same_mentions_count": same_counts,
        "mean_class_jaccard": jacc_sum / n if n else None,
        "both_empty": both_empty,
    }
