"""``halbench data prepare mmhal-bench``: the 96 images from a local folder, and/or the judge prompt."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from halbench.registry import Benchmark

from .mmhal_data import prepare_mmhal_bench


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--images",
        type=Path,
        metavar="DIR",
        help="a folder of MMHal-Bench's 96 images (named by image_id or the Flickr URL's name)",
    )
    parser.add_argument(
        "--judge-prompt-from",
        type=Path,
        metavar="FILE",
        help="a local eval_gpt_mmhal.py to extract the (GPL-3.0) judge prompt from",
    )
    parser.add_argument("--offline", action="store_true", help="never try to download")


def prepare(bench: Benchmark, data_dir: Path | None, **options: Any) -> Path:
    """Images into the data dir and/or the judge prompt beside it; return where they went."""
    return prepare_mmhal_bench(bench, data_dir=data_dir, **options)
