"""Corrected segments of a (rejected, chosen) pair from their token ids.

Reproduces the released RLHF-V/Muffin rule: ``difflib.SequenceMatcher(None, rejected,
chosen)`` (``autojunk`` at its default), matching blocks shorter than ``min_match`` tokens
dropped, and a gap between consecutive kept blocks counted as a correction only when it is
non-empty on both sides (a substitution). Pure insertions and deletions are therefore NOT
up-weighted (a quirk of the code, not in the paper); ``edit_policy="all_edits"`` weights
one-sided gaps too. Pure standard library: no torch.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Literal

EditPolicy = Literal["substitutions", "all_edits"]


def corrected_positions(
    rejected: Sequence[int],
    chosen: Sequence[int],
    *,
    min_match: int = 3,
    autojunk: bool = True,
    edit_policy: EditPolicy = "substitutions",
) -> tuple[list[int], list[int]]:
    """Indices of corrected tokens in ``rejected`` and in ``chosen`` (sorted, 0-based)."""
    if edit_policy not in ("substitutions", "all_edits"):
        raise ValueError(f"edit_policy must be 'substitutions' or 'all_edits', got {edit_policy!r}")
    matcher = difflib.SequenceMatcher(None, list(rejected), list(chosen), autojunk=autojunk)
    blocks = matcher.get_matching_blocks()  # the last one is the (len_a, len_b, 0) sentinel
    kept = [b for b in blocks[:-1] if b.size >= min_match] + [blocks[-1]]
    rej: list[int] = []
    cho: list[int] = []
    i = j = 0
    for block in kept:
        gap_r, gap_c = block.a - i, block.b - j
        both = gap_r > 0 and gap_c > 0
        if both or (edit_policy == "all_edits" and (gap_r > 0 or gap_c > 0)):
            rej.extend(range(i, block.a))
            cho.extend(range(j, block.b))
        i, j = block.a + block.size, block.b + block.size
    return rej, cho


def segment_weights(
    rejected: Sequence[int],
    chosen: Sequence[int],
    gamma: float,
    *,
    min_match: int = 3,
    autojunk: bool = True,
    edit_policy: EditPolicy = "substitutions",
) -> tuple[list[float], list[float]]:
    """Per-token weights (gamma on corrected tokens, 1 elsewhere) for rejected and chosen."""
    rej_pos, cho_pos = corrected_positions(
        rejected, chosen, min_match=min_match, autojunk=autojunk, edit_policy=edit_policy
    )
    w_rej = [1.0] * len(rejected)
    w_cho = [1.0] * len(chosen)
    for k in rej_pos:
        w_rej[k] = float(gamma)
    for k in cho_pos:
        w_cho[k] = float(gamma)
    return w_rej, w_cho
