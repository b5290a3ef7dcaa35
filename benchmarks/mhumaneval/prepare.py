"""``halbench data prepare mhumaneval``: the paper's 146 human-evaluation items.

- 50 Object HalBench items: RLHF-V/RLAIF-V ``eval/data/obj_halbench_mhumaneval_data_with_image.jsonl``
  (images embedded as base64), from ``--from PATH`` or downloaded where online, verified by
  its git blob hash before anything is written;
- MMHal-Bench's 96 questions from the shipped answer template, with their images from
  ``--images DIR`` (the MMHal-Bench image folder: a file named like the last part of
  the template's ``image_src`` URL, or ``<image_id>.jpg|.jpeg|.png``, in DIR or DIR/images).

Items: ``objhal-00`` .. ``objhal-49`` then ``mmhal-00`` .. ``mmhal-95`` (template order), each
with ``source`` (``object-halbench`` / ``mmhal-bench``) so the report can give per-source
rates (the paper's human "MMHal Resp." is the ``mmhal-bench`` subset).
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
from pathlib import Path
from typing import Any

from benchmarks.mmhal_bench.mmhal_data import find_image
from halbench.errors import HalbenchError, InputError
from halbench.io import read_jsonl
from halbench.prepare import prepare_into
from halbench.progress import track
from halbench.registry import Benchmark


def prepare_mhumaneval(
    bench: Benchmark,
    out: Path,
    *,
    source: Path | None = None,
    images: Path | None = None,
    offline: bool = False,
    expected_blob: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    from halbench.prepare import fetch_verified, image_suffix

    objhal = bench.spec["sources"]["object_halbench"]
    mmhal = bench.spec["sources"]["mmhal_bench"]
    template = bench.resolve(mmhal["template"])
    blob = expected_blob or objhal["git_blob"]
    where = f"{objhal['repository']} {objhal['path']} (git blob {blob})"
    # check the MMHal images first: that needs no download
    if images is None:
        raise HalbenchError(
            "mhumaneval: give MMHal-Bench's images with --images DIR (the MMHal-Bench "
            "dataset's image folder; files named like the template's image_src URLs)"
        )
    if not Path(images).is_dir():
        raise InputError(str(images), "MMHal-Bench image directory not found")
    records = json.loads(template.read_text(encoding="utf-8"))
    paths, missing = [], []
    for i, rec in enumerate(records):
        found = find_image(Path(images), rec)
        paths.append(found)
        if found is None:
            missing.append(
                f"  #{i}: {rec['image_src'].rsplit('/', 1)[-1]} (image_id {rec['image_id']})"
            )
    if missing:
        more = f"\n  ... and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InputError(
            str(images),
            f"{len(missing)} of {len(records)} MMHal-Bench images not found:\n"
            + "\n".join(missing[:5])
            + more,
        )
    source = fetch_verified(
        source,
        url=objhal["url"],
        blob=blob,
        download_to=out / "download" / Path(objhal["path"]).name,
        offline=offline,
        offline_message=f"mhumaneval: offline: get the 50 Object HalBench items, {where}, from "
        f"{objhal['url']} on a machine that is online and pass that file with --from PATH",
        retry_hint=f"Offline? Download {objhal['url']} elsewhere and pass it with --from PATH "
        f"(the file {where}).",
        describe=where,
        label="expected",
    )
    (out / "images").mkdir()
    items: list[dict[str, Any]] = []
    lines = list(read_jsonl(source))
    if len(lines) != objhal["items"]:
        raise InputError(str(source), f"{len(lines)} items, expected {objhal['items']}")
    for index, (number, rec) in enumerate(track(lines, desc="extracting images", unit="img")):
        for key in ("question", "image"):
            if key not in rec:
                raise InputError(str(source), f'missing "{key}"', line=number, field=key)
        try:
            data = base64.b64decode(rec["image"], validate=False)
        except (ValueError, TypeError):
            raise InputError(
                str(source), '"image" is not base64 image data', line=number, field="image"
            ) from None
        name = f"objhal_{index:02d}{image_suffix(data)}"
        (out / "images" / name).write_bytes(data)
        item = {
            "id": f"objhal-{index:02d}",
            "image": f"images/{name}",
            "question": rec["question"],
            "source": "object-halbench",
        }
        if isinstance(rec.get("image_id"), int) and not isinstance(rec["image_id"], bool):
            item["image_id"] = rec["image_id"]
        items.append(item)
    for index, (rec, path) in enumerate(zip(records, paths, strict=True)):
        assert path is not None
        name = f"mmhal_{index:02d}{path.suffix.lower()}"
        shutil.copyfile(path, out / "images" / name)
        items.append(
            {
                "id": f"mmhal-{index:02d}",
                "image": f"images/{name}",
                "question": rec["question"],
                "source": "mmhal-bench",
                "question_type": rec["question_type"],
                "question_topic": rec["question_topic"],
                "mmhal_image_id": rec["image_id"],
            }
        )
    (out / "items.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items)
    )
    shutil.rmtree(out / "download", ignore_errors=True)
    return {
        "variant": None,
        "source": {
            "object_halbench": {**objhal, "verified_git_blob": blob},
            "mmhal_bench": {**mmhal, "images": str(Path(images).resolve())},
        },
        "items": len(items),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="PATH",
        help="RLAIF-V's 50-item Object HalBench file, already downloaded (else downloaded)",
    )
    parser.add_argument(
        "--images", type=Path, metavar="DIR", help="a folder of MMHal-Bench's 96 images"
    )
    parser.add_argument("--offline", action="store_true", help="never try to download")


def prepare(bench: Benchmark, data_dir: Path | None, **options: Any) -> Path:
    """Prepare the 146 items into ``data_dir`` atomically; return the folder."""
    return prepare_into(bench, data_dir, prepare_mhumaneval, **options)
