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
from halbench.leaderboard.data import model_key, model_name, slug
from halbench.types import ResultRecord


def record_file_name(record: ResultRecord, path: Path) -> str:
    """``<model>-<hash>--<benchmark>--<date>.json``: unique per model identity (see ``model_key``)."""
    model = model_key(model_name(record, path))
    return f"{model}--{slug(record.benchmark)}--{slug(record.provenance.created_at)}.json"


def _runs_dir(entries_dir: Path) -> Path:
    """``ENTRIES/runs``, checked (not yet created): an ``InputError`` when it cannot be used."""
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


def add_records(records: list[str | Path], entries_dir: str | Path) -> list[Path]:
    """Copy validated records into ``ENTRIES/runs/`` (what ``build`` reads by default): all or none.

    Returns the paths written, in the order given.
    """
    dest = _runs_dir(Path(entries_dir))
    planned: dict[str, tuple[Path, str]] = {}
    names = []
    for path in map(Path, records):
        rec = ResultRecord.load(path)
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
        dest.mkdir(exist_ok=True)
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
