"""The typed records halbench writes and reads.

``ResultRecord`` is the result of scoring one benchmark: metrics (fractions in
[0, 1], unrounded, each with its numerator and denominator), the per-item
details, the unscored items with reasons, and everything needed to reproduce it.
The leaderboard and later stages read records through ``ResultRecord.load``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from halbench.errors import InputError

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputFile(_Model):
    path: str
    sha256: str
    role: str


class Provenance(_Model):
    halbench_version: str
    git_revision: str | None = None
    git_dirty: bool | None = None
    python: str
    platform: str
    packages: dict[str, str] = Field(default_factory=dict)
    command: list[str] | None = None
    created_at: str  # UTC, ISO 8601
    duration_s: float
    inputs: list[InputFile] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


class Fraction(_Model):
    numerator: int | float
    denominator: int


def ratios(
    counts: dict[str, int], spec: dict[str, tuple[str, str]]
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Each ``name: (numerator, denominator)`` of ``spec`` as counts[num] / counts[den]; a zero
    denominator gives None and a reason (never 0)."""
    values: dict[str, float | None] = {}
    why: dict[str, str] = {}
    for name, (num, den) in spec.items():
        if counts[den] == 0:
            values[name] = None
            why[name] = f"{den} is 0"
        else:
            values[name] = counts[num] / counts[den]
    return values, why


def fractions_of(counts: dict[str, int], spec: dict[str, tuple[str, str]]) -> dict[str, Fraction]:
    """The record's ``fractions`` for the same ``spec``: numerator and denominator of each."""
    return {
        name: Fraction(numerator=counts[num], denominator=counts[den])
        for name, (num, den) in spec.items()
    }


#: reasons that mean something failed (generation, a judge call): running again may score the
#: item. Every other reason is the protocol's (an unknown image, "not judged" without a judge,
#: a judge reply the protocol cannot parse).
FAILURE_REASONS = ("generation failed", "judge call failed")


class UnscoredItem(_Model):
    index: int  # 0-based position in the input
    reason: str
    line: int | None = None
    #: "failed": unscored because generation or a judge call failed (``halbench run`` and
    #: ``halbench score`` exit with status 3); "protocol": unscored by the protocol. Taken
    #: from the reason when not given (``FAILURE_REASONS``), so older records read the same.
    kind: Literal["failed", "protocol"] = "protocol"

    @model_validator(mode="before")
    @classmethod
    def _kind_from_reason(cls, data: Any) -> Any:
        if isinstance(data, dict) and "kind" not in data:
            reason = data.get("reason")
            if isinstance(reason, str) and reason.startswith(FAILURE_REASONS):
                data = {**data, "kind": "failed"}
        return data


class ResultRecord(_Model):
    schema_version: int = SCHEMA_VERSION
    benchmark: str
    benchmark_version: str
    protocol: dict[str, Any]
    #: fractions in [0, 1] (unrounded) and counts; a benchmark may nest per-split or
    #: per-type groups (dicts) and a ``reported`` block with the reference's own rounding
    metrics: dict[str, Any]
    fractions: dict[str, Fraction] = Field(default_factory=dict)
    not_computable: dict[str, str] = Field(default_factory=dict)
    n_items: int
    n_scored: int
    n_unscored: int
    unscored: list[UnscoredItem] = Field(default_factory=list)
    items: list[dict[str, Any]]
    provenance: Provenance
    model: dict[str, Any] | None = None
    #: leaderboard links (docs/leaderboard.md): the reported entry this run reproduces
    #: ("ENTRYFILE:ROW", e.g. "rlhfv-table1:RLHF-V"), and the base / trained model it pairs with
    reproduces: str | None = None
    trained_from: str | None = None
    base_of: str | None = None

    def to_json(self) -> str:
        unset = {k for k in ("reproduces", "trained_from", "base_of") if getattr(self, k) is None}
        return self.model_dump_json(indent=1, exclude=unset) + "\n"

    @classmethod
    def load(cls, path: str | Path) -> ResultRecord:
        """Read a record, with a clear error naming the file and the bad field."""
        from pydantic import ValidationError

        from halbench.io import read_json

        data = read_json(path)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise InputError(
                str(path), f"not a halbench result record: {where}: {err['msg']}"
            ) from None
