"""``halbench leaderboard build``: entries + result records -> a self-contained static site.

``OUT/index.html`` (main table and ablations table, sortable, filterable, provenance on
hover and in a details panel), ``OUT/models/<name>.html`` (every benchmark's metrics, the run
settings and a per-item drill-down with hallucinated objects highlighted), ``OUT/records/``
(copies of the records linked from cells) and ``OUT/assets/`` (CSS and JS). No network at
view time. Every string from a model, a user or a file is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halbench.errors import InputError
from halbench.io import atomic_write_text, check_writable_dir, make_temp_dir, replace_dir
from halbench.leaderboard.data import (
    OUTSIDE_NOTE,
    Cell,
    EntryColumn,
    Row,
    Table,
    find_records,
    load_entries,
    model_name,
    outside_interval,
    page_path,
    record_cells,
    record_path,
)
from halbench.types import ResultRecord

ASSETS = Path(__file__).resolve().parent / "assets"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


@dataclass
class Site:
    index: Path
    tables: list[Table]
    model_pages: list[Path]


def build_tables(
    entries_dir: Path, runs: list[Path], *, all_runs: bool = False
) -> tuple[list[Table], dict[str, list[tuple[Path, ResultRecord]]]]:
    tables: dict[str, Table] = {}
    for entry in load_entries(entries_dir):
        table = tables.setdefault(entry.table, Table(entry.table, entry.title, [], []))
        known = {c.key for c in table.columns}
        table.columns += [c for c in entry.columns if c.key not in known]
        for row in entry.rows:
            cells = {}
            for key, value in row.values.items():
                prov = {"source": entry.source.kind, "citation": entry.source.citation}
                if entry.source.url:
                    prov["url"] = entry.source.url
                if entry.source.notes:
                    prov["notes"] = entry.source.notes
                cells[key] = Cell(value, prov, note=row.notes.get(key))
            table.rows.append(Row(row.model, entry.source.kind, cells))
    if "main" not in tables:
        tables["main"] = Table("main", "Results", [], [])
    main = tables["main"]
    by_model: dict[str, list[tuple[Path, ResultRecord]]] = {}
    for path, record in find_records(runs):
        by_model.setdefault(model_name(record, path), []).append((path, record))
    for model, recs in sorted(by_model.items()):
        # the latest record per benchmark, unless every run is asked for
        recs.sort(key=lambda pr: pr[1].provenance.created_at)
        groups: list[list[tuple[Path, ResultRecord]]]
        if all_runs:
            groups = [[pr] for pr in recs]
        else:
            latest: dict[str, tuple[Path, ResultRecord]] = {}
            for pr in recs:
                latest[pr[1].benchmark] = pr
            groups = [list(latest.values())]
        for group in groups:
            label = model if not all_runs else f"{model} ({group[0][1].provenance.created_at})"
            page = page_path(label)
            cells: dict[str, Cell] = {}
            for path, record in group:
                link = record_path(label, record.benchmark)
                for key, (col, cell) in record_cells(record, path, link).items():
                    if key not in {c.key for c in main.columns}:
                        main.columns.append(col)
                    cells[key] = cell
            main.rows.append(Row(label, "our run", cells, page, [r for _, r in group]))
    order = ["main", "ablations"]
    return sorted(
        tables.values(), key=lambda t: order.index(t.name) if t.name in order else 99
    ), by_model


def _cell_html(col: EntryColumn, cell: Cell | None) -> str:
    if cell is None or cell.value is None:
        title = "" if cell is None else esc(cell.note or "not computable")
        return f'<td class="num missing" data-value="" title="{title}">–</td>'
    prov = "\n".join(f"{k}: {v}" for k, v in cell.provenance.items())
    ci = ""
    if cell.ci:
        mark = ""
        if outside_interval(cell):  # possible: the metric need not be what the bootstrap resamples
            mark = '<span class="outside-ci" title="the number lies outside this interval">*</span>'
        ci = f'<span class="ci">[{cell.ci[0]:.1f}, {cell.ci[1]:.1f}]{mark}</span>'
        prov += f"\n95% bootstrap interval over items: [{cell.ci[0]:.2f}, {cell.ci[1]:.2f}]"
        if mark:
            prov += f"\n{OUTSIDE_NOTE}"
    if cell.note:
        prov += f"\nnote: {cell.note}"
    unscored = ""
    if cell.provenance.get("source") == "our run":
        n = str(cell.provenance.get("unscored", "")).split(" of ")[0]
        if n not in ("", "0"):
            unscored = f'<span class="unscored" title="unscored items">({esc(n)} unscored)</span>'
    kind = esc(cell.provenance.get("source", ""))
    return (
        f'<td class="num {kind.replace(" ", "-")}" data-value="{cell.value:.6f}" title="{esc(prov)}" '
        f'data-provenance="{esc(json.dumps(cell.provenance, ensure_ascii=False))}">'
        f"{cell.value:.1f}{ci}{unscored}</td>"
    )


def _plots_html(tables: list[Table], out: Path) -> str:
    from halbench.leaderboard import plots

    if not plots.available():
        return "<p class='note'>Plots need matplotlib: pip install 'halbench[leaderboard]'.</p>"
    made = plots.make_plots(tables[0], out / "plots")
    figures = "".join(
        f'<figure><img src="plots/{esc(name)}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'
        for name, caption in made
    )
    return f"<h2>Plots</h2><div class='plots'>{figures}</div>" if figures else ""


def _table_html(table: Table) -> str:
    head = [
        '<th data-type="text" class="sortable">Model</th>',
        '<th data-type="text" class="sortable">Source</th>',
    ]
    for col in table.columns:
        arrow = "↓" if col.better == "lower" else "↑"
        head.append(
            f'<th data-type="num" class="sortable" title="{esc(col.better)} is better">{esc(col.label)} {arrow}</th>'
        )
    rows = []
    for row in table.rows:
        name = esc(row.model)
        if row.page:
            name = f'<a href="{esc(row.page)}">{name}</a>'
        cells = "".join(_cell_html(c, row.cells.get(c.key)) for c in table.columns)
        rows.append(
            f'<tr data-model="{esc(row.model.lower())}"><td class="model">{name}</td><td>{esc(row.kind)}</td>{cells}</tr>'
        )
    return (
        f'<h2>{esc(table.title)}</h2><table class="board" id="table-{esc(table.name)}">'
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="{root}assets/style.css"></head>
<body>{body}<script src="{root}assets/app.js"></script></body></html>
"""


