"""Where halbench keeps data it prepares and caches (NLTK data, ground-truth caches).

The root is ``$HALBENCH_HOME`` when set, otherwise ``$XDG_CACHE_HOME/halbench``
(``~/.cache/halbench`` by default). Everything under it can be deleted and rebuilt.
"""

from __future__ import annotations

import os
from pathlib import Path


def halbench_home() -> Path:
    """Return the root directory for halbench's prepared data and caches."""
    explicit = os.environ.get("HALBENCH_HOME")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "halbench"


def nltk_data_dir() -> Path:
    """NLTK data prepared by ``halbench setup nltk`` (searched after NLTK's own paths)."""
    return halbench_home() / "nltk_data"


def cache_dir() -> Path:
    """Caches that are safe to delete (ground truth, file checksums)."""
    return halbench_home() / "cache"
