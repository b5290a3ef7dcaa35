"""halbench's benchmarks: one folder per benchmark, each a self-contained unit.

A folder ``benchmarks/<name>/`` holds ``benchmark.toml`` (the definition: version, data
sources with checksums, prompts, ``[[metrics]]``), ``README.md`` (the data card),
``prepare.py``, ``metrics.py`` (pure protocol code), ``score.py`` and, where the protocol
has one, ``oracle.py`` (the literal reference procedure) and ``data/`` (shipped files).
See docs/adding-a-benchmark.md.

Folder names use hyphens (``object-halbench``); Python imports them with underscores
(``benchmarks.object_halbench.score``): the finder below maps one to the other. The
framework (``halbench.registry``) imports a benchmark's modules only when it is used.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


class _FolderFinder(importlib.abc.MetaPathFinder):
    """``benchmarks.foo_bar`` -> the package in folder ``benchmarks/foo-bar/``."""

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        prefix, _, name = fullname.partition(".")
        if prefix != __name__ or not name or "." in name:
            return None
        folder = HERE / name.replace("_", "-")
        init = folder / "__init__.py"
        if not init.is_file():
            return None
        return importlib.util.spec_from_file_location(
            fullname, init, submodule_search_locations=[str(folder)]
        )


if not any(isinstance(f, _FolderFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _FolderFinder())