def _highlight(text: str, words: list[str]) -> str:
    """Escape ``text`` and wrap whole-word occurrences of ``words`` (and plurals) in <mark>."""
    if not words:
        return esc(text)
    pattern = re.compile(
        r"\b("
        + "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
        + r")(?:e?s)?\b",
        re.I,
    )
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(esc(text[last : m.start()]))
        out.append(f"<mark>{esc(m.group(0))}</mark>")
        last = m.end()
    out.append(esc(text[last:]))
    return "".join(out)


def _model_page(label: str, records: list[ResultRecord]) -> str:
    parts = [f'<p><a href="../index.html">← leaderboard</a></p><h1>{esc(label)}</h1>']
    for rec in records:
        parts.append(f"<h2>{esc(rec.benchmark)} <small>{esc(rec.benchmark_version)}</small></h2>")
        flat = {
            k: v for k, v in rec.metrics.items() if isinstance(v, int | float | str) or v is None
        }
        parts.append(
            "<table class='kv'>"
            + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in flat.items())
            + "</table>"
        )
        settings = {
            "protocol": rec.protocol,
            "model": rec.model,
            "created_at": rec.provenance.created_at,
            "halbench": rec.provenance.halbench_version,
            "git": rec.provenance.git_revision,
            "unscored": f"{rec.n_unscored} of {rec.n_items}",
        }
        parts.append(
            f"<details><summary>Run settings and provenance</summary><pre>{esc(json.dumps(settings, indent=1, ensure_ascii=False))}</pre></details>"
        )
        rows = []
        for it in rec.items:
            question = it.get("question") or it.get("prompt") or ""
            answer = (
                it.get("answer")
                if isinstance(it.get("answer"), str)
                else it.get("text") or it.get("response") or ""
            )
            hallucinated = (
                [w for w, _ in it.get("hallucinated", []) if isinstance(w, str)]
                if isinstance(it.get("hallucinated"), list)
                else []
            )
            status = (
                esc(it["unscored"])
                if "unscored" in it
                else esc(
                    ", ".join(f"{w} ({c})" for w, c in it.get("hallucinated", []))
                    if hallucinated
                    else ""
                )
            )
            rows.append(
                f"<tr><td>{esc(question)}</td><td>{_highlight(str(answer), hallucinated)}</td><td>{status}</td></tr>"
            )
        parts.append(
            f"<details open><summary>Items ({len(rec.items)}; hallucinated objects highlighted)</summary>"
            f"<table class='items'><thead><tr><th>Question</th><th>Answer</th><th>Hallucinated / unscored</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></details>"
        )
    return _PAGE.format(title=esc(label), root="../", body="".join(parts))


