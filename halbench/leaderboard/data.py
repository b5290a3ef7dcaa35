"""Leaderboard data: reference entries (reported numbers) and result records, as table rows.

Every cell knows where its number came from: ``reported`` (a paper's table, with the
citation) or ``our run`` (a result record: protocol mode, scorer, judge or extractor,
date, unscored count, a 95% bootstrap interval over items where items allow it).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from halbench.errors import InputError
from halbench.leaderboard.identity import model_name
from halbench.registry import scorer_home, scorer_metrics, scorer_of
from halbench.types import ResultRecord

__all__ = ["model_name"]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Accepts(_M):
    """What may fill a reported column besides the paper's numbers: complete runs on the
    official data of ``benchmark`` whose protocol matches (``judge_model`` by family)."""

    benchmark: str
    metric: str  # dotted path into record.metrics
    protocol: dict[str, str] = {}
    scale: float = 100.0


class EntryColumn(_M):
    key: str
    label: str
    better: str  # "lower" | "higher"
    unit: str = "%"
    accepts: Accepts | None = None  # None: only reported numbers fill it


class EntryRow(_M):
    model: str
    values: dict[str, float]
    notes: dict[str, str] = {}


class EntrySource(_M):
    kind: str  # "reported" | "reproduced"
    citation: str
    url: str | None = None
    notes: str | None = None
    record: str | None = None  # link to the result record, for reproduced entries


class EntryFile(_M):
    schema_: str = ""
    id: str = ""  # the file's stem (set when loaded)
    table: str
    title: str
    source: EntrySource
    columns: list[EntryColumn]
    rows: list[EntryRow]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@dataclass
class Cell:
    value: float | None
    provenance: dict[str, Any]
    ci: tuple[float, float] | None = None
    note: str | None = None
    badge: str = ""  # "3/300", "sample": a partial run or unofficial data (never ranked)
    record: ResultRecord | None = None
    unit: str = "%"
    diff: tuple[float, tuple[float, float] | None] | None = None  # reproduced - reported
    change: float | None = None  # relative change against the base model: (this - base) / base

    @property
    def source(self) -> str:
        return str(self.provenance.get("source", ""))

    @property
    def partial(self) -> bool:
        return bool(self.badge)


OUTSIDE_NOTE = (
    "note: the number lies outside its bootstrap interval (the metric is not the mean the "
    "interval resamples, or it was edited); the error bar is clipped at the number"
)


def outside_interval(cell: Cell) -> bool:
    return bool(cell.ci and cell.value is not None and not cell.ci[0] <= cell.value <= cell.ci[1])


def error_bar(cell: Cell) -> tuple[float, float]:
    """(below, above) the value for an error bar: never negative, 0 without an interval."""
    if not cell.ci or cell.value is None:
        return 0.0, 0.0
    return max(0.0, cell.value - cell.ci[0]), max(0.0, cell.ci[1] - cell.value)


@dataclass
class Row:
    model: str
    kind: str  # "reported" | "our run" | "reproduced"
    cells: dict[str, Cell]
    page: str | None = None  # per-model page, for rows built from records
    records: list[ResultRecord] = field(default_factory=list)
    fingerprint: str = ""


@dataclass
class Table:
    name: str
    title: str
    columns: list[EntryColumn]
    rows: list[Row]
    kind: str = "reported"  # "reported": a paper's table; "benchmark": one benchmark+protocol
    note: str = ""


#: the papers' tables, shipped with the package
PACKAGED_ENTRIES = Path(__file__).resolve().parent / "entries"


def load_entries(directory: Path | None) -> list[EntryFile]:
    """The packaged entry files, and those in ``directory`` (same file name: the directory's)."""
    if directory is not None and not directory.is_dir():
        raise InputError(
            str(directory), "leaderboard entries directory not found (use --entries DIR)"
        )
    files = {p.name: p for p in PACKAGED_ENTRIES.glob("*.json")}
    if directory is not None:
        files.update({p.name: p for p in directory.glob("*.json")})
    out = []
    for path in (files[name] for name in sorted(files)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InputError(str(path), f"invalid JSON: {exc}") from None
        if isinstance(data, dict) and "schema" in data:
            data["schema_"] = data.pop("schema")
        try:
            entry = EntryFile.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InputError(
                str(path),
                f"not a leaderboard entry file: {'.'.join(map(str, err['loc']))}: {err['msg']}",
            ) from None
        entry.id = path.stem  # what a record's ``reproduces`` names: "rlhfv-table1:RLHF-V"
        out.append(entry)
    return out


def find_records(directories: list[Path]) -> list[tuple[Path, ResultRecord]]:
    """Every result record (``*.json`` that validates) under the directories."""
    found = []
    for directory in directories:
        if not directory.exists():
            raise InputError(str(directory), "runs directory not found")
        for path in sorted(directory.rglob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            if not isinstance(data, dict) or "benchmark" not in data or "provenance" not in data:
                continue
            found.append((path, ResultRecord.load(path)))
    return found


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "model"


def model_key(label: str) -> str:
    """A file name stem unique to a row label: its slug and a short hash of the full label.

    Slugs alone collide (``org/model v1`` and ``org/model:v1`` are both ``org-model-v1``).
    """
    digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:8]
    return f"{slug(label)}-{digest}"


def page_path(label: str) -> str:
    """The model page of a row, relative to the site root."""
    return f"models/{model_key(label)}.html"


def record_path(label: str, benchmark: str) -> str:
    """The copy of a row's record for one benchmark, relative to the site root."""
    return f"records/{model_key(label)}--{slug(benchmark)}.json"


def _item_statistic(
    record: ResultRecord, items: list[dict[str, Any]], metric: str
) -> Callable[[list[int]], float | None] | None:
    """The metric as a function of a resample of item indices: the scorer's own
    (``item_statistic`` in its ``score.py``), or a mean of per-item ``accuracy``."""
    home = scorer_home(scorer_of(record))
    own = getattr(home.module("score"), "item_statistic", None) if home else None
    if own is not None:
        return own(items, metric)
    if metric == "accuracy" and "accuracy" in items[0]:
        acc = [float(it["accuracy"]) for it in items]
        return lambda idx: sum(acc[i] for i in idx) / len(idx)
    return None


def bootstrap(
    record: ResultRecord, metric: str, n: int = 1000, seed: int = 0
) -> tuple[float, float] | None:
    """95% percentile bootstrap over items (resampling responses), for the metrics that allow it."""
    items = [it for it in record.items if "unscored" not in it]
    if len(items) < 2:
        return None
    stat = _item_statistic(record, items, metric)
    if stat is None:
        return None
    rnd = random.Random(seed)
    k = len(items)
    values = []
    for _ in range(n):
        v = stat([rnd.randrange(k) for _ in range(k)])
        if v is not None:
            values.append(v)
    if len(values) < n // 2:
        return None
    values.sort()
    return values[int(0.025 * (len(values) - 1))], values[int(0.975 * (len(values) - 1))]


def record_cells(
    record: ResultRecord, path: Path, link: str
) -> dict[str, tuple[EntryColumn, Cell]]:
    """The columns a record's metrics name in their benchmark's ``[[metrics]] columns``
    (what the metric is called on the leaderboard; which table shows it is ``tables.py``)."""
    out = {}
    filled = [(m, key) for m in scorer_metrics(scorer_of(record)) for key in m.columns]
    for spec, key in filled:
        metric, scale, better = spec.key, spec.scale, spec.direction
        label = spec.column_label or spec.label
        value = record.metrics.get(metric)
        if not isinstance(value, int | float) or isinstance(value, bool):
            value = None
        ci = bootstrap(record, metric)
        prov = {
            "source": "our run",
            "benchmark": f"{record.benchmark} ({record.benchmark_version})",
            "protocol": ", ".join(
                f"{k}={v}"
                for k, v in record.protocol.items()
                if isinstance(v, str | int | float | bool)
            ),
            "date": record.provenance.created_at,
            "unscored": f"{record.n_unscored} of {record.n_items}",
            "record": link,
        }
        if record.model:
            prov["model"] = f"{record.model.get('backend')}: {record.model.get('model')}"
        col = EntryColumn(key=key, label=label, better=better, unit="%" if scale == 100.0 else "")
        out[key] = (
            col,
            Cell(
                None if value is None else value * scale,
                prov,
                None if ci is None else (ci[0] * scale, ci[1] * scale),
                note=record.not_computable.get(metric),
            ),
        )
    return out
