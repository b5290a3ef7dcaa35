"""The benchmark registry: one folder per benchmark under the top-level ``benchmarks/``.

The framework names no benchmark: everything it knows of one comes from its folder.
Each folder under ``benchmarks/`` holds ``benchmark.toml`` (name, version,
prompts, data sources with checksums, scorer and its options, generation defaults,
citation) and ``README.md`` (the data card). Small data ships in the folder; larger
data is prepared once with ``halbench data prepare NAME`` into
``$HALBENCH_HOME/data/NAME/``. Either way a prepared benchmark is an ``items.jsonl``
(one item per line: ``id``, ``image`` path relative to that file, ``question``,
optionally ``image_id`` and other fields) plus whatever its scorer needs.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from halbench.errors import HalbenchError, InputError
from halbench.io import read_jsonl
from halbench.paths import halbench_home

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

import benchmarks as _benchmarks_pkg

BENCHMARKS_DIR = _benchmarks_pkg.HERE


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
class MetricSpec:
    """One ``[[metrics]]`` row: a metric the scorer reports, and where it is shown."""

    key: str  # the key in the record's metrics
    label: str
    direction: str  # "lower" | "higher": which is better
    headline: bool = False  # shown in the run summary
    columns: tuple[str, ...] = ()  # leaderboard column keys this metric fills
    column_label: str | None = None  # the leaderboard column's label (default: label)
    scale: float = 100.0  # multiplier for display (fractions are shown as percent)

    @classmethod
    def from_toml(cls, row: dict[str, Any], path: Path) -> MetricSpec:
        for key in ("key", "label", "direction"):
            if key not in row:
                raise InputError(str(path), f'[[metrics]] row without "{key}"', field=key)
        if row["direction"] not in ("lower", "higher"):
            raise InputError(
                str(path),
                f"[[metrics]] {row['key']}: direction must be lower or higher",
                field="direction",
            )
        return cls(
            key=row["key"],
            label=row["label"],
            direction=row["direction"],
            headline=bool(row.get("headline", False)),
            columns=tuple(row.get("columns", ())),
            scale=float(row.get("scale", 100.0)),
            column_label=row.get("column_label"),
        )


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

    @property
    def judged(self) -> bool:
        """Scored by an LLM judge: without one, ``halbench run`` stores answers, "not judged"."""
        return bool(self.spec.get("judged", False))

    @property
    def needs_ground_truth(self) -> bool:
        return "ground_truth" in self.spec.get("scorer_options", {})

    @property
    def metrics(self) -> list[MetricSpec]:
        """The ``[[metrics]]`` of the definition (of the scorer's home benchmark if it has none)."""
        rows = self.spec.get("metrics")
        if rows is None:
            home = scorer_home(self.scorer)
            return home.metrics if home is not None and home is not self else []
        return [MetricSpec.from_toml(row, self.folder / "benchmark.toml") for row in rows or []]

    def module(self, kind: str) -> ModuleType:
        """This benchmark's ``prepare``/``score``/... module, imported now (lazily)."""
        return importlib.import_module(f"benchmarks.{self.name.replace('-', '_')}.{kind}")

    def scorer_module(self) -> ModuleType:
        """The ``score`` module that scores this benchmark: its scorer's home folder's."""
        home = scorer_home(self.scorer)
        if home is None:
            raise HalbenchError(f"benchmark '{self.name}' names an unknown scorer '{self.scorer}'")
        return home.module("score")

    def data_dir(self, override: Path | None = None) -> Path:
        """Where the prepared data is: the folder itself for shipped data."""
        if self.shipped:
            return self.folder
        return override / self.name if override else halbench_home() / "data" / self.name

    def resolve(self, ref: str, data_dir: Path | None = None) -> Path:
        """A path from the definition: ``shipped:PATH`` (in this benchmark's folder),
        ``benchmark:NAME/PATH`` (in another shipped benchmark's folder) or relative to the
        prepared data dir."""
        if ref.startswith("shipped:"):
            return self.folder / ref.removeprefix("shipped:")
        if ref.startswith("benchmark:"):
            name, _, rest = ref.removeprefix("benchmark:").partition("/")
            return get_benchmark(name).folder / rest
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
    for spec in sorted(BENCHMARKS_DIR.glob("*/benchmark.toml")):
        bench = _load(spec.parent)
        for key in (bench.name, *bench.aliases):
            if key in out:
                raise InputError(str(spec), f"benchmark name {key!r} is defined twice")
            out[key] = bench
    return out


def definition(module_file: str | Path) -> Benchmark:
    """The benchmark whose folder holds ``module_file`` (a benchmark module's ``__file__``):
    how a benchmark's code reads its own ``benchmark.toml`` (its one version, its sources)."""
    folder = Path(module_file).resolve().parent
    for bench in registry().values():
        if bench.folder == folder:
            return bench
    raise UnknownBenchmark(f"{folder} is not a shipped benchmark folder")


def scorer_home(scorer: str) -> Benchmark | None:
    """The shipped benchmark whose folder holds scorer ``scorer``'s ``score.py``."""
    for bench in registry().values():
        if bench.scorer == scorer and (bench.folder / "score.py").is_file():
            return bench
    return None


def scorer_of(record: Any) -> str:
    """The scorer that made a result record (one scored outside a run names only its benchmark)."""
    return str(record.protocol.get("scorer") or record.benchmark)


def scorer_metrics(scorer: str) -> list[MetricSpec]:
    """The ``[[metrics]]`` of scorer ``scorer`` (empty for an unknown scorer)."""
    home = scorer_home(scorer)
    return home.metrics if home is not None else []


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
