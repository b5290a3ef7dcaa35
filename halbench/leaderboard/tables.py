"""Entries and result records -> the leaderboard's tables.

- One table per reported entry table (the papers' Table 1 and 3): the reported rows, then
  our runs only in columns whose ``accepts`` they match (benchmark, official data, protocol,
  complete), and reproduced rows (``record.reproduces``) right under the row they reproduce,
  with the difference.
- One table per benchmark and protocol (``compare.table_key``), columns from the benchmark's
  ``[leaderboard] columns`` or ``[[metrics]]``; partial runs and unofficial data carry a badge.
- A row is a model identity (display name + fingerprint, ``identity.py``). For one model and
  table, the newest complete record (by ``created_at``) fills the cells, whatever the order
  of the inputs; with no complete record, the newest partial one (badged). ``all_runs``:
  one row per record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from halbench.leaderboard import compare
from halbench.leaderboard.data import (
    Cell,
    EntryColumn,
    EntryFile,
    Row,
    Table,
    bootstrap,
    find_records,
    load_entries,
    page_path,
    record_path,
)
from halbench.leaderboard.identity import Identity, display_names, identity
from halbench.types import ResultRecord


@dataclass
class Run:
    path: Path
    record: ResultRecord
    ident: Identity
    label: str
    status: compare.Status
    cis: dict[str, tuple[float, float] | None] = field(default_factory=dict)  # bootstrap, by metric

    @property
    def created(self) -> datetime:
        try:
            stamp = datetime.fromisoformat(self.record.provenance.created_at)
        except ValueError:
            return datetime.min
        return stamp if stamp.tzinfo is None else stamp.replace(tzinfo=None) - stamp.utcoffset()

    def order(self) -> tuple[bool, datetime, str]:
        """Newest complete first: the key ``max`` picks a cell's record by."""
        return (self.status.complete, self.created, str(self.path))


def collect(runs: list[Path]) -> list[Run]:
    found = find_records(runs)
    idents = [identity(record, path) for path, record in found]
    names = display_names(idents)
    return [
        Run(path, record, ident, names[ident], compare.status(record))
        for (path, record), ident in zip(found, idents, strict=True)
    ]


def _label(run: Run, all_runs: bool) -> str:
    return f"{run.label} ({run.record.provenance.created_at})" if all_runs else run.label


def _groups(runs: list[Run], all_runs: bool) -> dict[str, list[Run]]:
    """Runs by row label: one group per identity, or per record with ``all_runs``."""
    out: dict[str, list[Run]] = {}
    for run in sorted(runs, key=Run.order):
        out.setdefault(_label(run, all_runs), []).append(run)
    return out


def run_cell(run: Run, metric: str, scale: float, link: str, source: str = "our run") -> Cell:
    record = run.record
    value = compare.metric_value(record, metric)
    if metric not in run.cis:
        run.cis[metric] = bootstrap(record, metric) if value is not None else None
    ci = run.cis[metric]
    sig = compare.protocol_signature(record)
    prov: dict[str, Any] = {
        "source": source,
        "model": run.label,
        "fingerprint": run.ident.fingerprint,
        "benchmark": record.benchmark,
        "benchmark_version": record.benchmark_version,
        "data": "official" if run.status.official else "not the official data",
        "protocol": ", ".join(f"{k}={v}" for k, v in sig) or "default",
        "metric": metric,
        "scored": f"{record.n_scored} of {run.status.n_expected or record.n_items}",
        "date": record.provenance.created_at,
        "record": link,
    }
    if run.status.badge:
        prov["partial"] = f"{run.status.badge}: not ranked against complete runs"
    return Cell(
        None if value is None else value * scale,
        prov,
        None if ci is None else (ci[0] * scale, ci[1] * scale),
        note=record.not_computable.get(metric),
        badge=run.status.badge,
        record=record,
        unit="%" if scale == 100.0 else "",
    )


def benchmark_tables(runs: list[Run], all_runs: bool) -> list[Table]:
    by_table: dict[str, list[Run]] = {}
    for run in runs:
        by_table.setdefault(compare.table_key(run.record), []).append(run)
    tables = []
    for key in sorted(by_table):
        members = by_table[key]
        specs = compare.columns_for(members[0].record)
        columns = [
            EntryColumn(
                key=s.metric, label=s.label, better=s.direction, unit="%" if s.scale == 100 else ""
            )
            for s in specs
        ]
        table = Table(key, compare.table_title(members[0].record), columns, [], kind="benchmark")
        for label, group in _groups(members, all_runs).items():
            best = max(group, key=Run.order)
            link = record_path(label, key)
            cells = {s.metric: run_cell(best, s.metric, s.scale, link) for s in specs}
            table.rows.append(
                Row(
                    label, "our run", cells, page_path(label), [best.record], best.ident.fingerprint
                )
            )
        tables.append(table)
    return tables


def _reported_row(entry: EntryFile, row: Any) -> Row:
    units = {c.key: c.unit for c in entry.columns}
    cells = {}
    for key, value in row.values.items():
        prov = {"source": entry.source.kind, "citation": entry.source.citation}
        if entry.source.url:
            prov["url"] = entry.source.url
        if entry.source.notes:
            prov["notes"] = entry.source.notes
        cells[key] = Cell(value, prov, note=row.notes.get(key), unit=units.get(key, "%"))
    return Row(row.model, entry.source.kind, cells)


