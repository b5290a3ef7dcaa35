"""Destinations checked before slow work: one line naming the path and the flag, never a
traceback after the work is done. Nothing is created here."""

from __future__ import annotations

import os
from pathlib import Path

from halbench.errors import InputError


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (something to create things in)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_parent(path: Path, flag: str) -> None:
    """The folder that will hold ``path`` exists or can be made, and can be written."""
    base = _first_existing(path.parent)
    if not base.is_dir():
        raise InputError(str(path), f"cannot write {flag} here: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(str(path), f"cannot write {flag} here: {base} is not writable")


def check_writable_file(path: str | Path, flag: str) -> None:
    """Raise ``InputError`` (naming ``path`` and ``flag``) unless a file can be written there.

    For commands to call before any slow work (model load, judge calls, big inputs): a
    path that is a folder, one under a file, or in an unwritable folder fails at once.
    Nothing is created.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(str(path), f"{flag} is a folder: give a file path")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(str(path), f"{flag} exists and is not writable")
    _check_parent(path, flag)


def check_writable_dir(path: str | Path, flag: str) -> None:
    """Raise ``InputError`` (naming ``path`` and ``flag``) unless a folder can be used or made there.

    Like ``check_writable_file``: an existing file at ``path``, a file among its
    ancestors, or an unwritable folder fails at once. Nothing is created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(str(path), f"{flag} exists and is not a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(str(path), f"{flag} is not writable")
        return
    _check_parent(path, flag)
