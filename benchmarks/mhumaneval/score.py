"""MHumanEval is judged by people (the annotation app), not by a scorer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from halbench import scorers
from halbench.types import ResultRecord

REASON = (
    "MHumanEval is judged by people: halbench annotate serve --run RUN_DIR "
    "--benchmark mhumaneval, then halbench annotate report"
)


def score_run(ctx: scorers.ScoreContext) -> ResultRecord:
    """The answers are stored for annotation; every item is "not scored" with the next step."""
    return scorers.pending_record(ctx, REASON)


def item_statistic(items: list[dict[str, Any]], metric: str) -> Callable[[list[int]], float | None]:
    """A response-level rate (object, position, number, all) over a resample of responses."""
    flags = [
        set(it.get("types", [])) | ({"all"} if it.get("hallucinated_response") else set())
        for it in items
    ]
    return lambda idx: sum(1 for i in idx if metric in flags[i]) / len(idx)
