"""Stage 5 of ``halbench reproduce rlhfv``: link the records, measure the relative change, build
the leaderboard.

Record fields written in the copies in ``OUT/records/``. Top level, where ``ResultRecord`` has
them (the leaderboard's links, docs/leaderboard.md): ``reproduces`` = ``"ENTRY:ROW"`` from the
preset (``rlhfv-table1:RLHF-V``) on trained records, ``trained_from`` = the base record's model
fingerprint, ``base_of`` = the trained record's model fingerprint on base records. In
``provenance.details`` (always): every trained record gets ``reproduces`` (preset, description,
citation, ``paper_row``, ``paper_base_row``, ``base_row``) and ``trained_from`` (base model and
fingerprint, the base records, the training record and its sha256, the DDPO config and resolved
values, data source and checksum, pairs, steps, loss-curve summary); every record gets
``reproduction`` = ``{"preset", "role": "base" | "trained"}``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from halbench.io import atomic_write_json, atomic_write_text
from reference_models.rlhfv.reproduce_plan import Preset

RLHFV_DIR = Path(__file__).parent


def _fingerprint(record_path: str | Path) -> str | None:
    from halbench.types import ResultRecord

    model = ResultRecord.load(record_path).model or {}
    return model.get("fingerprint")


def _link(record_path: Path, dest: Path, details: dict[str, Any], top: dict[str, Any]) -> Path:
    """A copy of a record with ``details`` in ``provenance.details`` and, where this halbench's
    record has them (the leaderboard's ``reproduces`` / ``trained_from`` / ``base_of``), the
    top-level links in ``top``."""
    from halbench.types import ResultRecord

    rec = ResultRecord.load(record_path)
    rec.provenance.details.update(details)
    for key, value in top.items():
        if key in type(rec).model_fields and value is not None:
            setattr(rec, key, value)
    atomic_write_text(dest, rec.to_json())
    return dest


def _metric_rows(base: Path, trained: Path) -> list[dict[str, Any]]:
    from halbench.registry import scorer_metrics, scorer_of
    from halbench.types import ResultRecord

    b, t = ResultRecord.load(base), ResultRecord.load(trained)
    rows = []
    for spec in scorer_metrics(scorer_of(b)):
        if not (spec.headline or spec.columns):
            continue
        bv, tv = b.metrics.get(spec.key), t.metrics.get(spec.key)
        num = lambda v: isinstance(v, int | float) and not isinstance(v, bool)  # noqa: E731
        rel = (tv - bv) / bv if num(bv) and num(tv) and bv else None
        rows.append(
            {
                "benchmark": b.benchmark,
                "metric": spec.key,
                "label": spec.label,
                "direction": spec.direction,
                "columns": list(spec.columns),
                "scale": spec.scale,
                "base": bv if num(bv) else None,
                "trained": tv if num(tv) else None,
                "relative_change": rel,
            }  # fmt: skip
        )
    return rows


def _default_entries() -> Path | None:
    here = RLHFV_DIR.parents[1] / "leaderboard" / "entries"
    return here if here.is_dir() else None


def _entries(
    preset: Preset,
    out: Path,
    entries_dir: Path | None,
    rows: list[dict[str, Any]],
    labels: tuple[str, str],
) -> Path:
    """OUT/leaderboard-entries: the paper's entry files and a "reproduction" table."""
    dest = out / "leaderboard-entries"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    source = entries_dir or _default_entries()
    paper: dict[str, dict[str, float]] = {}
    if source is not None:
        for f in sorted(Path(source).glob("*.json")):
            shutil.copyfile(f, dest / f.name)
            data = json.loads(f.read_text(encoding="utf-8"))
            for row in data.get("rows", []) if data.get("table") == "main" else []:
                paper.setdefault(row["model"], row["values"])
    columns, ours, theirs = [], {}, {}
    rep = preset.reproduces
    pb, pt = paper.get(rep.get("paper_base_row") or ""), paper.get(rep.get("paper_row") or "")
    for r in rows:
        key = f"{r['columns'][0] if r['columns'] else r['benchmark'] + '_' + r['metric']}_rel"
        columns.append(
            {
                "key": key,
                "label": f"{r['label']} rel. change",
                "better": r["direction"],
                "unit": "%",
            }
        )
        if r["relative_change"] is not None:
            ours[key] = round(100 * r["relative_change"], 4)
        col = r["columns"][0] if r["columns"] else None
        if pb and pt and col in pb and col in pt and pb[col]:
            theirs[key] = round(100 * (pt[col] - pb[col]) / pb[col], 4)
    table_rows = [{"model": f"{labels[1]} vs {labels[0]} (this run)", "values": ours}]
    if theirs:
        table_rows.append(
            {"model": f"paper: {rep['paper_row']} vs {rep['paper_base_row']}", "values": theirs}
        )
    entry = {
        "schema": "halbench-leaderboard-entries/1",
        "table": "reproduction",
        "title": f"Reproduction ({preset.name}): relative change, trained vs base (% of base)",
        "source": {
            "kind": "reproduced",
            "citation": str(rep.get("citation", "")),
            "notes": f"halbench reproduce rlhfv --preset {preset.name}: {preset.description}",
            "record": "summary.json",
        },  # fmt: skip
        "columns": columns,
        "rows": table_rows,
    }
    atomic_write_json(dest / "reproduction.json", entry)
    return dest


def report_stage(
    preset: Preset,
    out: Path,
    entries_dir: Path | None,
    prepared: dict,
    base: dict,
    trained: dict,
    trained_eval: dict,
) -> dict[str, str]:
    from halbench.leaderboard.build import build_site

    record_file = trained.get("train_record")  # None: a released model, not trained here
    train_info = json.loads(Path(record_file).read_text(encoding="utf-8")) if record_file else {}
    reproduces = {"preset": preset.name, "description": preset.description, **preset.reproduces}
    trained_from = {
        "base_model": prepared["base_model"],
        "base_fingerprint": prepared["base_fingerprint"],
        "base_records": base["records"],
        "train_record": record_file,
        "train_record_sha256": trained.get("train_record_sha256"),
        "config": train_info.get("config"),
        "resolved": train_info.get("resolved"),
        "data_source": prepared.get("data"),
        "data_checksum": prepared.get("data_checksum"),
        "n_pairs": prepared.get("n_pairs"),
        "steps": trained.get("steps"),
        "loss_curve": train_info.get("loss_curve"),
    }
    records_dir = out / "records"
    rows: list[dict[str, Any]] = []
    for bench, path in trained_eval["records"].items():
        entry, row = preset.reproduces.get("entry"), preset.reproduces.get("paper_row")
        b = _link(Path(base["records"][bench]), records_dir / "base" / f"{bench}.json",
                  {"reproduction": {"preset": preset.name, "role": "base"}},
                  {"base_of": _fingerprint(path)})  # fmt: skip
        t = _link(Path(path), records_dir / "trained" / f"{bench}.json",
                  {"reproduces": reproduces, "trained_from": trained_from,
                   "reproduction": {"preset": preset.name, "role": "trained"}},
                  {"reproduces": f"{entry}:{row}" if entry and row else None,
                   "trained_from": _fingerprint(base["records"][bench])})  # fmt: skip
        rows += _metric_rows(b, t)

    def label(model: str) -> str:
        return Path(model).name if Path(model).is_dir() else model

    labels = (label(prepared["base_model"]), label(trained["checkpoint"]))
    summary = {"preset": preset.name, "reproduces": reproduces, "base": labels[0], "trained": labels[1],
               "train_record": record_file, "metrics": rows}  # fmt: skip
    atomic_write_json(out / "summary.json", summary)
    entries = _entries(preset, out, entries_dir, rows, labels)
    site = build_site(entries, [records_dir], out / "leaderboard")
    return {"summary": str(out / "summary.json"), "leaderboard": str(site.index)}


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{'benchmark':<18} {'metric':<16} {'base':>9} {'trained':>9} {'rel. change':>12}"]
    for r in summary["metrics"]:

        def pct(v: float | None, scale: float = r["scale"]) -> str:
            return "n/a" if v is None else f"{v * scale:.2f}"

        rel = "n/a" if r["relative_change"] is None else f"{100 * r['relative_change']:+.1f} %"
        lines.append(
            f"{r['benchmark']:<18} {r['label']:<16} {pct(r['base']):>9} {pct(r['trained']):>9} {rel:>12}"
        )
    return "\n".join(lines)