def build_site(
    entries_dir: str | Path, runs: list[str | Path], out: str | Path, *, all_runs: bool = False
) -> Site:
    """Build the site in a temporary folder next to ``out`` and put it in place when complete.

    A failed build leaves the previous site as it was and no temporary folder behind.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():  # the destination first: reading records is slow
        raise InputError(str(out), "exists and is not a folder: choose another --out")
    if out.exists() and not (out / "index.html").exists() and any(out.iterdir()):
        raise InputError(
            str(out), "exists and is not a halbench leaderboard site: choose another --out"
        )
    check_writable_dir(out, "--out")
    tables, _ = build_tables(Path(entries_dir), [Path(r) for r in runs], all_runs=all_runs)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = make_temp_dir(out.parent, f".{out.name}.building-")
    except OSError as exc:
        raise InputError(str(out), f"cannot write the site here: {exc.strerror}") from None
    try:
        pages = _write_site(tables, tmp)
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Site(out / "index.html", tables, [out / p.relative_to(tmp) for p in pages])


def _write_site(tables: list[Table], out: Path) -> list[Path]:
    (out / "assets").mkdir(parents=True, exist_ok=True)
    for name in ("style.css", "app.js"):  # copyfile: the umask's mode, not the source's
        shutil.copyfile(ASSETS / name, out / "assets" / name)
    pages = []
    for table in tables:
        for row in table.rows:
            if row.page and row.records:
                page = out / row.page
                atomic_write_text(page, _model_page(row.model, row.records))
                pages.append(page)
                for rec in row.records:
                    atomic_write_text(out / record_path(row.model, rec.benchmark), rec.to_json())
    body = [
        "<header><h1>halbench leaderboard</h1>",
        "<p>Hallucination of vision-language models. <b>reported</b>: the paper's own numbers (with citation); "
        "<b>our run</b>: scored by halbench (protocol and date on hover; click a number for details). "
        "Arrows: ↓ lower is better, ↑ higher is better. Brackets: 95% bootstrap interval over items.</p>",
        '<input id="filter" type="search" placeholder="Filter models…" aria-label="Filter models"></header>',
        *(_table_html(t) for t in tables),
        _plots_html(tables, out),
        '<aside id="details" hidden><button id="close" aria-label="close">×</button><pre id="details-text"></pre></aside>',
    ]
    atomic_write_text(
        out / "index.html", _PAGE.format(title="halbench leaderboard", root="", body="".join(body))
    )
    return pages
