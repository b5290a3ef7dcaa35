"""``halbench leaderboard add RECORD...``: copy validated result records into ``ENTRIES/runs/``.

All or nothing: the destination is checked first, then every record is validated, then all
are written (to a staging folder beside ``runs/``, then renamed in). A bad record or an
unusable destination is one ``InputError`` and nothing is added.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from halbench.errors import InputError
from halbench.io import atomic_write_text, make_temp_dir
from halbench.leaderboard.data import load_entries, model_key, model_name, slug
from halbench.paths import halbench_home
from halbench.types import ResultRecord


def default_entries() -> Path:
    """``$HALBENCH_HOME/leaderboard``: where ``add`` writes and ``build`` reads by default."""
    return halbench_home() / "leaderboard"


def check_reproduces(value: str, entries_dir: Path | None) -> str:
    """``ENTRY:ROW`` must name a row of a reported entry file (packaged or in ``entries_dir``)."""
    entry_id, _, row = value.partition(":")
    for entry in load_entries(entries_dir):
        if entry.id == entry_id:
            rows = [r.model for r in entry.rows]
            if row in rows:
                return value
            raise InputError(
                "--reproduces", f'{entry_id} has no row "{row}" (rows: {", ".join(rows)})'
            )
    raise InputError("--reproduces", f'no entry file "{entry_id}" (write ENTRY:ROW)')


def record_file_name(record: ResultRecord, path: Path) -> str:
    """``<model>-<hash>--<benchmark>--<date>.json``: unique per model identity (see ``model_key``)."""
    model = model_key(model_name(record, path))
    return f"{model}--{slug(record.benchmark)}--{slug(record.provenance.created_at)}.json"


def _runs_dir(entries_dir: Path, create: bool = False) -> Path:
    """``ENTRIES/runs``, checked (not yet created): an ``InputError`` when it cannot be used."""
    if create and not entries_dir.exists():
        return entries_dir / "runs"
    if not entries_dir.is_dir():
        what = "is not a folder" if entries_dir.exists() else "not found"
        raise InputError(
            str(entries_dir), f"leaderboard entries directory {what} (use --entries DIR)"
        )
    dest = entries_dir / "runs"
    if dest.exists() and not dest.is_dir():
        raise InputError(
            str(dest), "exists and is not a folder (records are copied into --entries DIR/runs/)"
        )
    for folder in (entries_dir, dest):  # the staging folder goes in ENTRIES, the records in runs/
        if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(str(folder), "not writable (--entries)")
    return dest


def add_records(
    records: list[str | Path],
    entries_dir: str | Path,
    *,
    reproduces: str | None = None,
    create: bool = False,
) -> list[Path]:
    """Copy validated records into ``ENTRIES/runs/`` (what ``build`` reads by default): all or none.

    ``reproduces``: set ``record.reproduces`` on the copies (``ENTRY:ROW``, checked).
    ``create``: make ``entries_dir`` (the default one) once everything is checked.
    Returns the paths written, in the order given.
    """
    dest = _runs_dir(Path(entries_dir), create)
    if reproduces is not None:
        given = Path(entries_dir) if Path(entries_dir).is_dir() else None
        reproduces = check_reproduces(reproduces, given)
    planned: dict[str, tuple[Path, str]] = {}
    names = []
    for path in map(Path, records):
        rec = ResultRecord.load(path)
        if reproduces is not None:
            rec.reproduces = reproduces
        name = record_file_name(rec, path)
        text = rec.to_json()
        if name in planned and planned[name][1] != text:
            raise InputError(
                str(path),
                f"same model, benchmark and date as {planned[name][0]} but a different record "
                f"(both would be {dest / name})",
            )
        planned[name] = (path, text)
        names.append(name)
    try:
        dest.mkdir(parents=create, exist_ok=True)
        staging = make_temp_dir(dest.parent, ".runs-adding-")
    except OSError as exc:
        raise InputError(str(dest.parent), f"cannot write here: {exc.strerror}") from None
    moved: list[Path] = []
    try:
        for name, (_, text) in planned.items():
            atomic_write_text(staging / name, text)
        for name in planned:
            target = dest / name
            existed = target.exists()
            os.replace(staging / name, target)
            if not existed:
                moved.append(target)
    except OSError as exc:
        for target in moved:  # none or all: take back the ones this call created
            target.unlink(missing_ok=True)
        raise InputError(str(dest), f"could not add the records: {exc.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [dest / name for name in names]
