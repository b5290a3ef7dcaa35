"""VQAv2 accuracy, identical to the official evaluation (GT-Vision-Lab/VQA ``vqaEval.py``, 2021).

Per question (reference: commit a013f00, "Fixed processing answers bug"):

1. newlines and tabs become spaces, then strip — in the ten human answers and in the
   prediction;
2. **only if the human answers are not all identical**, the human answers and the
   prediction go through punctuation processing, then digit/article processing (so
   "Yes" against ten "yes" scores 0: a documented quirk of the 2021 version);
3. accuracy = mean over the human answers j of min(1, (# other answers equal to the
   prediction) / 3), leave-one-out by position.

Overall and per-type accuracies are means over questions in annotation order. The
official script reports them as percentages rounded to two decimals; records keep the
unrounded fractions and, under ``reported``, the official rounding.

``normalize="always"`` (documented alternative, not the official metric) normalises the
prediction and the human answers even when the humans agree, as some toolkits do.

The contractions table, number words, articles and punctuation set are data from the
official evaluation code (BSD-2-Clause, Copyright (c) 2014 Aishwarya Agrawal; see
``benchmarks/vqav2/data/VQA-GT-Vision-Lab-BSD-2-Clause.txt``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Normalize = Literal["official", "always"]

# fmt: off
CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't", "hed": "he'd", "hed've": "he'd've",
    "he'dve": "he'd've", "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've",
    "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll", "let's": "let's",
    "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've", "oclock": "o'clock", "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd", "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've", "somebodyll": "somebody'll",
    "somebodys": "somebody's", "someoned": "someone'd", "someoned've": "someone'd've", "someone'dve": "someone'd've",
    "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's", "thered": "there'd", "thered've": "there'd've",
    "there'dve": "there'd've", "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've", "twas": "'twas", "wasnt": "wasn't",
    "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's", "whereve": "where've",
    "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll",
    "whyre": "why're", "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll", "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've",
    "youll": "you'll", "youre": "you're", "youve": "you've",
}
NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
ARTICLES = frozenset({"a", "an", "the"})
PUNCTUATION = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
# fmt: on
_DIGIT_COMMA_DIGIT = re.compile(r"(\d)(,)(\d)")
#: The official pattern "(?!<=\d)(\.)(?!\d)": the intended look-behind is written as a
#: look-ahead and has no effect, so this deletes every "." not followed by a digit. The
#: official call passes re.UNICODE (32) as the *count*: at most 32 periods go.
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_PERIOD_COUNT = 32


def process_punctuation(text: str) -> str:
    out = text
    strip_all = _DIGIT_COMMA_DIGIT.search(text) is not None
    for p in PUNCTUATION:
        if strip_all or (p + " " in text or " " + p in text):
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD.sub("", out, _PERIOD_COUNT)


def process_digit_article(text: str) -> str:
    words = []
    for word in text.lower().split():
        word = NUMBER_WORDS.get(word, word)
        if word not in ARTICLES:
            words.append(CONTRACTIONS.get(word, word))
    return " ".join(words)


def _clean(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


@dataclass(frozen=True)
class VqaQuestion:
    question_id: int
    answers: tuple[str, ...]  # the human answers, in file order
    answer_type: str
    question_type: str


@dataclass(frozen=True)
class VqaItem:
    question_id: int
    accuracy: float
    prediction: str  # as compared (normalised when normalisation applied)
    normalized: bool


class VqaScorer:
    """Scores predictions; memoises normalisation (answers repeat a lot: "yes", "2", ...)."""

    def __init__(self, normalize: Normalize = "official") -> None:
        self.normalize = normalize
        self._norm: dict[str, str] = {}

    def _normalized(self, text: str) -> str:
        got = self._norm.get(text)
        if got is None:
            got = self._norm[text] = process_digit_article(process_punctuation(text))
        return got

    def score_one(self, q: VqaQuestion, prediction: str) -> VqaItem:
        gts = [_clean(a) for a in q.answers]
        pred = _clean(prediction)
        normalize = self.normalize == "always" or len(set(gts)) > 1
        if normalize:
            gts = [self._normalized(a) for a in gts]
            pred = self._normalized(pred)
        k = sum(1 for a in gts if a == pred)
        eq = min(1, (k - 1) / 3)  # a position holding the prediction: the other k-1 match
        ne = min(1, k / 3)
        total = 0.0
        for a in gts:  # summed in the official order for bit-identical floats
            total += eq if a == pred else ne
        return VqaItem(q.question_id, total / len(gts), pred, normalize)


@dataclass(frozen=True)
class VqaScore:
    items: list[VqaItem]
    accuracy: float | None
    per_answer_type: dict[str, float]
    per_question_type: dict[str, float]
    counts: dict[str, int]
    reported: dict[str, object]


def _mean(values: Sequence[float]) -> float:
    return float(sum(values)) / len(values)


def _official_round(values: Sequence[float]) -> float:
    return round(100 * float(sum(values)) / len(values), 2)


def score_vqa(
    questions: Sequence[VqaQuestion],
    predictions: Mapping[int, str],
    normalize: Normalize = "official",
) -> VqaScore:
    """Score every question that has a prediction, in the given (annotation) order."""
    scorer = VqaScorer(normalize)
    items: list[VqaItem] = []
    by_answer: dict[str, list[float]] = {}
    by_question: dict[str, list[float]] = {}
    for q in questions:
        if q.question_id not in predictions:
            continue
        item = scorer.score_one(q, predictions[q.question_id])
        items.append(item)
        by_answer.setdefault(q.answer_type, []).append(item.accuracy)
        by_question.setdefault(q.question_type, []).append(item.accuracy)
    accs = [it.accuracy for it in items]
    reported: dict[str, object] = {}
    if accs:
        reported = {
            "overall": _official_round(accs),
            "perAnswerType": {k: _official_round(v) for k, v in by_answer.items()},
            "perQuestionType": {k: _official_round(v) for k, v in by_question.items()},
        }
    return VqaScore(
        items=items,
        accuracy=_mean(accs) if accs else None,
        per_answer_type={k: _mean(v) for k, v in by_answer.items()},
        per_question_type={k: _mean(v) for k, v in by_question.items()},
        counts={"n_questions": len(items)},
        reported=reported,
    )
