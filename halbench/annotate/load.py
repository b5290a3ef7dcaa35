"""A ``halbench run`` output directory -> items in the annotation store.

``RUN_DIR/<benchmark>/answers.jsonl`` gives the answers (one line per answered item:
``item_id``, ``question``, ``answer``, ...); the benchmark's own ``items.jsonl`` gives
the image of each item (the only files the app will ever serve); ``result.json`` gives
the model. Loading is idempotent: items already in the store are kept as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halbench.annotate.store import AnnotationStore
from halbench.errors import HalbenchError, InputError
from halbench.io import read_jsonl


@dataclass
class Loaded:
    benchmark: str
    db: Path
    added: int
    kept: int
    total: int


def find_benchmark(run_dir: Path, benchmark: str | None) -> str:
    """The benchmark folder of the run to annotate: the one given, or the only one there."""
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "run directory not found")
    found = sorted(p.parent.name for p in run_dir.glob("*/answers.jsonl"))
    if benchmark is not None:
        if benchmark not in found:
            raise InputError(
                str(run_dir / benchmark / "answers.jsonl"),
                f"no answers for benchmark {benchmark!r} in this run"
                + (f" (it has: {', '.join(found)})" if found else ""),
            )
        return benchmark
    if len(found) != 1:
        raise HalbenchError(
            f"{run_dir}: "
            + (
                "no <benchmark>/answers.jsonl found"
                if not found
                else f"several benchmarks ({', '.join(found)})"
            )
            + ": pass --benchmark NAME"
        )
    return found[0]


def default_db(run_dir: Path, benchmark: str) -> Path:
    return run_dir / benchmark / "annotations.sqlite"


def read_run(
    run_dir: Path, benchmark: str, data_dir: Path | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """The items (with resolved image paths), the run (model, version), the image folders."""
    from halbench.registry import get_benchmark

    answers_path = run_dir / benchmark / "answers.jsonl"
    bench = get_benchmark(benchmark)
    images = {it.id: it.image for it in bench.load_items(data_dir, check_images=False)}
    items = []
    for number, rec in read_jsonl(answers_path):
        for key in ("item_id", "question", "answer"):
            if key not in rec:
                raise InputError(str(answers_path), f'missing "{key}"', line=number, field=key)
            if not isinstance(rec[key], str):
                raise InputError(
                    str(answers_path), f'"{key}" must be a string', line=number, field=key
                )
        if rec["item_id"] not in images:
            raise InputError(
                str(answers_path),
                f"item {rec['item_id']!r} is not in benchmark {benchmark!r}",
                line=number,
                field="item_id",
            )
        image = images[rec["item_id"]]
        fields = {k: v for k, v in rec.items() if k not in ("item_id", "question", "answer")}
        items.append(
            {
                "item_id": rec["item_id"],
                "question": rec["question"],
                "answer": rec["answer"],
                "image": str(image) if image is not None else None,
                "fields": fields,
            }
        )
    if not items:
        raise InputError(str(answers_path), "no answers")
    run: dict[str, Any] = {"benchmark_version": bench.version}
    result = run_dir / benchmark / "result.json"
    if result.exists():
        try:
            rec = json.loads(result.read_text(encoding="utf-8"))
        except ValueError:
            raise InputError(str(result), "not valid JSON") from None
        run["model"] = rec.get("model") or {}
        run["benchmark_version"] = rec.get("benchmark_version", bench.version)
    # the folders the benchmark's own items put their images in (a prepared copy, or a
    # local COCO/AMBER folder named at prepare time): the only places images are served from
    roots = sorted({str(Path(p).resolve().parent) for p in images.values() if p is not None})
    return items, run, roots


def load_run(
    run_dir: Path,
    benchmark: str | None = None,
    db: Path | None = None,
    data_dir: Path | None = None,
) -> Loaded:
    run_dir = Path(run_dir)
    name = find_benchmark(run_dir, benchmark)
    items, run, image_roots = read_run(run_dir, name, data_dir)
    db_path = db or default_db(run_dir, name)
    store = AnnotationStore(db_path)
    try:
        added, kept = store.load(
            {
                "benchmark": name,
                "run_dir": str(run_dir.resolve()),
                "model": json.dumps(run.get("model", {}), ensure_ascii=False),
                "benchmark_version": str(run["benchmark_version"]),
                "image_roots": json.dumps(image_roots),
            },
            items,
        )  # benchmark check, meta and items: one transaction
        total = len(store.items())
    finally:
        store.close()
    return Loaded(name, db_path, added, kept, total)
