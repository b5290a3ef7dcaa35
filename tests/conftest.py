"""Shared fixtures. Tests never touch the network; halbench's home is a temporary directory."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

DATA = Path(__file__).parent / "data"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
CAPS_BOXES = BENCHMARKS / "llava-bench-coco" / "data" / "caps_boxes_coco2014_val_80.jsonl"
DEMO_ANSWERS = BENCHMARKS / "demo" / "data" / "gpt4_llava_bench_detail.jsonl"
SYNONYMS = BENCHMARKS / "object-halbench" / "data" / "synonyms_refine.txt"


def pytest_configure(config: pytest.Config) -> None:
    """Point HALBENCH_HOME at a temporary directory that sees the prepared NLTK data."""
    from halbench.nlp import nltk_data
    from halbench.paths import nltk_data_dir

    real_nltk = nltk_data_dir()
    info = nltk_data.locate()
    if info.wordnet_path is None:
        pytest.exit(
            "NLTK data missing: run `make setup` (or `halbench setup nltk`) first.\n"
            "`halbench doctor` says what is missing.",
            returncode=4,
        )
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="halbench-test-home-"))
    if real_nltk.exists():
        (home / "nltk_data").symlink_to(real_nltk, target_is_directory=True)
    os.environ["HALBENCH_HOME"] = str(home)


@pytest.fixture(scope="session")
def nlp():
    from halbench.nlp.pipeline import NltkPipeline

    return NltkPipeline()


@pytest.fixture(scope="session")
def vocab():
    from benchmarks.object_halbench.objects import SynonymVocabulary

    return SynonymVocabulary.default()


@pytest.fixture(scope="session")
def extractor(vocab, nlp):
    from benchmarks.object_halbench.objects import ObjectExtractor

    return ObjectExtractor(vocab, nlp)


@pytest.fixture(scope="session")
def reference():
    from benchmarks.object_halbench.oracle import ReferenceChair

    return ReferenceChair(SYNONYMS.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def pope_captions() -> list[dict]:
    with gzip.open(DATA / "pope_captions.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="session")
def caps_boxes() -> list[dict]:
    return [json.loads(line) for line in CAPS_BOXES.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def reference_gt(reference, caps_boxes) -> dict[int, set[str]]:
    """Ground truth for the 80 bundled images, built by the reference procedure."""
    return reference.ground_truth(
        {int(r["id"]): [i["category"] for i in r["instances"]] for r in caps_boxes},
        {int(r["id"]): r["captions"] for r in caps_boxes},
    )


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random LLaVA checkpoint built offline (loads with the Auto classes)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from halbench.testing.tiny import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny") / "tiny-llava", max_new_tokens=24)


def make_benchmark(
    folder: Path, n: int, *, scorer: str = "object-halbench", missing_image: bool = False
) -> Path:
    """A custom benchmark folder with ``n`` items over the demo images (ground truth: the demo's)."""
    import shutil

    from halbench.registry import get_benchmark

    demo = get_benchmark("demo")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(demo.folder / "images", folder / "images", dirs_exist_ok=True)
    shutil.copy(demo.folder / "ground_truth.jsonl", folder / "ground_truth.jsonl")
    demo_items = demo.load_items()
    lines = []
    for k in range(n):
        base = demo_items[k % len(demo_items)]
        image = (
            f"images/{base.image.name}" if not (missing_image and k == n - 1) else "images/nope.png"
        )
        q = [
            "Describe the image.",
            "What is in this picture? Please answer in detail.",
            "List every object you can see.",
        ][k % 3]
        lines.append(
            json.dumps(
                {
                    "id": f"it{k:03d}",
                    "image": image,
                    "image_id": base.image_id,
                    "question": q,
                    "k": k,
                }
            )
        )
    (folder / "items.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "benchmark.toml").write_text(
        f'name = "{folder.name}"\nversion = "t1"\ntitle = "test"\nscorer = "{scorer}"\n'
        '[data]\nkind = "shipped"\n[scorer_options]\nground_truth = "ground_truth.jsonl"\n'
        "[generation]\nmax_new_tokens = 16\n"
    )
    return folder


def make_coco_dir(directory, caps_boxes, vocab, splits=("val",)):
    """COCO-format annotation files from the bundled caps_boxes data (images split across splits)."""
    directory.mkdir(parents=True, exist_ok=True)
    cat_id = {name: 100 + i for i, name in enumerate(vocab.classes)}
    categories = [{"id": i, "name": n, "supercategory": "x"} for n, i in cat_id.items()]
    for s, split in enumerate(splits):
        recs = [r for k, r in enumerate(caps_boxes) if k % len(splits) == s]
        images = [
            {"id": int(r["id"]), "file_name": f"COCO_{split}2014_{r['id']}.jpg"} for r in recs
        ]
        instances, captions = [], []
        for r in recs:
            for inst in r["instances"]:
                instances.append(
                    {
                        "id": len(instances),
                        "image_id": int(r["id"]),
                        "category_id": cat_id[inst["category"]],
                        "iscrowd": 0,
                        "bbox": inst["bbox"],
                    }
                )
            for cap in r["captions"]:
                captions.append({"id": len(captions), "image_id": int(r["id"]), "caption": cap})
        (directory / f"instances_{split}2014.json").write_text(
            json.dumps(
                {
                    "info": {},
                    "licenses": [],
                    "categories": categories,
                    "images": images,
                    "annotations": instances,
                }
            )
        )
        (directory / f"captions_{split}2014.json").write_text(
            json.dumps({"info": {}, "licenses": [], "images": images, "annotations": captions})
        )
    return directory


# --------------------------------------------------------------------------- real browser

#: Chromium flags for this closed network (see ENVIRONMENT.md): no background connections.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_and_playwright():
    """(path to Debian's Chromium, playwright.sync_api), or skip the test when either is missing."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip(
            "Chromium is not installed (Debian: apt-get install chromium chromium-driver; .ci/run does it)"
        )
    sync = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    return chromium, sync
