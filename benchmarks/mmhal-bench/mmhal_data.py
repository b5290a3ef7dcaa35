"""MMHal-Bench data: the shipped 96-question template, local images, and the judge prompt.

The judge prompt (the ``template`` literal of LLaVA-RLHF's ``Eval/eval_gpt_mmhal.py``,
copied unchanged into RLHF-V / RLAIF-V ``eval/eval_gpt_mmhal.py``) is GPL-3.0, so halbench
does **not** ship it: ``halbench data prepare mmhal-bench --judge-prompt-from FILE`` reads
it from a local copy of that script (parsed with ``ast``, never executed), checks its
length and sha256 against the published text, and stores it under the data root. Online,
the script is downloaded from a pinned raw URL instead.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from benchmarks.mmhal_bench.metrics import template_slots
from halbench.errors import HalbenchError, InputError
from halbench.io import atomic_write_text, read_json
from halbench.paths import halbench_home

#: the published judge template (RLHF-V eval/eval_gpt_mmhal.py @ 3d35a91, identical in
#: LLaVA-RLHF Eval/eval_gpt_mmhal.py and RLAIF-V): its length and sha256 (UTF-8)
PROMPT_SHA256 = "2c73d8c50f1740d000fae62cfeed103c2f7a5bcfa904b27e6e09900e7ce600cc"
PROMPT_CHARS = 6631
PROMPT_VERSION = "llava-rlhf-eval_gpt_mmhal-template"
PROMPT_URL = (
    "https://raw.githubusercontent.com/RLHF-V/RLHF-V/"
    "3d35a91568b237fcc9d884463d9279fd7ae10350/eval/eval_gpt_mmhal.py"
)
N_QUESTIONS = 96
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


def template_path() -> Path:
    return Path(__file__).resolve().parent / "data" / "mmhal-bench_answer_template.json"


def load_template() -> list[dict[str, Any]]:
    records = read_json(template_path())
    if not isinstance(records, list) or len(records) != N_QUESTIONS:  # the reference asserts 96
        raise InputError(str(template_path()), f"expected a list of {N_QUESTIONS} records")
    return records


def judge_prompt_dir(data_dir: Path | None = None) -> Path:
    return (data_dir or halbench_home() / "data") / "mmhal-bench-judge"


# --------------------------------------------------------------------------- judge prompt


def extract_template(script: Path) -> str:
    """The ``template = '''...'''`` literal of eval_gpt_mmhal.py, read without running it."""
    try:
        tree = ast.parse(Path(script).read_text(encoding="utf-8"), filename=str(script))
    except (SyntaxError, UnicodeDecodeError, OSError) as exc:
        raise InputError(str(script), f"not a readable Python file: {exc}") from None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "template" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise InputError(str(script), "no top-level string assignment `template = '''...'''` found")


def install_judge_prompt(script: Path, data_dir: Path | None = None) -> dict[str, Any]:
    """Extract, verify (length and sha256) and store the judge template; return its metadata."""
    text = extract_template(script)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if len(text) != PROMPT_CHARS or sha != PROMPT_SHA256:
        raise InputError(
            str(script),
            f"the template literal ({len(text)} characters, sha256 {sha}) is not the published "
            f"MMHal-Bench judge prompt ({PROMPT_CHARS} characters, sha256 {PROMPT_SHA256}); "
            "use LLaVA-RLHF Eval/eval_gpt_mmhal.py or RLHF-V eval/eval_gpt_mmhal.py, or score "
            "with --judge-prompt FILE for a template of your own (recorded as non-parity)",
            field="template",
        )
    _check_slots(text, script)
    target = judge_prompt_dir(data_dir)
    target.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target / "template.txt", text)
    meta = {
        "sha256": sha,
        "chars": len(text),
        "source": str(Path(script).resolve()),
        "prompt_version": PROMPT_VERSION,
        "license": "GPL-3.0 (LLaVA-RLHF); not shipped with halbench",
    }
    atomic_write_text(target / "meta.json", json.dumps(meta, indent=1) + "\n")
    return meta


def load_judge_prompt(
    custom: Path | None = None, data_dir: Path | None = None
) -> tuple[str, dict[str, Any]]:
    """(template, protocol info): ``custom`` (non-parity) or the prepared published prompt."""
    if custom is not None:
        try:
            text = Path(custom).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(str(custom), f"cannot read the judge prompt: {exc}") from None
        _check_slots(text, custom)
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        parity = sha == PROMPT_SHA256
        return text, {
            "prompt_version": PROMPT_VERSION if parity else "custom",
            "prompt_sha256": sha,
            "prompt_parity": parity,
            "prompt_file": str(custom),
        }
    path = judge_prompt_dir(data_dir) / "template.txt"
    if not path.is_file():
        raise HalbenchError(
            f"the MMHal-Bench judge prompt is not prepared ({path} is missing). Its text is GPL-3.0 "
            "and not shipped with halbench; extract it from a local copy of LLaVA-RLHF's "
            "Eval/eval_gpt_mmhal.py (or RLHF-V's eval/eval_gpt_mmhal.py):\n"
            "  halbench data prepare mmhal-bench --judge-prompt-from eval_gpt_mmhal.py\n"
            "or give a template of your own with --judge-prompt FILE (four {} slots)"
        )
    text = path.read_text(encoding="utf-8")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if sha != PROMPT_SHA256:
        raise InputError(str(path), f"sha256 {sha} is not the published prompt's; prepare it again")
    return text, {"prompt_version": PROMPT_VERSION, "prompt_sha256": sha, "prompt_parity": True}


def _check_slots(text: str, path: Path) -> None:
    try:
        n = template_slots(text)
    except ValueError as exc:
        raise InputError(str(path), f"not a str.format template: {exc}") from None
    if n != 4:
        raise InputError(
            str(path),
            f"{n} slots; the template needs exactly four {{}}: image contents, question, "
            "standard answer, response",
        )


# --------------------------------------------------------------------------- images


def image_candidates(record: dict[str, Any]) -> list[str]:
    """File names an image may have: by image_id (any usual suffix) or the Flickr URL's name."""
    names = [f"{record['image_id']}{s}" for s in _IMAGE_SUFFIXES]
    url_name = Path(urlparse(str(record.get("image_src", ""))).path).name
    if url_name:
        names.append(url_name)
    return names


