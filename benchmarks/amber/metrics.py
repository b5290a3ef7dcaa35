"""AMBER (Wang et al., arXiv 2311.07397): discriminative yes/no questions and generative CHAIR.

Reference: junyangwang0410/AMBER ``inference.py`` (commit 5e1fd52). Parity details kept:

* items are looked up by position ``id - 1`` in the annotations; duplicates count twice;
* discriminative answers count only when exactly ``Yes`` / ``No`` (case-sensitive); "No" is
  the positive class; every denominator starts at 0.001 and is incremented one item at a
  time (the same float sums as the reference); percentages are rounded to one decimal
  before F1 = 2pr/(p + r + eps), eps = 0.0001 (0.001 for existence);
* generative: nouns (tag NN*) lemmatised, kept when in the object vocabulary; global safe
  words skipped; exact safe match first; then exact and similarity matches against the
  hallucination list (marking, not deciding); then similarity against the safe list;
  otherwise a hallucinated mention. Similarity comes from a pluggable backend.

This module is pure: the tagger, lemmatizer and similarity are passed in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["parity", "strict"]

GROUPS = ("state", "number", "action", "existence", "relation")
_TYPE_GROUP = {
    "discriminative-attribute-state": "state",
    "discriminative-attribute-number": "number",
    "discriminative-attribute-action": "action",
    "discriminative-hallucination": "existence",
}
_LETTERS = re.compile(r"[a-z]*")


def group_of(annotation_type: str) -> str:
    """Everything the reference does not recognise is counted as relation."""
    return _TYPE_GROUP.get(annotation_type, "relation")


def parse_strict(answer: str) -> str | None:
    """POPE's strict parser: leading explicit yes/no, else unscored (None)."""
    text = unicodedata.normalize("NFKC", answer).strip().lower().lstrip("*_\"'`")
    if text.startswith("answer:"):
        text = text[len("answer:") :].strip().lstrip("*_\"'`")
    word = _LETTERS.match(text).group(0)  # type: ignore[union-attr]
    return word if word in ("yes", "no") else None


# --------------------------------------------------------------------------- discriminative


@dataclass
class _Counter:
    """One group's counters, started like the reference's metrics.txt (denominators 0.001)."""

    correct: int = 0
    n: float = 0.001
    no_correct: int = 0  # truth no, answered No (recall numerator)
    n_truth_no: float = 0.001
    ans_no_correct: int = 0  # answered No, truth no (precision numerator)
    n_answer_no: float = 0.001
    exact: dict[str, int] = field(
        default_factory=lambda: {"n": 0, "n_truth_no": 0, "n_answer_no": 0}
    )

    def add(self, truth: str, response: str) -> None:
        self.n += 1
        self.exact["n"] += 1
        if truth == "yes":
            if response == "Yes":
                self.correct += 1
        else:
            self.n_truth_no += 1
            self.exact["n_truth_no"] += 1
            if response == "No":
                self.correct += 1
                self.no_correct += 1
        if response == "No":
            self.n_answer_no += 1
            self.exact["n_answer_no"] += 1
            if truth == "no":
                self.ans_no_correct += 1


def _reported(
    correct: float,
    n: float,
    prec_num: float,
    prec_den: float,
    rec_num: float,
    rec_den: float,
    eps: float,
) -> dict[str, float]:
    accuracy = round(correct / n * 100, 1)
    precision = round(prec_num / prec_den * 100, 1)
    recall = round(rec_num / rec_den * 100, 1)
    f1 = round(
        2 * (precision / 100) * (recall / 100) / ((precision / 100) + (recall / 100) + eps) * 100, 1
    )
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1}


def _fractions(
    correct: int, n: int, p_num: int, p_den: int, r_num: int, r_den: int
) -> dict[str, float | None]:
    """Unrounded accuracy, precision, recall, F1 ("No" positive); ``None`` where undefined."""
    accuracy = correct / n if n else None
    precision = p_num / p_den if p_den else None
    recall = r_num / r_den if r_den else None
    f1 = None
    if precision is not None and recall is not None and precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1, "n": n}


@dataclass(frozen=True)
class DiscriminativeResult:
    fractions: dict[str, dict[str, float | None]]  # group -> unrounded metrics ("No" positive)
    reported: dict[str, dict[str, float]]  # parity: the reference's printout, per group
    counts: dict[str, dict[str, int]]


