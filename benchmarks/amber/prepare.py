"""``halbench data prepare amber``: the shipped queries with a local copy of AMBER's images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError, InputError
from halbench.io import read_json
from halbench.prepare import prepare_into, write_items
from halbench.registry import Benchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--amber-images",
        type=Path,
        metavar="DIR",
        required=True,
        help="AMBER's image directory (AMBER_1.jpg ...)",
    )


def _prepare_amber(
    bench: Benchmark, out: Path, *, amber_images: Path | None = None, **_: Any
) -> dict[str, Any]:
    if amber_images is None:
        raise HalbenchError(
            "amber needs --amber-images: a local copy of AMBER's images (AMBER_1.jpg ...)"
        )
    queries = read_json(bench.resolve(bench.spec["data"]["queries"]))
    items, missing = [], set()
    for q in queries:
        image = Path(amber_images) / q["image"]
        if not image.is_file():
            missing.add(q["image"])
            continue
        items.append(
            {
                "id": str(q["id"]),
                "image": str(image.resolve()),
                "question": q["query"],
                "amber_id": q["id"],
            }
        )
    if missing:
        shown = ", ".join(sorted(missing)[:5])
        raise InputError(str(amber_images), f"{len(missing)} AMBER images missing, e.g. {shown}")
    write_items(out, items)
    return {
        "variant": None,
        "source": {"images_dir": str(Path(amber_images).resolve())},
        "items": len(items),
    }


def prepare(bench: Benchmark, data_dir: Path | None, **options: Any) -> Path:
    """Prepare into ``data_dir`` (default ``$HALBENCH_HOME/data``) atomically; return the folder."""
    return prepare_into(bench, data_dir, _prepare_amber, **options)
