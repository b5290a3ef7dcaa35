"""What a record is comparable with: data version, protocol, completeness.

Every table column declares what may fill it. A benchmark's own table (one per
benchmark and protocol) takes that benchmark's records whose protocol signature matches;
a reported column (an entry file's column with ``accepts``) takes only complete records on
the official data whose benchmark, protocol and metric match. Benchmark knowledge lives in
``benchmarks/<name>/benchmark.toml``:

- ``[leaderboard] protocol = ["extractor", "judge_model"]``: the protocol keys that make
  runs comparable (default ``["mode", "judge_model"]``, those present); a ``judge_model``
  is compared by family (``gpt-4-0613`` and ``gpt-4-0314`` are ``gpt-4``);
- ``[leaderboard] items = N`` or ``[sources.official] items = N``: the items of a complete
  run on the official data (a run with fewer is partial: "30/300");
- ``[[leaderboard.columns]]`` (``metric``, dotted for nested metrics such as
  ``splits.random.f1``; ``label``; ``direction``; optional ``scale``): the table's columns,
  default every ``[[metrics]]`` row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from halbench.registry import Benchmark, UnknownBenchmark, get_benchmark, scorer_home, scorer_of
from halbench.types import ResultRecord

DEFAULT_PROTOCOL_KEYS = ("mode", "judge_model")


@dataclass(frozen=True)
class ColumnSpec:
    metric: str  # dotted path into record.metrics
    label: str
    direction: str
    scale: float = 100.0


@dataclass(frozen=True)
class Status:
    official: bool  # the benchmark's official data (not a seeded sample or a local variant)
    complete: bool  # every item of the official set scored, no --limit
    n_scored: int
    n_items: int  # the record's items
    n_expected: int | None  # the official set's size, when the benchmark declares it
    badge: str  # "" for a complete official run; "3/300", "sample", "2 unscored"


def family(model: str) -> str:
    """A judge model's family: its name without a trailing date or version number."""
    return re.sub(r"(-\d{4}(-\d{2}-\d{2})?|-\d{8}|@\d+)$", "", model.strip().lower())


def benchmark_of(record: ResultRecord) -> Benchmark | None:
    try:
        return get_benchmark(record.benchmark)
    except UnknownBenchmark:
        return None


def _spec(record: ResultRecord, key: str) -> Any:
    """``[leaderboard] key`` of the record's benchmark, else of its scorer's home."""
    for bench in (benchmark_of(record), scorer_home(scorer_of(record))):
        if bench is not None and key in bench.spec.get("leaderboard", {}):
            return bench.spec["leaderboard"][key]
    return None


def protocol_signature(record: ResultRecord) -> tuple[tuple[str, str], ...]:
    keys = _spec(record, "protocol") or DEFAULT_PROTOCOL_KEYS
    out = []
    for key in keys:
        value = record.protocol.get(key)
        if value is None:
            continue
        out.append((key, family(str(value)) if key == "judge_model" else str(value)))
    return tuple(out)


def expected_items(record: ResultRecord) -> int | None:
    n = _spec(record, "items")
    bench = benchmark_of(record)
    if n is None and bench is not None:
        n = bench.spec.get("sources", {}).get("official", {}).get("items")
    return int(n) if isinstance(n, int) else None


def status(record: ResultRecord) -> Status:
    bench = benchmark_of(record)
    official = bench is not None and record.benchmark_version == bench.version
    expected = expected_items(record)
    limit = (record.model or {}).get("limit")
    short = expected is not None and record.n_items < expected
    complete = official and not short and not limit and record.n_unscored == 0
    badge = ""
    if short or limit:
        badge = f"{record.n_scored}/{expected or record.n_items}"
    elif record.n_unscored:
        badge = f"{record.n_scored}/{record.n_items}"
    if not official:
        badge = "sample" if not badge else f"sample, {badge}"
    return Status(official, complete, record.n_scored, record.n_items, expected, badge)


def columns_for(record: ResultRecord) -> list[ColumnSpec]:
    """The columns of the record's benchmark table."""
    rows = _spec(record, "columns")
    if rows:
        return [
            ColumnSpec(r["metric"], r["label"], r["direction"], float(r.get("scale", 100.0)))
            for r in rows
        ]
    bench = benchmark_of(record)
    specs = bench.metrics if bench is not None and bench.metrics else []
    if not specs:
        home = scorer_home(scorer_of(record))
        specs = home.metrics if home is not None else []
    return [ColumnSpec(m.key, m.label, m.direction, m.scale) for m in specs]


def metric_value(record: ResultRecord, metric: str) -> float | None:
    """A metric by dotted path (``splits.random.f1``); None when absent or not a number."""
    value: Any = record.metrics
    if metric in record.metrics:
        value = record.metrics[metric]
    else:
        for part in metric.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def table_key(record: ResultRecord) -> str:
    sig = protocol_signature(record)
    return record.benchmark + "".join(f"|{k}={v}" for k, v in sig)


def table_title(record: ResultRecord) -> str:
    bench = benchmark_of(record)
    title = bench.title if bench is not None else record.benchmark
    sig = protocol_signature(record)
    return title + (f" ({', '.join(f'{k}: {v}' for k, v in sig)})" if sig else "")


def accepts(requirement: dict[str, Any], record: ResultRecord, st: Status) -> bool:
    """Whether a reported column's requirement admits the record (never a partial one)."""
    if record.benchmark != requirement.get("benchmark") or not st.complete:
        return False
    for key, wanted in (requirement.get("protocol") or {}).items():
        got = record.protocol.get(key)
        if got is None:
            return False
        if key == "judge_model":
            if family(str(got)) != family(str(wanted)):
                return False
        elif str(got) != str(wanted):
            return False
    return True
