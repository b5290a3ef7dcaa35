"""Benchmark definitions: one folder per benchmark, loaded through a registry.

Each folder under ``halbench/benchmarks/`` holds ``benchmark.toml`` (name, version,
prompts, data sources with checksums, scorer and its options, generation defaults,
citation) and ``README.md`` (the data card). Small data ships in the folder; larger
data is prepared once with ``halbench data prepare NAME`` into
``$HALBENCH_HOME/data/NAME/``. Either way a prepared benchmark is an ``items.jsonl``
(one item per line: ``id``, ``image`` path relative to that file, ``question``,
optionally ``image_id`` and other fields) plus whatever its scorer needs.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError, InputError
from halbench.io import read_jsonl
from halbench.paths import halbench_home

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

_HERE = Path(__file__).resolve().parent
_RESOURCES = _HERE.parent / "resources"


class UnknownBenchmark(HalbenchError):
    pass


class NotPrepared(HalbenchError):
    """The benchmark's data is not there yet; the message says how to prepare it."""


@dataclass(frozen=True)
class Item:
    """One question about one image."""

    id: str
    question: str
    image: Path | None
    image_id: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # everything else on the item's line


@dataclass(frozen=True)
class Benchmark:
    """A benchmark definition (``benchmark.toml``) and where its data is."""

    name: str
    version: str
    title: str
    summary: str
    scorer: str
    citation: str
    folder: Path
    spec: dict[str, Any]

    @property
    def aliases(self) -> list[str]:
        return list(self.spec.get("aliases", []))

    @property
    def shipped(self) -> bool:
        return self.spec.get("data", {}).get("kind") == "shipped"

    @property
    def prompts(self) -> list[str]:
        return list(self.spec.get("prompts", []))

    @property
    def generation_defaults(self) -> dict[str, Any]:
        return dict(self.spec.get("generation", {}))

    @property
    def scorer_options(self) -> dict[str, Any]:
        return dict(self.spec.get("scorer_options", {}))

    def data_dir(self, override: Path | None = None) -> Path:
        """Where the prepared data is: the folder itself for shipped data."""
        if self.shipped:
            return self.folder
        return override / self.name if override else halbench_home() / "data" / self.name

    def resolve(self, ref: str, data_dir: Path | None = None) -> Path:
        """A path from the definition: ``resource:...`` (package data) or relative to the data dir."""
        if ref.startswith("resource:"):
            return _RESOURCES / ref.removeprefix("resource:")
        return self.data_dir(data_dir) / ref

    def items_path(self, data_dir: Path | None = None) -> Path:
        return self.resolve(self.spec.get("data", {}).get("items", "items.jsonl"), data_dir)

    def is_prepared(self, data_dir: Path | None = None) -> bool:
        return self.items_path(data_dir).exists()

    def load_items(self, data_dir: Path | None = None, *, check_images: bool = True) -> list[Item]:
        """Read ``items.jsonl``; raise ``NotPrepared`` (with the fix) or ``InputError``."""
        path = self.items_path(data_dir)
        if not path.exists():
            raise NotPrepared(
                f"benchmark '{self.name}' is not prepared ({path} is missing).\n"
                f"{self.spec.get('data', {}).get('prepare_hint', f'Run: halbench data prepare {self.name}')}"
            )
        items: list[Item] = []
        seen: set[str] = set()
        missing: list[str] = []
        for number, rec in read_jsonl(path):
            for key in ("id", "question"):
                if key not in rec:
                    raise InputError(str(path), f'missing "{key}"', line=number, field=key)
            if not isinstance(rec["question"], str):
                raise InputError(
                    str(path), '"question" must be a string', line=number, field="question"
                )
            item_id = str(rec["id"])
            if item_id in seen:
                raise InputError(
                    str(path), f"duplicate item id {item_id!r}", line=number, field="id"
                )
            seen.add(item_id)
            image = None
            if rec.get("image") is not None:
                image = (path.parent / str(rec["image"])).resolve()
                if check_images and not image.is_file():
                    missing.append(f"{path}:{number}: image {image} not found")
            image_id = rec.get("image_id")
            if image_id is not None and (
                not isinstance(image_id, int) or isinstance(image_id, bool)
            ):
                raise InputError(
                    str(path), '"image_id" must be an integer', line=number, field="image_id"
                )
            extra = {
                k: v for k, v in rec.items() if k not in ("id", "question", "image", "image_id")
            }
            items.append(Item(item_id, rec["question"], image, image_id, extra))
        if missing:
            more = f"\n... and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise InputError(
                str(path), f"{len(missing)} image(s) missing:\n" + "\n".join(missing[:5]) + more
            )
        if not items:
            raise InputError(str(path), "no items")
        return items


def _load(folder: Path) -> Benchmark:
    spec_path = folder / "benchmark.toml"
    try:
        spec = tomllib.loads(spec_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(spec_path), f"invalid TOML: {exc}") from None
    for key in ("name", "version", "title", "scorer"):
        if key not in spec:
            raise InputError(str(spec_path), f'missing "{key}"', field=key)
    return Benchmark(
        name=spec["name"],
        version=str(spec["version"]),
        title=spec["title"],
        summary=spec.get("summary", ""),
        scorer=spec["scorer"],
        citation=spec.get("citation", ""),
        folder=folder,
        spec=spec,
    )


@lru_cache(maxsize=1)
def registry() -> dict[str, Benchmark]:
    """All benchmark definitions shipped with halbench, by name (aliases included)."""
    out: dict[str, Benchmark] = {}
    for spec in sorted(_HERE.glob("*/benchmark.toml")):
        bench = _load(spec.parent)
        for key in (bench.name, *bench.aliases):
            if key in out:
                raise InputError(str(spec), f"benchmark name {key!r} is defined twice")
            out[key] = bench
    return out


def names() -> list[str]:
    return sorted({b.name for b in registry().values()})


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name`` (or an alias), or the definition folder at path ``name``.

    ``UnknownBenchmark`` says what was meant. A folder of your own (``benchmark.toml``
    + ``items.jsonl``) works like a shipped benchmark.
    """
    reg = registry()
    if name in reg:
        return reg[name]
    folder = Path(name).expanduser()
    if (folder / "benchmark.toml").is_file():
        return _load(folder.resolve())
    close = difflib.get_close_matches(name, list(reg), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownBenchmark(f"unknown benchmark '{name}'.{hint} Known: {', '.join(names())}")
