"""Preparation helpers every benchmark's ``prepare.py`` uses: download, verify, atomic prepare.

``halbench data prepare NAME`` runs ``benchmarks/NAME/prepare.py``, which turns official
files or local copies into ``items.jsonl`` with these helpers.

Prepared data goes to ``$HALBENCH_HOME/data/NAME/`` (or ``--data-dir``): ``items.jsonl``,
``images/`` where images have to be extracted, and ``manifest.json`` (sources, checksums,
the COCO annotations to score with, the variant when it is not the official item set).
Everything is written to a temporary directory and moved into place at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from halbench.coco import coco_split_files
from halbench.errors import HalbenchError, InputError
from halbench.io import make_temp_dir
from halbench.progress import track
from halbench.provenance import now_utc
from halbench.registry import Benchmark, get_benchmark

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


def write_items(directory: Path, items: list[dict[str, Any]]) -> None:
    (directory / "items.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items)
    )


def image_suffix(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    return ".img"


def check_coco_annotations(path: Path | None) -> str | None:
    if path is None:
        return None
    coco_split_files(Path(path))  # raises a clear error when the files are not there
    return str(Path(path).resolve())


def find_coco_image(directory: Path, image_id: int, split: str = "val2014") -> Path:
    for name in (f"COCO_{split}_{image_id:012d}.jpg", f"{image_id:012d}.jpg"):
        path = directory / name
        if path.is_file():
            return path.resolve()
    raise InputError(
        str(directory),
        f"image {image_id} not found (looked for COCO_{split}_{image_id:012d}.jpg and {image_id:012d}.jpg)",
    )


def prompt_suffix(bench: Benchmark) -> str:
    """The benchmark's ``[generation] prompt_suffix``, appended to questions when preparing."""
    return str(bench.generation_defaults.get("prompt_suffix", ""))


FRAMEWORK_OPTIONS = frozenset(
    {"func", "command", "data_command", "quiet", "name", "data_dir", "argv"}
)


def prepare(name: str, *, data_dir: Path | None = None, **options: Any) -> Path:
    """Prepare benchmark ``name`` with its own ``prepare.py``; return its data directory."""
    bench = get_benchmark(name)
    if bench.shipped:
        return bench.folder
    return bench.module("prepare").prepare(bench, data_dir, **options)
