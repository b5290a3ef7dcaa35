"""What a result record says about how it was made: versions, git revision, inputs, time."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from halbench.types import InputFile, Provenance

_PACKAGES = ("nltk", "pydantic", "regex")


def halbench_version() -> str:
    try:
        return metadata.version("halbench")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        from halbench import __version__

        return __version__


@lru_cache(maxsize=1)
def git_revision() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the halbench source checkout, or (None, None) if not in one."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if rev.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    return rev.stdout.strip(), bool(status.stdout.strip())


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    out = {}
    for name in (*_PACKAGES, *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def make_provenance(
    *,
    inputs: list[InputFile],
    duration_s: float,
    created_at: str,
    command: list[str] | None = None,
    details: dict[str, Any] | None = None,
) -> Provenance:
    rev, dirty = git_revision()
    return Provenance(
        halbench_version=halbench_version(),
        git_revision=rev,
        git_dirty=dirty,
        python=sys.version.split()[0],
        platform=platform.platform(),
        packages=package_versions(),
        command=command,
        created_at=created_at,
        duration_s=round(duration_s, 3),
        inputs=inputs,
        details=details or {},
    )
