"""``OUT/leaderboard.csv`` and ``OUT/leaderboard.json``: every shown cell, one row each."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from halbench.leaderboard.data import Table

FIELDS = [
    "table",
    "model",
    "source",
    "column",
    "value",
    "benchmark",
    "benchmark_version",
    "protocol",
    "n_scored",
    "n_items",
    "partial",
    "badge",
    "unit",
    "ci_low",
    "ci_high",
    "fingerprint",
    "created_at",
    "citation",
    "record",
    "difference",
    "relative_change",
]


def cell_rows(tables: list[Table]) -> list[dict[str, Any]]:
    out = []
    for table in tables:
        labels = {c.key: c.label for c in table.columns}
        for row in table.rows:
            for col in table.columns:
                cell = row.cells.get(col.key)
                if cell is None or cell.value is None:
                    continue
                prov, rec = cell.provenance, cell.record
                out.append(
                    {
                        "table": table.title,
                        "model": row.model,
                        "source": cell.source,
                        "column": labels[col.key],
                        "value": cell.value,
                        "unit": cell.unit,
                        "ci_low": None if cell.ci is None else cell.ci[0],
                        "ci_high": None if cell.ci is None else cell.ci[1],
                        "benchmark": rec.benchmark if rec else "",
                        "benchmark_version": rec.benchmark_version if rec else "",
                        "protocol": prov.get("protocol", "as reported"),
                        "n_scored": rec.n_scored if rec else None,
                        "n_items": rec.n_items if rec else None,
                        "partial": cell.partial,
                        "badge": cell.badge,
                        "fingerprint": prov.get("fingerprint", ""),
                        "created_at": prov.get("date", ""),
                        "citation": prov.get("citation", ""),
                        "record": prov.get("record", ""),
                        "difference": cell.diff[0] if cell.diff else None,
                        "relative_change": cell.change,
                    }
                )
    return out


def _inert(value: Any) -> Any:
    """A string a spreadsheet would run as a formula gets a leading quote; None is empty."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _inert(v) for k, v in row.items()})
    return buf.getvalue()


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps({"fields": FIELDS, "cells": rows}, indent=1, ensure_ascii=False) + "\n"
