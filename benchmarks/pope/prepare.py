"""``halbench data prepare pope``: the shipped question files of the three splits, with local COCO images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError, InputError
from halbench.prepare import prepare_into, prompt_suffix, write_items
from halbench.registry import Benchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--coco-images",
        type=Path,
        metavar="DIR",
        required=True,
        help="COCO val2014 image directory",
    )


def _prepare_pope(
    bench: Benchmark, out: Path, *, coco_images: Path | None = None, **_: Any
) -> dict[str, Any]:
    from benchmarks.pope.score import load_questions, split_name

    if coco_images is None:
        raise HalbenchError("pope needs --coco-images: a local COCO val2014 image directory")
    suffix = prompt_suffix(bench)
    items, missing = [], set()
    for ref in bench.spec["data"]["questions"]:
        path = bench.resolve(ref)
        name = split_name(path)
        for q in load_questions(path):
            image = Path(coco_images) / q["image"]
            if not image.is_file():
                missing.add(q["image"])
                continue
            items.append(
                {
                    "id": f"{name}-{q['question_id']}",
                    "image": str(image.resolve()),
                    "question": q["text"] + suffix,
                    "split": name,
                    "question_id": q["question_id"],
                    "label": q["label"],
                    "raw_question": q["text"],
                    "coco_image": q["image"],
                }
            )
    if missing:
        shown = ", ".join(sorted(missing)[:5])
        raise InputError(str(coco_images), f"{len(missing)} POPE images missing, e.g. {shown}")
    write_items(out, items)
    return {
        "variant": None,
        "source": {"images_dir": str(Path(coco_images).resolve())},
        "prompt_suffix": suffix,
        "items": len(items),
    }


def prepare(bench: Benchmark, data_dir: Path | None, **options: Any) -> Path:
    """Prepare into ``data_dir`` (default ``$HALBENCH_HOME/data``) atomically; return the folder."""
    return prepare_into(bench, data_dir, _prepare_pope, **options)