def score_discriminative(
    items: Sequence[tuple[str, str, str]], mode: Mode = "parity"
) -> DiscriminativeResult:
    """``items``: (annotation type, truth "yes"/"no", response) in file order."""
    groups = {g: _Counter() for g in GROUPS}
    overall = _Counter()
    strict_counts: dict[str, dict[str, int]] = {
        g: {"tp": 0, "fp": 0, "tn": 0, "fn": 0, "unscored": 0} for g in (*GROUPS, "overall")
    }
    for ann_type, truth, response in items:
        g = group_of(ann_type)
        if mode == "parity":
            overall.add(truth, response)
            groups[g].add(truth, response)
        else:
            parsed = parse_strict(response)
            for key in (g, "overall"):
                c = strict_counts[key]
                if parsed is None:
                    c["unscored"] += 1
                elif parsed == "no":
                    c["tp" if truth == "no" else "fp"] += 1
                else:
                    c["fn" if truth == "no" else "tn"] += 1
    if mode == "strict":
        strict_counts["attribute"] = {
            key: sum(strict_counts[g][key] for g in ("state", "number", "action"))
            for key in strict_counts["state"]
        }
        fr = {}
        for key, c in strict_counts.items():
            scored = c["tp"] + c["fp"] + c["tn"] + c["fn"]
            fr[key] = _fractions(
                c["tp"] + c["tn"], scored, c["tp"], c["tp"] + c["fp"], c["tp"], c["tp"] + c["fn"]
            )
            fr[key]["n_unscored"] = c["unscored"]
        return DiscriminativeResult(fr, {}, strict_counts)

    reported = {
        "overall": _reported(
            overall.correct,
            overall.n,
            overall.ans_no_correct,
            overall.n_answer_no,
            overall.no_correct,
            overall.n_truth_no,
            0.0001,
        )
    }
    reported["existence"] = _reported(*_args(groups["existence"]), 0.001)
    s, nm, a = groups["state"], groups["number"], groups["action"]
    reported["attribute"] = _reported(
        s.correct + nm.correct + a.correct,
        s.n + nm.n + a.n,
        s.ans_no_correct + nm.ans_no_correct + a.ans_no_correct,
        s.n_answer_no + nm.n_answer_no + a.n_answer_no,
        s.no_correct + nm.no_correct + a.no_correct,
        s.n_truth_no + nm.n_truth_no + a.n_truth_no,
        0.0001,
    )
    for g in ("state", "number", "action", "relation"):
        reported[g] = _reported(*_args(groups[g]), 0.0001)
    fractions = {"overall": _exact(overall)}
    for g in GROUPS:
        fractions[g] = _exact(groups[g])
    fractions["attribute"] = _exact_sum([s, nm, a])
    counts = {
        g: {
            "correct": c.correct,
            "no_correct": c.no_correct,
            "ans_no_correct": c.ans_no_correct,
            **c.exact,
        }
        for g, c in (("overall", overall), *groups.items())
    }
    return DiscriminativeResult(fractions, reported, counts)


def _args(c: _Counter) -> tuple[float, float, float, float, float, float]:
    return (c.correct, c.n, c.ans_no_correct, c.n_answer_no, c.no_correct, c.n_truth_no)


def _exact(c: _Counter) -> dict[str, float | None]:
    e = c.exact
    return _fractions(
        c.correct, e["n"], c.ans_no_correct, e["n_answer_no"], c.no_correct, e["n_truth_no"]
    )


def _exact_sum(cs: list[_Counter]) -> dict[str, float | None]:
    return _fractions(
        sum(c.correct for c in cs),
        sum(c.exact["n"] for c in cs),
        sum(c.ans_no_correct for c in cs),
        sum(c.exact["n_answer_no"] for c in cs),
        sum(c.no_correct for c in cs),
        sum(c.exact["n_truth_no"] for c in cs),
    )


# --------------------------------------------------------------------------- generative

Similarity = Callable[[str, str], float]


@dataclass(frozen=True)
class GenerativeItem:
    mentions: list[str]
    hallucinated: list[str]
    covered_truth: list[str]
    covered_hallu: list[str]


