"""``halbench data prepare NAME``: turn official files or local copies into ``items.jsonl``.

Prepared data goes to ``$HALBENCH_HOME/data/NAME/`` (or ``--data-dir``): ``items.jsonl``,
``images/`` where images have to be extracted, and ``manifest.json`` (sources, checksums,
the COCO annotations to score with, the variant when it is not the official item set).
Everything is written to a temporary directory and moved into place at the end.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from halbench.benchmarks import Benchmark, get_benchmark
from halbench.coco import coco_id_field, coco_split_files, parse_coco_id
from halbench.errors import HalbenchError, InputError
from halbench.io import make_temp_dir, read_json, read_jsonl
from halbench.progress import track
from halbench.provenance import now_utc

_CHUNK = 1 << 20


def git_blob_sha1(path: str | Path) -> str:
    """The git blob id of a file: sha1 of ``"blob <size>\\0"`` + its bytes."""
    p = Path(path)
    h = hashlib.sha1(f"blob {p.stat().st_size}\0".encode(), usedforsecurity=False)
    with p.open("rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: Path, *, timeout: float = 60.0) -> None:
    """Fetch ``url`` to ``dest`` (via a temporary file); ``HalbenchError`` when offline."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, tmp.open("wb") as f:  # noqa: S310 - fixed https URLs
            total = int(resp.headers.get("Content-Length") or 0) or None
            chunks = iter(lambda: resp.read(_CHUNK), b"")
            for block in track(
                chunks, total=(total // _CHUNK + 1) if total else None, desc="download", unit="MB"
            ):
                f.write(block)
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        tmp.unlink(missing_ok=True)
        raise HalbenchError(f"could not download {url}: {exc}") from None


def fetch_verified(
    source: Path | None,
    *,
    url: str,
    blob: str,
    download_to: Path,
    offline: bool,
    offline_message: str,
    retry_hint: str,
    describe: str,
    label: str = "official",
) -> Path:
    """``source`` or, online, a download of ``url`` to ``download_to``; its git blob must be ``blob``."""
    if source is None:
        if offline:
            raise HalbenchError(offline_message)
        source = download_to
        try:
            download(url, source)
        except HalbenchError as exc:
            raise HalbenchError(f"{exc}\n{retry_hint}") from None
    if not Path(source).is_file():
        raise InputError(str(source), f"not found (expected {describe})")
    got = git_blob_sha1(source)
    if got != blob:
        raise InputError(str(source), f"git blob {got} is not the {label} {blob} ({describe})")
    return Path(source)


def prepare_into(bench: Benchmark, data_dir: Path | None, fn: Any, **options: Any) -> Path:
    """Run preparer ``fn(bench, tmp, **options) -> manifest`` in a temporary folder, write the
    manifest, then move the folder into place atomically; nothing half-prepared is left."""
    target = bench.data_dir(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(target.parent, f".{bench.name}-")  # mkdir's mode, not 0o700
    try:
        manifest = fn(bench, tmp, **options)
        manifest.update(
            benchmark=bench.name, benchmark_version=bench.version, prepared_at=now_utc()
        )
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        _finish(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _finish(tmp: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)


def _write_items(directory: Path, items: list[dict[str, Any]]) -> None:
    (directory / "items.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items)
    )


def _image_suffix(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    return ".img"


def prepare(name: str, *, data_dir: Path | None = None, **options: Any) -> Path:
    """Prepare benchmark ``name``; return its data directory."""
    bench = get_benchmark(name)
    if bench.shipped:
        return bench.folder
    if bench.name == "mmhal-bench":  # images and/or the judge prompt: halbench/mmhal_data.py
        from halbench.mmhal_data import prepare_mmhal_bench

        return prepare_mmhal_bench(bench, data_dir=data_dir, **options)
    fn = {
        "object-halbench": _prepare_object_halbench,
        "llava-bench-coco": _prepare_llava_bench_coco,
        "llava-bench-in-the-wild": _prepare_llava_bench_wild,
        "vqav2": _prepare_vqav2,
        "pope": _prepare_pope,
        "amber": _prepare_amber,
        "mhumaneval": _prepare_mhumaneval,
    }.get(bench.name)
    if fn is None:  # pragma: no cover - every prepared benchmark has a preparer
        raise HalbenchError(f"no preparation recipe for '{bench.name}'")
    return prepare_into(bench, data_dir, fn, **options)


def _check_coco_annotations(path: Path | None) -> str | None:
    if path is None:
        return None
    coco_split_files(Path(path))  # raises a clear error when the files are not there
    return str(Path(path).resolve())


# --------------------------------------------------------------------------- Object HalBench


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
    ann = _check_coco_annotations(coco_annotations)
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
        name = f"{index:03d}_{image_id:012d}{_image_suffix(data)}"
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
    _write_items(out, items)
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
        path = _find_coco_image(Path(coco_images), image_id)
        items.append(
            {
                "id": str(index),
                "image": str(path),
                "image_id": image_id,
                "question": prompts[index % len(prompts)],
            }
        )
    _write_items(out, items)
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


def _find_coco_image(directory: Path, image_id: int, split: str = "val2014") -> Path:
    for name in (f"COCO_{split}_{image_id:012d}.jpg", f"{image_id:012d}.jpg"):
        path = directory / name
        if path.is_file():
            return path.resolve()
    raise InputError(
        str(directory),
        f"image {image_id} not found (looked for COCO_{split}_{image_id:012d}.jpg and {image_id:012d}.jpg)",
    )


# --------------------------------------------------------------------------- LLaVA-Bench (COCO)


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
            path = _find_coco_image(Path(coco_images), image_id)
        except InputError:
            missing.append(image_id)
            continue
        items.append({"id": str(rec["question_id"]), "image": str(path), "image_id": image_id,
                      "question": rec["text"], "category": rec["category"]})  # fmt: skip
    if missing:
        ids = ", ".join(str(i) for i in sorted(set(missing)))
        raise InputError(
            str(coco_images), f"{len(set(missing))} of the 30 LLaVA-Bench images are missing: {ids}"
        )
    _write_items(out, items)
    return {
        "variant": None,
        "source": {"kind": "coco_images", "images_dir": str(Path(coco_images).resolve())},
        "items": len(items),
    }


def _prepare_llava_bench_wild(bench: Benchmark, out: Path, **options: Any) -> dict[str, Any]:
    from halbench.llava_wild import prepare_llava_bench_wild

    return prepare_llava_bench_wild(bench, out, **options)


# --------------------------------------------------------------------------- VQAv2, POPE, AMBER


def _suffix(bench: Benchmark) -> str:
    return str(bench.generation_defaults.get("prompt_suffix", ""))


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
    from halbench.score_vqav2 import load_annotations, load_questions

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
    suffix = _suffix(bench)
    items = []
    for qid in track(order, desc="vqav2 items", unit="q"):
        q = questions[qid]
        path = _find_coco_image(Path(coco_images), q["image_id"], split)
        items.append({"id": str(qid), "image": str(path), "image_id": q["image_id"], "question": q["question"] + suffix,
                      "question_id": qid, "raw_question": q["question"]})  # fmt: skip
    _write_items(out, items)
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


def _prepare_pope(
    bench: Benchmark, out: Path, *, coco_images: Path | None = None, **_: Any
) -> dict[str, Any]:
    from halbench.score_pope import load_questions, split_name

    if coco_images is None:
        raise HalbenchError("pope needs --coco-images: a local COCO val2014 image directory")
    suffix = _suffix(bench)
    items, missing = [], set()
    for ref in bench.spec["data"]["questions"]:
        path = bench.resolve(ref)
        name = split_name(path)
        for q in load_questions(path):
            image = Path(coco_images) / q["image"]
            if not image.is_file():
                missing.add(q["image"])
                continue
            items.append({"id": f"{name}-{q['question_id']}", "image": str(image.resolve()), "question": q["text"] + suffix,
                          "split": name, "question_id": q["question_id"], "label": q["label"],
                          "raw_question": q["text"], "coco_image": q["image"]})  # fmt: skip
    if missing:
        shown = ", ".join(sorted(missing)[:5])
        raise InputError(str(coco_images), f"{len(missing)} POPE images missing, e.g. {shown}")
    _write_items(out, items)
    return {
        "variant": None,
        "source": {"images_dir": str(Path(coco_images).resolve())},
        "prompt_suffix": suffix,
        "items": len(items),
    }


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
    _write_items(out, items)
    return {
        "variant": None,
        "source": {"images_dir": str(Path(amber_images).resolve())},
        "items": len(items),
    }


def _prepare_mhumaneval(bench: Benchmark, out: Path, **options: Any) -> dict[str, Any]:
    from halbench.annotate.prepare import prepare_mhumaneval

    return prepare_mhumaneval(bench, out, **options)
