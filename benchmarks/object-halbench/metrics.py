"""CHAIR metrics for Object HalBench, with RLHF-V's exact counters and denominators.

Reference: RLHF-V ``eval/eval_gpt_obj_halbench.py``, ``CHAIR.compute_chair`` (non-GPT
path). Per response r with ground-truth class set G and mention list M (ordered,
repeats kept):

* hallucinated mentions H_r = mentions whose class is not in G;
* r is hallucinated when H_r is non-empty;
* covered classes C_r = the *set* of classes of correct mentions;
* words(r) = pieces of the answer split on a single space (the reference's
  ``avg_word_len``; newlines do not split, an empty answer counts 1).

Over all N responses: CHAIRs = hallucinated responses / N; CHAIRs_refine =
hallucinated responses / responses with at least one mention (the paper's
"response-level" rate); CHAIRi = sum |H_r| / sum |M| (the paper's "mention-level"
rate); coverage = sum |C_r| / sum |G| (the reference's ``obj_rec``; G is counted once
per response, so an image answered twice counts twice); avg_words = sum words / N.

A zero denominator makes the metric ``None`` with a reason (the reference crashes).
This module is pure: no I/O, no global state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.object_halbench.objects import Mention
from halbench.types import ratios

#: metric -> (numerator count, denominator count); the record stores both.
FRACTIONS = {
    "CHAIRs": ("hallucinated_responses", "n_responses"),
    "CHAIRs_refine": ("hallucinated_responses", "n_responses_with_objects"),
    "CHAIRi": ("hallucinated_mentions", "n_mentions"),
    "coverage": ("covered_classes", "gt_classes"),
    "avg_words": ("words", "n_responses"),
}


@dataclass(frozen=True)
class ChairItem:
    image_id: int
    mentions: list[Mention]
    hallucinated: list[Mention]
    gt_objects: list[str]  # sorted
    n_words: int

    @property
    def covered(self) -> set[str]:
        gt = set(self.gt_objects)
        return {c for _, c in self.mentions if c in gt}


@dataclass(frozen=True)
class ChairScore:
    items: list[ChairItem]
    metrics: dict[str, float | int | None]
    counts: dict[str, int]
    not_computable: dict[str, str]


def score_item(
    image_id: int, answer: str, gt: frozenset[str], mentions: Callable[[str], list[Mention]]
) -> ChairItem:
    found = mentions(answer)
    hallucinated = [m for m in found if m[1] not in gt]
    return ChairItem(image_id, found, hallucinated, sorted(gt), len(answer.strip().split(" ")))


def aggregate(items: Sequence[ChairItem]) -> ChairScore:
    counts = {
        "n_responses": len(items),
        "n_responses_with_objects": sum(1 for it in items if it.mentions),
        "hallucinated_responses": sum(1 for it in items if it.hallucinated),
        "n_mentions": sum(len(it.mentions) for it in items),
        "hallucinated_mentions": sum(len(it.hallucinated) for it in items),
        "covered_classes": sum(len(it.covered) for it in items),
        "gt_classes": sum(len(it.gt_objects) for it in items),
        "words": sum(it.n_words for it in items),
    }
    values, not_computable = ratios(counts, FRACTIONS)
    metrics: dict[str, float | int | None] = dict(values)
    metrics["n_responses"] = counts["n_responses"]
    metrics["n_responses_with_objects"] = counts["n_responses_with_objects"]
    return ChairScore(list(items), metrics, counts, not_computable)


def score_chair(
    answers: Sequence[tuple[int, str]],
    ground_truth: Mapping[int, frozenset[str]],
    mentions: Callable[[str], list[Mention]],
) -> ChairScore:
    """Score ``(image_id, answer)`` pairs; every image id must be in ``ground_truth``."""
    return aggregate([score_item(i, a, ground_truth[i], mentions) for i, a in answers])


def item_record(item: ChairItem, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The output item: the input fields echoed, then the scorer's fields."""
    rec = dict(fields)
    rec["mentions"] = [list(m) for m in item.mentions]
    rec["hallucinated"] = [list(m) for m in item.hallucinated]
    rec["gt_objects"] = item.gt_objects
    return rec
