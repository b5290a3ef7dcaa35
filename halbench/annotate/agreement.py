"""Intervals and agreement statistics (pure functions, no I/O).

- ``wilson``: the Wilson score interval for a binomial proportion (95% by default);
- ``cohen_kappa``: two raters, binary labels on the same items;
- ``fleiss_kappa``: m >= 2 raters, every item rated by all m, binary labels;
- ``span_f1``: span-level overlap F1 between two annotators' spans on the same items.

A statistic that is undefined (no items; expected agreement of 1, i.e. every label is the
same class) is returned as ``None`` and reported as not computable, never as 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054  # the 0.975 quantile of the standard normal


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for k successes out of n (None when n is 0)."""
    if n <= 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    """Cohen's kappa of two raters' binary labels (same items, same order)."""
    if len(a) != len(b):
        raise ValueError("the two raters must label the same items")
    n = len(a)
    if n == 0:
        return None
    po = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    if pe >= 1.0:
        return None
    return (po - pe) / (1 - pe)


def fleiss_kappa(ratings: Sequence[Sequence[bool]]) -> float | None:
    """Fleiss' kappa: ``ratings[i]`` holds the m binary labels of item i (same m for all)."""
    if not ratings:
        return None
    m = len(ratings[0])
    if m < 2 or any(len(r) != m for r in ratings):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings per item")
    n = len(ratings)
    p_items = []
    yes_total = 0
    for r in ratings:
        yes = sum(r)
        no = m - yes
        yes_total += yes
        p_items.append((yes * yes + no * no - m) / (m * (m - 1)))
    p_bar = sum(p_items) / n
    p_yes = yes_total / (n * m)
    pe = p_yes * p_yes + (1 - p_yes) * (1 - p_yes)
    if pe >= 1.0:
        return None
    return (p_bar - pe) / (1 - pe)


Span = tuple[int, int, str]  # start, end (exclusive), type


def span_f1(
    a: Sequence[Sequence[Span]], b: Sequence[Sequence[Span]], *, same_type: bool = False
) -> dict[str, float | int | None]:
    """Overlap F1 of annotator A's spans against B's, item by item.

    A span of A counts as matched when it shares at least one character with a span of B
    on the same item (of the same type when ``same_type``); precision = matched A spans /
    A spans, recall = matched B spans / B spans, F1 = 2PR / (P + R). With no spans on
    either side F1 is None; with spans on one side only it is 0.
    """
    if len(a) != len(b):
        raise ValueError("the two annotators must cover the same items")

    def hit(s: Span, others: Sequence[Span]) -> bool:
        return any(s[0] < o[1] and o[0] < s[1] and (not same_type or s[2] == o[2]) for o in others)

    n_a = sum(len(x) for x in a)
    n_b = sum(len(x) for x in b)
    m_a = sum(1 for x, y in zip(a, b, strict=True) for s in x if hit(s, y))
    m_b = sum(1 for x, y in zip(a, b, strict=True) for s in y if hit(s, x))
    precision = m_a / n_a if n_a else None
    recall = m_b / n_b if n_b else None
    if n_a == 0 and n_b == 0:
        f1 = None
    elif not precision or not recall:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return {
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "spans_a": n_a,
        "spans_b": n_b,
        "matched_a": m_a,
        "matched_b": m_b,
    }
