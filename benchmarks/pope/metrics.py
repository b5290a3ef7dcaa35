"""POPE: yes/no answers about object presence (Li et al., EMNLP 2023).

``parse_reference`` is the reference script's parser (RUCAIBox/POPE ``evaluate.py``,
unchanged since 2023-05; LLaVA's ``eval_pope.py`` is the same): keep the text before the
first ".", delete every ",", split on single spaces, and answer "no" if a word is exactly
``No``, ``no`` or ``not`` — otherwise "yes" (so "NO", "Nope", "I don't see one" and the empty
answer all count as yes). Metrics treat "yes" as positive; the yes-ratio is computed from
the predictions.

``parse_strict`` (halbench's own, labelled "not reference-comparable"): an answer is
scored only if its leading word is an explicit yes or no; anything else is unscored and
counted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Mode = Literal["parity", "strict"]
_LEADING_MARKUP = "*_\"'`"
_LETTERS = re.compile(r"[a-z]*")


def parse_reference(answer: str) -> str:
    text = answer.split(".")[0] if "." in answer else answer
    words = text.replace(",", "").split(" ")
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


def parse_strict(answer: str) -> str | None:
    text = unicodedata.normalize("NFKC", answer).strip().lower()
    text = text.lstrip(_LEADING_MARKUP)
    if text.startswith("answer:"):
        text = text[len("answer:") :].strip().lstrip(_LEADING_MARKUP)
    word = _LETTERS.match(text).group(0)  # type: ignore[union-attr]
    return word if word in ("yes", "no") else None


def label_value(label: str) -> str:
    """The reference reads "no" as negative and any other label as positive."""
    return "no" if label == "no" else "yes"


@dataclass(frozen=True)
class PopeMetrics:
    counts: dict[str, int]
    metrics: dict[str, float | int | None]
    not_computable: dict[str, str]


def _ratio(num: int, den: int, name: str, why: dict[str, str]) -> float | None:
    if den == 0:
        why[name] = "denominator is 0"
        return None
    return num / den


def pope_metrics(parsed: Sequence[str | None], labels: Sequence[str]) -> PopeMetrics:
    """Confusion counts with "yes" positive over scored items (``None`` = unscored)."""
    tp = fp = tn = fn = yes = 0
    unscored = 0
    for pred, label in zip(parsed, labels, strict=True):
        if pred is None:
            unscored += 1
            continue
        gold = label_value(label)
        yes += pred == "yes"
        if pred == "yes":
            tp += gold == "yes"
            fp += gold == "no"
        else:
            tn += gold == "no"
            fn += gold == "yes"
    scored = tp + fp + tn + fn
    why: dict[str, str] = {}
    precision = _ratio(tp, tp + fp, "precision", why)
    recall = _ratio(tp, tp + fn, "recall", why)
    if precision is None or recall is None or precision + recall == 0:
        f1 = None
        why["f1"] = "precision or recall undefined, or both 0"
    else:
        f1 = 2 * precision * recall / (precision + recall)
    metrics: dict[str, float | int | None] = {
        "accuracy": _ratio(tp + tn, scored, "accuracy", why),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "yes_ratio": _ratio(yes, scored, "yes_ratio", why),
        "n_scored": scored,
        "n_unscored": unscored,
    }
    if unscored:
        metrics["accuracy_unscored_wrong"] = _ratio(
            tp + tn, scored + unscored, "accuracy_unscored_wrong", why
        )
    counts = {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "yes": yes,
        "scored": scored,
        "unscored": unscored,
    }
    return PopeMetrics(counts, metrics, why)
