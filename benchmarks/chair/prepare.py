"""Prepare CHAIR's items: OPERA's 500 val2014 images (default) or a portable seeded draw.

``prepare_items(coco_images, ...)`` (``halbench data prepare chair``) writes ``items.jsonl`` (+ ``manifest.json``) into the
benchmark's data folder through ``halbench.prepare.prepare_into`` (temporary folder, then an
atomic move). Each item: ``id`` (the image id as a string), ``image`` (absolute path),
``image_id``, ``question`` ("Please describe this image in detail.").

Item sets:

* default: the 500 image ids of OPERA's released LLaVA-1.5 outputs
  (``data/opera_500_image_ids_llava-1.5.txt``, file order); OPERA drew them by shuffling
  a directory listing with seed 42, which is not portable, so the ids are shipped;
* ``ids_file=...``: another id list, one id per line (e.g. OPERA's InstructBLIP set,
  ``data/opera_500_image_ids_instructblip.txt``);
* ``sample=N, seed=S``: the val2014 image files present in ``coco_images``
  (``COCO_val2014_<12 digits>.jpg`` or ``<12 digits>.jpg``), their ids sorted
  ascending, then ``random.Random(S).sample(ids, N)`` (Python's documented, seeded,
  platform-independent draw); items in draw order. Not OPERA's set: numbers are not
  comparable with papers.

Every image must exist; the first missing one is named in a one-line error.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from importlib import resources
from pathlib import Path
from typing import Any

from halbench.errors import InputError
from halbench.prepare import prepare_into
from halbench.registry import Benchmark, definition

QUESTION = "Please describe this image in detail."
DEFAULT_IDS = "data/opera_500_image_ids_llava-1.5.txt"
_FILE_ID = re.compile(r"^(?:COCO_val2014_)?(\d{12})\.jpg$")


def benchmark() -> Benchmark:
    """This folder's definition (``benchmark.toml``)."""
    return definition(__file__)


def read_ids(path: str | Path) -> list[int]:
    """Image ids, one per line (blank lines ignored); a bad line is a one-line error."""
    ids = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text:
            continue
        if not text.isdigit():
            raise InputError(str(path), f"not a COCO image id: {text!r}", line=number)
        ids.append(int(text))
    if not ids:
        raise InputError(str(path), "no image ids")
    if len(set(ids)) != len(ids):
        raise InputError(str(path), "an image id is listed twice")
    return ids


def default_ids() -> list[int]:
    ref = resources.files(__package__).joinpath(DEFAULT_IDS)
    with resources.as_file(ref) as path:
        return read_ids(path)


def val2014_ids(coco_images: Path) -> list[int]:
    """The val2014 image ids whose files are in ``coco_images``, ascending."""
    ids = set()
    for entry in coco_images.iterdir():
        m = _FILE_ID.match(entry.name)
        if m:
            ids.add(int(m.group(1)))
    return sorted(ids)


def find_image(coco_images: Path, image_id: int) -> Path:
    for name in (f"COCO_val2014_{image_id:012d}.jpg", f"{image_id:012d}.jpg"):
        path = coco_images / name
        if path.is_file():
            return path.resolve()
    raise InputError(
        str(coco_images / f"COCO_val2014_{image_id:012d}.jpg"),
        f"image {image_id} not found (nor {image_id:012d}.jpg); CHAIR needs the COCO val2014 images",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``halbench data prepare chair`` flags."""
    parser.add_argument(
        "--coco-images",
        type=Path,
        metavar="DIR",
        required=True,
        help="COCO val2014 image directory",
    )
    parser.add_argument(
        "--coco-annotations",
        type=Path,
        metavar="DIR",
        help="COCO 2014 annotations (all four train/val instances and captions files), "
        "recorded for scoring",
    )
    parser.add_argument(
        "--ids-file",
        type=Path,
        metavar="FILE",
        help="another image id list, one per line (default: OPERA's 500 LLaVA-1.5 ids)",
    )
    parser.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="a portable seeded draw of N val2014 images present in --coco-images (not OPERA's set)",
    )
    parser.add_argument("--seed", type=int, default=0, help="--sample seed (default 0)")


def prepare(bench: Benchmark, data_dir: Path | None, **options: Any) -> Path:
    """The framework's entry point (``halbench data prepare chair``)."""
    images = options.pop("coco_images")
    return prepare_items(images, data_dir=data_dir, **options)


def prepare_items(
    coco_images: str | Path,
    *,
    coco_annotations: str | Path | None = None,
    ids_file: str | Path | None = None,
    sample: int | None = None,
    seed: int = 0,
    data_dir: Path | None = None,
) -> Path:
    """Write the prepared folder (``items.jsonl``, ``manifest.json``); return its path."""
    images = Path(coco_images)
    if not images.is_dir():
        raise InputError(str(images), "not a directory (expected the COCO val2014 images folder)")
    if sample is not None and ids_file is not None:
        raise InputError(str(ids_file), "give either an id file or a sample size, not both")
    ann = None
    if coco_annotations is not None:
        from .score import COCO_FILES

        missing = [n for n, _ in COCO_FILES if not (Path(coco_annotations) / n).is_file()]
        if missing:
            raise InputError(str(coco_annotations), f"{', '.join(missing)} missing")
        ann = str(Path(coco_annotations).resolve())
    return prepare_into(
        benchmark(),
        data_dir,
        _build,
        images=images,
        ids_file=ids_file,
        sample=sample,
        seed=seed,
        ann=ann,
    )


def _build(
    bench: Benchmark,
    out: Path,
    *,
    images: Path,
    ids_file: str | Path | None,
    sample: int | None,
    seed: int,
    ann: str | None,
) -> dict[str, Any]:
    if sample is not None:
        present = val2014_ids(images)
        if sample < 1 or sample > len(present):
            raise InputError(
                str(images), f"cannot draw {sample} images: {len(present)} val2014 images present"
            )
        ids = random.Random(seed).sample(present, sample)
        source: dict[str, Any] = {
            "kind": "seeded_sample",
            "sample": sample,
            "seed": seed,
            "draw": "random.Random(seed).sample(sorted ids present, sample)",
        }
        variant: str | None = f"sample{sample}-seed{seed}"
    elif ids_file is not None:
        ids = read_ids(ids_file)
        source = {"kind": "id_file", "path": str(Path(ids_file).resolve())}
        variant = f"ids-{Path(ids_file).stem}"
    else:
        ids = default_ids()
        source = {"kind": "opera_llava-1.5", "path": f"benchmarks/chair/{DEFAULT_IDS}"}
        variant = None
    items = [
        {"id": str(i), "image": str(find_image(images, i)), "image_id": i, "question": QUESTION}
        for i in ids
    ]
    (out / "items.jsonl").write_text("".join(json.dumps(x) + "\n" for x in items))
    source["images_dir"] = str(images.resolve())
    manifest: dict[str, Any] = {"source": source, "coco_annotations": ann, "items": len(items)}
    if variant is not None:
        manifest["variant"] = variant
        manifest["note"] = "not OPERA's 500 images: numbers are not comparable with papers"
    return manifest
