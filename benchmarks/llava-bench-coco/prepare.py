"""``halbench data prepare llava-bench-coco``: the 30 COCO val2014 images of the shipped questions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from halbench.coco import parse_coco_id
from halbench.errors import HalbenchError, InputError
from halbench.io import read_jsonl
from halbench.prepare import find_coco_image, prepare_into, write_items
from halbench.registry import Benchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--coco-images",
        type=Path,
        metavar="DIR",
        required=True,
        help="COCO val2014 image directory",
    )


def _prepare_llava_bench_coco(
    bench: Benchmark, out: Path, *, coco_images: Path | None = None, **_: Any
) -> dict[str, Any]:
    if coco_images is None:
        raise HalbenchError(
            "llava-bench-coco needs --coco-images: a local COCO val2014 image directory"
        )
    questions = bench.resolve(bench.spec["data"]["questions"])
    items = []
    missing = []
    for _, rec in read_jsonl(questions):
        image_id = parse_coco_id(rec["image"])
        try:
            path = find_coco_image(Path(coco_images), image_id)
        except InputError:
            missing.append(image_id)
            continue
        items.append(
            {
                "id": str(rec["question_id"]),
                "image": str(path),
                "image_id": image_id,
                "question": rec["text"],
                "category": rec["category"],
            }
        )
    if missing:
        ids = ", ".join(str(i) for i in sorted(set(missing)))
        raise InputError(
            str(coco_images), f"{len(set(missing))} of the 30 LLaVA-Bench images are missing: {ids}"
        )
    write_items(out, items)
    return {
        "variant": None,
        "source": {"kind": "coco_images", "images_dir": str(Path(coco_images).resolve())},
        "items": len(items),
    }


def prepare(bench: Benchmark, data_dir: Path | None, **options: Any) -> Path:
    """Prepare into ``data_dir`` (default ``$HALBENCH_HOME/data``) atomically; return the folder."""
    return prepare_into(bench, data_dir, _prepare_llava_bench_coco, **options)
