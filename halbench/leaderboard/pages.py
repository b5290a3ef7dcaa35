"""Per-model pages: formatted metrics, provenance as a table, items with thumbnails.

Every string from a model, a user or a file is HTML-escaped (``esc``).
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError
from halbench.leaderboard import compare
from halbench.leaderboard.data import record_path
from halbench.types import ResultRecord

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="{root}assets/style.css"></head>
<body>{body}<script src="{root}assets/app.js"></script></body></html>
"""
THUMB_PX = 96


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: float | None, unit: str = "%") -> str:
    """One decimal; percent columns say so once in their header, not in every cell."""
    return "–" if value is None else f"{value:.1f}"


def highlight(text: str, hallucinated: list[str], mentioned: list[str]) -> str:
    """Escape ``text``; hallucinated words (and plurals) in <mark>, other mentions underlined."""
    words = {w.lower(): "mark" for w in mentioned if w}
    words.update({w.lower(): "hall" for w in hallucinated if w})
    if not words:
        return esc(text)
    pattern = re.compile(
        r"\b("
        + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        + r")(?:e?s)?\b",
        re.I,
    )
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(esc(text[last : m.start()]))
        kind = words.get(m.group(1).lower(), "mark")
        if kind == "hall":
            out.append(f'<mark title="hallucinated">{esc(m.group(0))}</mark>')
        else:
            out.append(f'<span class="mention">{esc(m.group(0))}</span>')
        last = m.end()
    out.append(esc(text[last:]))
    return "".join(out)


def _pairs(value: Any) -> list[str]:
    """Words of ``[[word, object], ...]`` or ``[word, ...]``."""
    if not isinstance(value, list):
        return []
    out = []
    for v in value:
        if isinstance(v, list | tuple) and v and isinstance(v[0], str):
            out.append(v[0])
        elif isinstance(v, str):
            out.append(v)
    return out


def _images(record: ResultRecord) -> dict[str, Path]:
    """Item id / image id -> image file, where the benchmark's data is at hand."""
    bench = compare.benchmark_of(record)
    if bench is None:
        return {}
    try:
        items = bench.load_items(check_images=False)
    except (HalbenchError, OSError, ValueError):
        return {}
    out: dict[str, Path] = {}
    for it in items:
        if it.image is not None and it.image.is_file():
            out[f"id:{it.id}"] = it.image
            if it.image_id is not None:
                out.setdefault(f"image:{it.image_id}", it.image)
    return out


