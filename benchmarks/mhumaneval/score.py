"""MHumanEval is judged by people (the annotation app), not by a scorer."""

from __future__ import annotations

from halbench import scorers
from halbench.types import ResultRecord

REASON = (
    "MHumanEval is judged by people: halbench annotate serve --run RUN_DIR "
    "--benchmark mhumaneval, then halbench annotate report"
)


def score_run(ctx: scorers.ScoreContext) -> ResultRecord:
    """The answers are stored for annotation; every item is "not scored" with the next step."""
    return scorers.pending_record(ctx, REASON)
