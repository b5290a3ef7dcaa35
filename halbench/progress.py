"""The one progress helper. Off by default (tests, library use); the CLI turns it on."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_enabled = False


def set_enabled(enabled: bool) -> None:
    """Show progress bars (on stderr) for long loops; the CLI calls this."""
    global _enabled
    _enabled = enabled


def is_enabled() -> bool:
    return _enabled


def track(
    items: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it"
) -> Iterator[T]:
    """Iterate ``items``, drawing a progress bar on stderr when enabled and stderr is a terminal."""
    if not _enabled:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(
        items,
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        leave=False,
        mininterval=0.5,
        dynamic_ncols=True,
        disable=None,
    )


class Bar:
    """A progress bar with live figures (``update(loss=0.61)``); does nothing when disabled."""

    def __init__(self, total: int, *, desc: str = "", unit: str = "it") -> None:
        self._bar = None
        if _enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=desc,
                unit=unit,
                file=sys.stderr,
                leave=False,
                mininterval=0.5,
                dynamic_ncols=True,
                disable=None,
            )

    def update(self, n: int = 1, **figures: float) -> None:
        if self._bar is not None:
            if figures:
                self._bar.set_postfix({k: f"{v:.4g}" for k, v in figures.items()}, refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
