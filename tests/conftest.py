"""Shared fixtures. Tests never touch the network; halbench's home is a temporary directory."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

DATA = Path(__file__).parent / "data"
RESOURCES = Path(__file__).resolve().parents[1] / "halbench" / "resources"
CAPS_BOXES = RESOURCES / "llava_bench" / "caps_boxes_coco2014_val_80.jsonl"
DEMO_ANSWERS = RESOURCES / "demo" / "gpt4_llava_bench_detail.jsonl"
SYNONYMS = RESOURCES / "object_halbench" / "synonyms_refine.txt"


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
    from halbench.scoring.objects import SynonymVocabulary

    return SynonymVocabulary.default()


@pytest.fixture(scope="session")
def extractor(vocab, nlp):
    from halbench.scoring.objects import ObjectExtractor

    return ObjectExtractor(vocab, nlp)


@pytest.fixture(scope="session")
def reference():
    from halbench.scoring.chair_reference import ReferenceChair

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
