"""``halbench leaderboard build``: entries + result records -> a self-contained static site.

``OUT/index.html`` (a legend, one tab per table: the papers' tables, then one per benchmark
and protocol; sortable, filterable, provenance on hover and in a details panel),
``OUT/models/<name>.html`` (``pages.py``), ``OUT/records/`` (copies of the records linked
from cells), ``OUT/leaderboard.csv`` and ``OUT/leaderboard.json`` (every shown cell),
``OUT/thumbs/`` and ``OUT/assets/``. No network at view time. Every string from a model, a
user or a file is HTML-escaped.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from halbench.destinations import check_writable_dir
from halbench.errors import InputError
from halbench.io import atomic_write_text, make_temp_dir, replace_dir
from halbench.leaderboard import compare, export
from halbench.leaderboard.data import (
    OUTSIDE_NOTE,
    Cell,
    EntryColumn,
    Table,
    outside_interval,
    record_path,
    slug,
)
from halbench.leaderboard.pages import PAGE, esc, model_page
from halbench.leaderboard.tables import Run, build_tables

__all__ = ["build_site", "build_tables"]
from halbench.types import ResultRecord

ASSETS = Path(__file__).resolve().parent / "assets"
LEGEND = (
    '<p class="legend"><span class="swatch reported"></span><b>reported</b>: a paper\'s own number '
    '(no interval: the paper gives none) · <span class="swatch our-run"></span><b>our run</b>: '
    'scored by halbench · <span class="swatch reproduced"></span><b>reproduced</b>: our run of a '
    "reported entry, with the difference Δ and its 95% interval · "
    '<span class="badge">3/300</span> <span class="badge">sample</span>: a partial run or not '
    "the official data (shown, never ranked against complete runs) · ↓ lower is better, ↑ higher "
    "is better · brackets: 95% bootstrap interval over items</p>"
)


@dataclass
class Site:
    index: Path
    tables: list[Table]
    model_pages: list[Path]
    csv: Path | None = None


def _cell_html(col: EntryColumn, cell: Cell | None) -> str:
    if cell is None or cell.value is None:
        title = "" if cell is None else esc(cell.note or "not computable")
        return f'<td class="num missing" data-value="" title="{title}">–</td>'
    prov = "\n".join(f"{k}: {v}" for k, v in cell.provenance.items())
    extra = ""
    if cell.ci:
        mark = ""
        if outside_interval(cell):  # possible: the metric need not be what the bootstrap resamples
            mark = '<span class="outside-ci" title="the number lies outside this interval">*</span>'
        extra += f'<span class="ci">[{cell.ci[0]:.1f}, {cell.ci[1]:.1f}]{mark}</span>'
        prov += f"\n95% bootstrap interval over items: [{cell.ci[0]:.2f}, {cell.ci[1]:.2f}]"
        if mark:
            prov += f"\n{OUTSIDE_NOTE}"
    if cell.diff:
        d, dci = cell.diff
        interval = f" [{dci[0]:+.1f}, {dci[1]:+.1f}]" if dci else ""
        extra += f'<span class="diff" title="reproduced − reported">Δ {d:+.1f}{interval}</span>'
    if cell.change is not None:
        extra += f'<span class="diff" title="relative change against the base model">{cell.change:+.0%} vs base</span>'
    if cell.badge:
        extra += f'<span class="badge" title="partial or unofficial: not ranked">{esc(cell.badge)}</span>'
    if cell.note:
        prov += f"\nnote: {cell.note}"
    kind = esc(cell.source).replace(" ", "-")
    partial = ' data-partial="1"' if cell.partial else ""
    return (
        f'<td class="num {kind}" data-value="{cell.value:.6f}"{partial} title="{esc(prov)}" '
        f'data-provenance="{esc(json.dumps(cell.provenance, ensure_ascii=False))}">'
        f"{cell.value:.1f}{extra}</td>"
    )


def _table_html(table: Table) -> str:
    head = [
        '<th data-type="text" class="sortable model">Model</th>',
        '<th data-type="text" class="sortable">Source</th>',
    ]
    for col in table.columns:
        arrow = {"lower": "↓", "higher": "↑"}.get(col.better, "")
        unit = f" ({esc(col.unit)})" if col.unit else ""
        better = f"{col.better} is better" if arrow else "not ranked (no better direction)"
        head.append(
            f'<th data-type="num" class="sortable" title="{esc(better)}">{esc(col.label)}{unit} {arrow}</th>'
        )
    rows = []
    for row in table.rows:
        name = esc(row.model)
        if row.page:
            name = f'<a href="{esc(row.page)}">{name}</a>'
        cells = "".join(_cell_html(c, row.cells.get(c.key)) for c in table.columns)
        rows.append(
            f'<tr data-model="{esc(row.model.lower())}" class="{esc(row.kind).replace(" ", "-")}">'
            f'<td class="model">{name}</td><td>{esc(row.kind)}</td>{cells}</tr>'
        )
    return (
        f'<div class="scroll"><table class="board" id="table-{esc(_slug(table.name))}">'
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _slug(name: str) -> str:
    return slug(name.replace("|", "--").replace("=", "-"))


def _plots_html(tables: list[Table], runs: list[Run], out: Path) -> str:
    from halbench.leaderboard import plots

    if not plots.available():
        return "<p class='note'>Plots need matplotlib: pip install 'halbench[leaderboard]'.</p>"
    made = plots.make_plots(tables[0], out / "plots", [r.label for r in runs])
    figures = "".join(
        f'<figure><img src="plots/{esc(name)}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'
        for name, caption in made
    )
    return (
        f"<h2>Plots ({esc(tables[0].title)})</h2><div class='plots'>{figures}</div>"
        if figures
        else ""
    )


def build_site(
    entries_dir: str | Path | None,
    runs: list[str | Path],
    out: str | Path,
    *,
    all_runs: bool = False,
) -> Site:
    """Build the site in a temporary folder next to ``out`` and put it in place when complete.

    ``entries_dir``: extra entry files (the packaged papers' tables are always read; a file
    of the same name in ``entries_dir`` replaces the packaged one). A failed build leaves the
    previous site as it was and no temporary folder behind.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():  # the destination first: reading records is slow
        raise InputError(str(out), "exists and is not a folder: choose another --out")
    if out.exists() and not (out / "index.html").exists() and any(out.iterdir()):
        raise InputError(
            str(out), "exists and is not a halbench leaderboard site: choose another --out"
        )
    check_writable_dir(out, "--out")
    tables, found = build_tables(
        None if entries_dir is None else Path(entries_dir),
        [Path(r) for r in runs],
        all_runs=all_runs,
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = make_temp_dir(out.parent, f".{out.name}.building-")
    except OSError as exc:
        raise InputError(str(out), f"cannot write the site here: {exc.strerror}") from None
    try:
        pages = _write_site(tables, found, tmp)
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Site(
        out / "index.html",
        tables,
        [out / p.relative_to(tmp) for p in pages],
        out / "leaderboard.csv",
    )


def _write_pages(tables: list[Table], out: Path) -> list[Path]:
    by_page: dict[str, tuple[str, list[ResultRecord]]] = {}
    for table in tables:
        if table.kind != "benchmark":
            continue
        for row in table.rows:
            if row.page:
                label, recs = by_page.setdefault(row.page, (row.model, []))
                recs += [r for r in row.records if r not in recs]
                for rec in row.records:
                    path = out / record_path(row.model, compare.table_key(rec))
                    atomic_write_text(path, rec.to_json())
    pages = []
    for page, (label, recs) in by_page.items():
        atomic_write_text(out / page, model_page(label, recs, out))
        pages.append(out / page)
    return pages


def _write_site(tables: list[Table], runs: list[Run], out: Path) -> list[Path]:
    (out / "assets").mkdir(parents=True, exist_ok=True)
    for name in ("style.css", "app.js"):  # copyfile: the umask's mode, not the source's
        shutil.copyfile(ASSETS / name, out / "assets" / name)
    pages = _write_pages(tables, out)
    cells = export.cell_rows(tables)
    atomic_write_text(out / "leaderboard.csv", export.to_csv(cells))
    atomic_write_text(out / "leaderboard.json", export.to_json(cells))
    tabs = "".join(
        f'<a class="tab" href="#tab-{esc(_slug(t.name))}">{esc(t.title)}</a>' for t in tables
    )
    sections = "".join(
        f'<section class="panel {esc(t.kind)}" id="tab-{esc(_slug(t.name))}"><h2>{esc(t.title)}</h2>'
        + (
            "<p class='note'>Our runs fill a column only when benchmark, official data, "
            "protocol and completeness match what the column declares; everything else is in "
            "its benchmark's own tab.</p>"
            if t.kind == "reported"
            else ""
        )
        + f"{_table_html(t)}</section>"
        for t in tables
    )
    body = [
        "<header><h1>halbench leaderboard</h1>",
        LEGEND,
        '<p><input id="filter" type="search" placeholder="Filter models…" aria-label="Filter models"> '
        'Every shown cell: <a href="leaderboard.csv" id="csv-link">leaderboard.csv</a> · '
        '<a href="leaderboard.json">leaderboard.json</a></p></header>',
        f'<nav class="tabs">{tabs}</nav>',
        sections,
        _plots_html(tables, runs, out),
        '<aside id="details" hidden><button id="close" aria-label="close">×</button><pre id="details-text"></pre></aside>',
    ]
    atomic_write_text(
        out / "index.html", PAGE.format(title="halbench leaderboard", root="", body="".join(body))
    )
    return pages
