"""``halbench data prepare vqav2``: official questions (and annotations) with local COCO images."""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError, InputError
from halbench.prepare import find_coco_image, prepare_into, prompt_suffix, write_items
from halbench.progress import track
from halbench.registry import Benchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vqa-questions", type=Path, metavar="FILE", required=True, help="official questions JSON"
    )
    parser.add_argument(
        "--vqa-annotations",
        type=Path,
        metavar="FILE",
        help="official annotations JSON (omit for test-dev)",
    )
    parser.add_argument(
        "--coco-images", type=Path, metavar="DIR", required=True, help="the split's COCO images"
    )
    parser.add_argument("--subset", type=int, metavar="N", help="a seeded subset of N questions")
    parser.add_argument("--seed", type=int, help="--subset seed (default 0)")
    parser.add_argument(
        "--split", default="val2014", help="image split of the questions (val2014, test2015, ...)"
    )


def _prepare_vqav2(
    bench: Benchmark,
    out: Path,
    *,
    vqa_questions: Path | None = None,
    vqa_annotations: Path | None = None,
    coco_images: Path | None = None,
    subset: int | None = None,
    seed: int | None = None,
    split: str = "val2014",
    **_: Any,
) -> dict[str, Any]:
    from benchmarks.vqav2.score import load_annotations, load_questions

    if vqa_questions is None or coco_images is None:
        raise HalbenchError(
            "vqav2 needs --vqa-questions (official questions JSON) and --coco-images (the split's images)"
        )
    questions = load_questions(vqa_questions)
    if vqa_annotations is not None:
        order = [q.question_id for q in load_annotations(vqa_annotations)]
        missing = [qid for qid in order if qid not in questions]
        if missing:
            raise InputError(
                str(vqa_questions),
                f"{len(missing)} annotated questions are not in this file, e.g. {missing[:5]}",
            )
    else:
        order = list(questions)
    variant = None
    if subset is not None and subset < len(order):
        chosen = set(random.Random(seed or 0).sample(order, subset))
        order = [qid for qid in order if qid in chosen]  # keep annotation order
        variant = f"subset{subset}-seed{seed or 0}"
    suffix = prompt_suffix(bench)
    items = []
    for qid in track(order, desc="vqav2 items", unit="q"):
        q = questions[qid]
        path = find_coco_image(Path(coco_images), q["image_id"], split)
        items.append(
            {
                "id": str(qid),
                "image": str(path),
                "image_id": q["image_id"],
                "question": q["question"] + suffix,
                "question_id": qid,
                "raw_question": q["question"],
            }
        )
    write_items(out, items)
    return {
        "variant": variant,
        "source": {
            "questions": str(Path(vqa_questions).resolve()),
            "images_dir": str(Path(coco_images).resolve()),
            "split": split,
        },
        "annotations": str(Path(vqa_annotations).resolve()) if vqa_annotations else None,
        "prompt_suffix": suffix,
        "items": len(items),
    }


def prepare(bench: Benchmark, data_dir: Path | None, **options: Any) -> Path:
    """Prepare into ``data_dir`` (default ``$HALBENCH_HOME/data``) atomically; return the folder."""
    return prepare_into(bench, data_dir, _prepare_vqav2, **options)