def find_image(directory: Path, record: dict[str, Any]) -> Path | None:
    """The record's image in ``directory`` or ``directory/images`` (the dataset's layout), or None."""
    for folder in (directory, directory / "images"):
        for name in image_candidates(record):
            path = folder / name
            if path.is_file():
                return path.resolve()
    return None


def prepare_mmhal_bench(
    bench: Any,
    *,
    data_dir: Path | None = None,
    images: Path | None = None,
    judge_prompt_from: Path | None = None,
    offline: bool = False,
    **_: Any,
) -> Path:
    """Prepare the images into the benchmark's data dir and/or the judge prompt beside it."""
    from halbench.prepare import download, prepare_into

    if images is None and judge_prompt_from is None and offline:
        raise HalbenchError(
            "mmhal-bench needs --images DIR (the 96 images, named by image_id or by the Flickr "
            "URL's file name) and/or --judge-prompt-from eval_gpt_mmhal.py"
        )
    if judge_prompt_from is not None:
        install_judge_prompt(judge_prompt_from, data_dir)
    elif not offline and images is None:
        tmp = Path(tempfile.mkdtemp(prefix=".mmhal-prompt-"))
        try:
            script = tmp / "eval_gpt_mmhal.py"
            try:
                download(PROMPT_URL, script)
            except HalbenchError as exc:
                raise HalbenchError(
                    f"{exc}\nOffline? Get {PROMPT_URL} elsewhere and pass --judge-prompt-from FILE"
                ) from None
            install_judge_prompt(script, data_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if images is None:
        return judge_prompt_dir(data_dir)
    return prepare_into(bench, data_dir, _prepare_images, images=Path(images))


def _prepare_images(bench: Any, out: Path, *, images: Path) -> dict[str, Any]:
    """The preparer for ``halbench.prepare.prepare_into``: items.jsonl pointing at the local images."""
    from halbench.prepare import write_items

    records = load_template()
    found, missing = [], []
    for rec in records:
        path = find_image(Path(images), rec)
        if path is None:
            missing.append(
                f"  {Path(images) / image_candidates(rec)[0]} (or "
                f"{image_candidates(rec)[-1]}), from {rec.get('image_src')}"
            )
        found.append(path)
    if missing:
        more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise InputError(
            str(images),
            f"{len(missing)} of the {N_QUESTIONS} MMHal-Bench images are missing; put each at:\n"
            + "\n".join(missing[:10])
            + more,
        )
    items = []
    for index, (rec, path) in enumerate(zip(records, found, strict=True)):
        items.append(
            {
                "id": str(index),
                "image": str(path),
                "question": rec["question"],
                "question_type": rec["question_type"],
                "question_topic": rec["question_topic"],
                "mmhal_index": index,
                "mmhal_image_id": rec["image_id"],
            }
        )
    write_items(out, items)
    return {
        "variant": None,
        "items": len(items),
        "source": {"kind": "local_images", "images_dir": str(images.resolve())},
    }
