"""``halbench data prepare object-halbench``: RLHF-V's 300-item file (git blob verified) or a seeded COCO sample."""

from __future__ import annotations

import argparse
import base64
import random
import shutil
from pathlib import Path
from typing import Any

from halbench.coco import coco_id_field
from halbench.errors import HalbenchError, InputError
from halbench.io import read_json, read_jsonl
from halbench.prepare import (
    check_coco_annotations,
    fetch_verified,
    find_coco_image,
    image_suffix,
    prepare_into,
    write_items,
)
from halbench.progress import track
from halbench.registry import Benchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="PATH",
        help="RLHF-V's obj_halbench_300_with_image.jsonl, already downloaded (else downloaded)",
    )
    parser.add_argument(
        "--coco-annotations",
        type=Path,
        metavar="DIR",
        help="COCO 2014 annotations, recorded for scoring",
    )
    parser.add_argument(
        "--coco-sample",
        action="store_true",
        help="a documented seeded sample of 300 val2014 images instead of the official file",
    )
    parser.add_argument(
        "--coco-images", type=Path, metavar="DIR", help="--coco-sample: COCO val2014 images"
    )
    parser.add_argument("--seed", type=int, help="--coco-sample seed (default 0)")
    parser.add_argument("--offline", action="store_true", help="never try to download")


def _prepare_object_halbench(
    bench: Benchmark,
    out: Path,
    *,
    source: Path | None = None,
    coco_annotations: Path | None = None,
    coco_sample: bool = False,
    coco_images: Path | None = None,
    seed: int | None = None,
    offline: bool = False,
    expected_blob: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    official = bench.spec["sources"]["official"]
    ann = check_coco_annotations(coco_annotations)
    if coco_sample:
        return _object_halbench_coco_sample(bench, out, coco_images, coco_annotations, seed, ann)
    blob = expected_blob or official["git_blob"]
    source = fetch_verified(
        source,
        url=official["url"],
        blob=blob,
        download_to=out / "download" / Path(official["path"]).name,
        offline=offline,
        offline_message="object-halbench: give the question file with --from PATH (RLHF-V/RLHF-V "
        f"{official['path']}, git blob {blob}), or use --coco-sample",
        retry_hint=f"Offline? Download {official['url']} elsewhere and pass --from PATH, "
        "or use --coco-sample with a local COCO copy.",
        describe=f"{official['repository']} {official['path']}",
    )
    images = out / "images"
    images.mkdir()
    items = []
    for index, (number, rec) in enumerate(
        track(list(read_jsonl(source)), desc="extracting images", unit="img")
    ):
        for key in ("question", "image"):
            if key not in rec:
                raise InputError(str(source), f'missing "{key}"', line=number, field=key)
        image_id = coco_id_field(rec, "image_id", source, number)
        try:
            data = base64.b64decode(rec["image"], validate=False)
        except (ValueError, TypeError):
            raise InputError(
                str(source), '"image" is not base64 image data', line=number, field="image"
            ) from None
        name = f"{index:03d}_{image_id:012d}{image_suffix(data)}"
        (images / name).write_bytes(data)
        item = {
            "id": str(index),
            "image": f"images/{name}",
            "image_id": image_id,
            "question": rec["question"],
        }
        if "org_idx" in rec:
            item["org_idx"] = rec["org_idx"]
        items.append(item)
    write_items(out, items)
    shutil.rmtree(out / "download", ignore_errors=True)
    return {
        "variant": None,
        "source": {"kind": "official", **official, "verified_git_blob": blob},
        "coco_annotations": ann,
        "items": len(items),
    }


def _object_halbench_coco_sample(
    bench: Benchmark,
    out: Path,
    coco_images: Path | None,
    coco_annotations: Path | None,
    seed: int | None,
    ann: str | None,
) -> dict[str, Any]:
    spec = bench.spec["sources"]["coco_sample"]
    seed = spec["seed"] if seed is None else seed
    if coco_images is None or coco_annotations is None:
        raise HalbenchError(
            "--coco-sample needs --coco-images (val2014 images) and --coco-annotations"
        )
    inst = Path(coco_annotations) / "instances_val2014.json"
    if not inst.exists():
        raise InputError(
            str(coco_annotations),
            "instances_val2014.json is missing (the sample is drawn from val2014)",
        )
    data = read_json(inst)
    ids = sorted(int(img["id"]) for img in data.get("images", []))
    if len(ids) < spec["items"]:
        raise InputError(str(inst), f"only {len(ids)} images; the sample needs {spec['items']}")
    chosen = random.Random(seed).sample(ids, spec["items"])
    prompts = bench.prompts
    items = []
    for index, image_id in enumerate(chosen):
        path = find_coco_image(Path(coco_images), image_id)
        items.append(
            {
                "id": str(index),
                "image": str(path),
                "image_id": image_id,
                "question": prompts[index % len(prompts)],
            }
        )
    write_items(out, items)
    return {
        "variant": f"coco-sample-seed{seed}",
        "source": {
            "kind": "coco_sample",
            "seed": seed,
            "split": "val2014",
            "images_dir": str(Path(coco_images).resolve()),
        },
        "coco_annotations": ann,
        "items": len(items),
        "note": "not the official Object HalBench items: numbers are not comparable with the paper's",
    }


def prepare(bench: Benchmark, data_dir: Path | None, **options: Any) -> Path:
    """Prepare into ``data_dir`` (default ``$HALBENCH_HOME/data``) atomically; return the folder."""
    return prepare_into(bench, data_dir, _prepare_object_halbench, **options)