def _accepted_cells(table: Table, group: list[Run], all_runs: bool) -> dict[str, Cell]:
    cells = {}
    for col in table.columns:
        if col.accepts is None:
            continue
        need = col.accepts.model_dump()
        ok = [r for r in group if compare.accepts(need, r.record, r.status)]
        if ok:
            best = max(ok, key=Run.order)
            link = record_path(_label(best, all_runs), compare.table_key(best.record))
            cells[col.key] = run_cell(best, col.accepts.metric, col.accepts.scale, link)
    return cells


def paper_tables(entries: list[EntryFile], runs: list[Run], all_runs: bool) -> list[Table]:
    tables: dict[str, Table] = {}
    ids: dict[str, list[str]] = {}
    for entry in entries:
        table = tables.setdefault(entry.table, Table(entry.table, entry.title, [], []))
        ids.setdefault(entry.table, []).append(entry.id)
        known = {c.key for c in table.columns}
        table.columns += [c for c in entry.columns if c.key not in known]
        for row in entry.rows:
            table.rows.append(_reported_row(entry, row))
            wanted = f"{entry.id}:{row.model}"
            for label, group in _groups(
                [r for r in runs if r.record.reproduces == wanted], all_runs
            ).items():
                cells = _accepted_cells(table, group, all_runs)
                for key, cell in cells.items():
                    cell.provenance["source"] = "reproduced"
                    cell.provenance["reproduces"] = wanted
                    reported = row.values.get(key)
                    if reported is not None and cell.value is not None:
                        ci = (
                            None
                            if cell.ci is None
                            else (cell.ci[0] - reported, cell.ci[1] - reported)
                        )
                        cell.diff = (cell.value - reported, ci)
                if cells:
                    rec = [c.record for c in cells.values() if c.record is not None]
                    table.rows.append(
                        Row(
                            f"{row.model} (reproduced: {label})",
                            "reproduced",
                            cells,
                            page_path(label),
                            rec,
                        )
                    )
    for name, table in tables.items():
        own = [r for r in runs if (r.record.reproduces or "").split(":")[0] not in ids[name]]
        for label, group in _groups(own, all_runs).items():
            cells = _accepted_cells(table, group, all_runs)
            if cells:
                rec = [c.record for c in cells.values() if c.record is not None]
                fp = group[-1].ident.fingerprint
                table.rows.append(Row(label, "our run", cells, page_path(label), rec, fp))
    order = ["main", "ablations"]
    return sorted(tables.values(), key=lambda t: order.index(t.name) if t.name in order else 99)


def _matches(run: Run, ref: str) -> bool:
    """Whether ``ref`` (a ``trained_from`` / ``base_of`` value) names ``run``'s model."""
    return ref in (run.label, run.ident.name, run.ident.fingerprint, run.ident.path)


def pair_tables(bench: list[Table], runs: list[Run]) -> list[Table]:
    """A base model beside its trained version (``trained_from`` / ``base_of``): every
    benchmark column both have, the trained cell with its relative change."""
    pairs: dict[tuple[str, str], None] = {}
    for run in runs:
        for other in runs:
            if (run.record.trained_from and _matches(other, run.record.trained_from)) or (
                other.record.base_of and _matches(run, other.record.base_of)
            ):
                if run.label != other.label:
                    pairs[(other.label, run.label)] = None
    by_label = {r.label: r for r in runs}
    out = []
    for base, trained in pairs:
        # the trained model of a reproduction (halbench reproduce) is a reproduced row
        made = by_label[trained].record.provenance.details.get("reproduction", {})
        trained_kind = "reproduced" if made.get("role") == "trained" else "our run"
        columns, rows = [], {base: {}, trained: {}}  # type: ignore[var-annotated]
        for table in bench:
            got = {r.model: r for r in table.rows}
            if base not in got or trained not in got:
                continue
            for col in table.columns:
                b, t = got[base].cells.get(col.key), got[trained].cells.get(col.key)
                if b is None or t is None or b.value is None or t.value is None:
                    continue
                key = f"{table.name}:{col.key}"
                label = f"{table.title}: {col.label}"
                columns.append(col.model_copy(update={"key": key, "label": label}))
                rows[base][key] = b
                prov = {**t.provenance, "source": trained_kind}
                tc = Cell(t.value, prov, t.ci, t.note, t.badge, t.record, t.unit)
                tc.change = (t.value - b.value) / b.value if b.value else None
                rows[trained][key] = tc
        if columns:
            out.append(
                Table(
                    f"pair:{base}:{trained}",
                    f"{trained} against its base {base}",
                    columns,
                    [
                        Row(
                            name,
                            trained_kind if name == trained else "our run",
                            cells,
                            page_path(name),
                        )
                        for name, cells in rows.items()
                    ],
                    kind="pair",
                )
            )
    return out


def build_tables(
    entries_dir: Path | None, runs: list[Path], *, all_runs: bool = False
) -> tuple[list[Table], list[Run]]:
    """The paper tables, then one table per benchmark and protocol; and every run read."""
    found = collect(runs)
    entries = load_entries(entries_dir)
    bench = benchmark_tables(found, all_runs)
    pairs = [] if all_runs else pair_tables(bench, found)
    return paper_tables(entries, found, all_runs) + bench + pairs, found