def score_generative_item(
    nouns: Sequence[str],
    truth: Sequence[str],
    hallu: Sequence[str],
    association: Mapping[str, Sequence[str]],
    vocabulary: frozenset[str],
    safe_words: frozenset[str],
    similarity: Similarity,
    threshold: float,
) -> tuple[GenerativeItem, list[int], list[int], list[int]]:
    """One response. Returns the item and the reference's flag lists (mention, safe tail, hallu tail)."""
    mentions = [n for n in nouns if n in vocabulary]
    safe_words_list: list[str] = []
    safe_list: list[int] = []
    for idx, word in enumerate(truth):
        safe_words_list += association[word]
        safe_list += [idx] * len(association[word])
    ha_words: list[str] = []
    ha_list: list[int] = []
    for idx, word in enumerate(hallu):
        ha_words += association[word]
        ha_list += [idx] * len(association[word])
    safe_words_list += list(truth)
    safe_len = len(truth)
    safe_list += [0] * safe_len
    ha_words += list(hallu)
    ha_len = len(hallu)
    ha_list += [0] * ha_len
    flags = [0] * len(mentions)

    def mark(lst: list[int], tail: int, j: int) -> None:
        if j < len(lst) - tail:
            lst[lst[j] + len(lst) - tail] = 1
        else:
            lst[j] = 1

    for idx, noun in enumerate(mentions):
        if noun in safe_words:
            continue
        if noun in safe_words_list:
            mark(safe_list, safe_len, safe_words_list.index(noun))
            continue
        if noun in ha_words:
            mark(ha_list, ha_len, ha_words.index(noun))
        for j, word in enumerate(ha_words):
            if similarity(noun, word) > threshold:
                mark(ha_list, ha_len, j)
                break
        found = False
        for j, word in enumerate(safe_words_list):
            if similarity(noun, word) > threshold:
                found = True
                mark(safe_list, safe_len, j)
                break
        if found:
            continue
        flags[idx] = 1
    safe_tail = safe_list[-safe_len:]
    ha_tail = ha_list[-ha_len:]
    item = GenerativeItem(
        mentions=mentions,
        hallucinated=[m for m, f in zip(mentions, flags, strict=True) if f],
        covered_truth=[w for w, f in zip(truth, safe_tail, strict=False) if f] if safe_len else [],
        covered_hallu=[w for w, f in zip(hallu, ha_tail, strict=False) if f] if ha_len else [],
    )
    return item, flags, safe_tail, ha_tail


@dataclass
class GenerativeTotals:
    """The reference's generative counters (denominators start at 0.001, summed in order)."""

    chair_score: int = 0
    chair_num: float = 0.001
    safe_cover_score: int = 0
    safe_cover_num: float = 0.001
    hallu_cover_score: int = 0
    hallu_cover_num: float = 0.001
    non_hallu_score: int = 0
    non_hallu_num: float = 0.001
    exact: dict[str, int] = field(
        default_factory=lambda: {"mentions": 0, "truth": 0, "hallu": 0, "responses": 0}
    )

    def add(self, flags: list[int], safe_tail: list[int], ha_tail: list[int]) -> None:
        self.chair_score += sum(flags)
        self.chair_num += len(flags)
        self.safe_cover_score += sum(safe_tail)
        self.safe_cover_num += len(safe_tail)
        self.hallu_cover_score += sum(ha_tail)
        self.hallu_cover_num += len(ha_tail)
        if sum(flags) == 0:
            self.non_hallu_score += 1
        self.non_hallu_num += 1
        self.exact["mentions"] += len(flags)
        self.exact["truth"] += len(safe_tail)
        self.exact["hallu"] += len(ha_tail)
        self.exact["responses"] += 1

    def reported(self) -> dict[str, float]:
        return {
            "CHAIR": round(self.chair_score / self.chair_num * 100, 1),
            "Cover": round(self.safe_cover_score / self.safe_cover_num * 100, 1),
            "Hal": round(100 - self.non_hallu_score / self.non_hallu_num * 100, 1),
            "Cog": round(self.hallu_cover_score / self.hallu_cover_num * 100, 1),
        }

    def fractions(self) -> dict[str, float | None]:
        e = self.exact

        def div(a: int, b: int) -> float | None:
            return a / b if b else None

        return {
            "CHAIR": div(self.chair_score, e["mentions"]),
            "Cover": div(self.safe_cover_score, e["truth"]),
            "Hal": div(e["responses"] - self.non_hallu_score, e["responses"]),
            "Cog": div(self.hallu_cover_score, e["hallu"]),
        }


def amber_score(chair_reported: float, f1_reported: float) -> float:
    """The paper's AMBER score from the reference-rounded CHAIR and overall F1 (percent)."""
    return (100 - chair_reported + f1_reported) / 2