def thumbnail(image: Path, site: Path) -> str | None:
    """A small JPEG copy under ``site/thumbs/``; its site-relative path (None if unreadable)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    name = f"thumbs/{hashlib.sha256(str(image.resolve()).encode()).hexdigest()[:16]}.jpg"
    target = site / name
    if not target.exists():
        try:
            with Image.open(image) as im:
                im = im.convert("RGB")
                im.thumbnail((THUMB_PX, THUMB_PX))
                target.parent.mkdir(parents=True, exist_ok=True)
                im.save(target, "JPEG", quality=80)
        except (OSError, ValueError):
            return None
    return name


def _kv(rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows if v not in (None, "")
    )
    return f"<table class='kv'>{body}</table>"


def _provenance(rec: ResultRecord, st: compare.Status) -> str:
    model = rec.model or {}
    rows: list[tuple[str, Any]] = [
        ("benchmark", rec.benchmark),
        ("benchmark version", rec.benchmark_version),
        ("data", "official" if st.official else "not the official data (sample or local variant)"),
        ("items scored", f"{rec.n_scored} of {st.n_expected or rec.n_items}"),
        ("unscored", rec.n_unscored),
        ("created", rec.provenance.created_at),
        ("backend", model.get("backend")),
        ("model", model.get("model")),
        ("fingerprint", model.get("fingerprint")),
        ("--limit", model.get("limit")),
        ("halbench", rec.provenance.halbench_version),
        ("git revision", rec.provenance.git_revision),
        ("command", " ".join(rec.provenance.command or [])),
        ("reproduces", rec.reproduces),
        ("trained from", rec.trained_from),
        ("base of", rec.base_of),
    ]
    rows += [(f"protocol: {k}", v) for k, v in rec.protocol.items() if not isinstance(v, dict)]
    gen = model.get("generation") or {}
    rows += [(f"generation: {k}", v) for k, v in gen.items()]
    rows += [
        (f"input ({f.role})", f"{f.path} (sha256 {f.sha256[:12]}…)") for f in rec.provenance.inputs
    ]
    return _kv(rows)


def _metrics(rec: ResultRecord) -> str:
    rows = []
    for spec in compare.columns_for(rec):
        value = compare.metric_value(rec, spec.metric)
        frac = rec.fractions.get(spec.metric)
        count = f"{frac.numerator:g}/{frac.denominator}" if frac else ""
        shown = fmt(None if value is None else value * spec.scale)
        unit = "%" if spec.scale == 100 and value is not None else ""
        arrow = {"lower": "↓", "higher": "↑"}.get(spec.direction, "")
        rows.append(
            f"<tr><th>{esc(spec.label)} {arrow}</th><td class='num'>{esc(shown)}{unit}</td>"
            f"<td class='num'>{esc(count)}</td></tr>"
        )
    return f"<table class='kv metrics'>{''.join(rows)}</table>"


def _items(rec: ResultRecord, site: Path) -> str:
    images = _images(rec)
    rows = []
    n_hall = 0
    for it in rec.items:
        question = it.get("question") or it.get("prompt") or ""
        answer = it.get("answer") if isinstance(it.get("answer"), str) else None
        answer = answer or it.get("text") or it.get("response") or ""
        hall = _pairs(it.get("hallucinated"))
        mentions = _pairs(it.get("mentions"))
        gt = _pairs(it.get("gt_objects"))
        image = images.get(f"id:{it.get('item_id')}") or images.get(f"image:{it.get('image_id')}")
        thumb = thumbnail(image, site) if image else None
        img = f'<img class="thumb" src="../{esc(thumb)}" alt="item image">' if thumb else ""
        status = esc(it["unscored"]) if "unscored" in it else esc(", ".join(hall))
        n_hall += bool(hall)
        rows.append(
            f'<tr data-hallucinated="{int(bool(hall))}"><td>{img}</td><td>{esc(question)}</td>'
            f"<td>{highlight(str(answer), hall, mentions)}</td><td>{esc(', '.join(gt))}</td>"
            f"<td>{status}</td></tr>"
        )
    return (
        f"<details open><summary>Items ({len(rec.items)}; {n_hall} with hallucinations: "
        "highlighted; other mentions underlined)</summary>"
        '<label><input type="checkbox" class="only-hall"> only items with hallucinations</label>'
        "<table class='items'><thead><tr><th>Image</th><th>Question</th><th>Answer</th>"
        "<th>Ground-truth objects</th><th>Hallucinated / unscored</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )


def model_page(label: str, records: list[ResultRecord], site: Path) -> str:
    parts = [f'<p><a href="../index.html">← leaderboard</a></p><h1>{esc(label)}</h1>']
    for rec in records:
        st = compare.status(rec)
        key = compare.table_key(rec)
        badge = f' <span class="badge">{esc(st.badge)}</span>' if st.badge else ""
        link = f'<a href="../{esc(record_path(label, key))}">record (JSON)</a>'
        parts.append(
            f"<section class='run'><h2>{esc(compare.table_title(rec))}{badge}</h2>"
            f"<p>{link} · {esc(rec.provenance.created_at)}</p>{_metrics(rec)}"
            f"<details><summary>Provenance</summary>{_provenance(rec, st)}</details>"
            f"{_items(rec, site)}</section>"
        )
    return PAGE.format(title=esc(label), root="../", body="".join(parts))
