"""LLaVA-Bench (In-the-Wild): prepare the dataset folder, and load it for the judge.

The data is the Hugging Face dataset ``liuhaotian/llava-bench-in-the-wild``: ``questions.jsonl``
(question_id, image, text, category), ``answers_gpt4.jsonl`` (GPT-4's reference answers, one
per question in the same order), ``context.jsonl`` (image -> caption) and ``images/``.
``halbench data prepare llava-bench-in-the-wild --from DIR`` checks a local copy of that folder
(every file and image there, field names and types, categories, the order of the GPT-4 answers)
and copies it, with the sha256 of every input file, into the prepared data directory; online,
without ``--from``, it downloads the files from the dataset's resolve URLs first.

Scoring (``score.py`` here) is LLaVA's ``eval_gpt_review_bench.py`` +
``summarize_gpt_review.py`` (``benchmarks.llava_bench_coco.metrics`` and ``.score``).
"""

from __future__ import annotations

import argparse
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.llava_bench_coco.metrics import wild_context_text
from halbench.errors import HalbenchError, InputError
from halbench.io import file_sha256, read_json, read_jsonl
from halbench.prepare import prepare_into
from halbench.progress import track
from halbench.registry import Benchmark, definition, get_benchmark

NAME = "llava-bench-in-the-wild"
PROMPT_VERSION = "llava-eval_gpt_review_bench@181a2f8+rule.json@181a2f8"
REPO_URL = "https://huggingface.co/datasets/liuhaotian/llava-bench-in-the-wild"
BASE_URL = f"{REPO_URL}/resolve/main"
FILES = ("questions.jsonl", "answers_gpt4.jsonl", "context.jsonl")
CATEGORIES = ("conv", "detail", "complex")
OFFICIAL_COUNTS = {"questions": 60, "images": 24}
STRING_CAPTION = ("llava", "as-is")


def _where(source: Path, name: str) -> str:
    return f"put the dataset's {name} at {source / name} ({BASE_URL}/{name})"


def _field(path: Path, number: int, rec: dict[str, Any], key: str, kinds: tuple[type, ...]) -> Any:
    if key not in rec:
        raise InputError(str(path), f'missing "{key}"', line=number, field=key)
    value = rec[key]
    if not isinstance(value, kinds) or isinstance(value, bool):
        names = " or ".join(k.__name__ for k in kinds)
        raise InputError(str(path), f'"{key}" must be {names}', line=number, field=key)
    return value


def check_folder(source: Path) -> dict[str, Any]:
    """Validate a local dataset folder; return the parsed files (raises ``InputError``)."""
    if not source.is_dir():
        raise InputError(
            str(source), "not a folder: give the dataset folder (questions.jsonl, images/, ...)"
        )
    for name in FILES:
        if not (source / name).is_file():
            raise InputError(str(source / name), f"file missing: {_where(source, name)}")
    qpath, apath, cpath = (source / n for n in FILES)
    questions, seen = [], set()
    for number, rec in read_jsonl(qpath):
        qid = _field(qpath, number, rec, "question_id", (int, str))
        image = _field(qpath, number, rec, "image", (str,))
        _field(qpath, number, rec, "text", (str,))
        category = _field(qpath, number, rec, "category", (str,))
        if category not in CATEGORIES:
            raise InputError(
                str(qpath),
                f"category {category!r} is not one of {', '.join(CATEGORIES)}",
                line=number,
                field="category",
            )
        if qid in seen:
            raise InputError(
                str(qpath), f"duplicate question_id {qid!r}", line=number, field="question_id"
            )
        if Path(image).name != image:
            raise InputError(
                str(qpath), f"image {image!r} is not a plain file name", line=number, field="image"
            )
        seen.add(qid)
        questions.append((number, rec))
    if not questions:
        raise InputError(str(qpath), "no questions")
    answers = list(read_jsonl(apath))
    # LLaVA zips questions and GPT-4 answers by line: demand the same order so by-id == by-line
    for k, (number, rec) in enumerate(answers):
        qid = _field(apath, number, rec, "question_id", (int, str))
        _field(apath, number, rec, "text", (str,))
        if k < len(questions) and qid != questions[k][1]["question_id"]:
            raise InputError(
                str(apath),
                f"question_id {qid!r} where line {questions[k][0]} of questions.jsonl has {questions[k][1]['question_id']!r} (LLaVA pairs the files by line)",
                line=number,
                field="question_id",
            )
    if len(answers) != len(questions):
        raise InputError(str(apath), f"{len(answers)} GPT-4 answers for {len(questions)} questions")
    contexts: dict[str, Any] = {}
    for number, rec in read_jsonl(cpath):
        image = _field(cpath, number, rec, "image", (str,))
        caption = _field(cpath, number, rec, "caption", (str, list))
        if isinstance(caption, list) and not all(isinstance(c, str) for c in caption):
            raise InputError(
                str(cpath),
                '"caption" must be a string or a list of strings',
                line=number,
                field="caption",
            )
        if image in contexts:
            raise InputError(str(cpath), f"duplicate image {image!r}", line=number, field="image")
        contexts[image] = caption
    images = sorted({rec["image"] for _, rec in questions})
    for number, rec in questions:
        if rec["image"] not in contexts:
            raise InputError(
                str(qpath),
                f"image {rec['image']!r} has no line in context.jsonl",
                line=number,
                field="image",
            )
    missing = [name for name in images if not (source / "images" / name).is_file()]
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise InputError(
            str(source / "images"),
            f"{len(missing)} of {len(images)} images missing: {shown}; put them in {source / 'images'}/ ({BASE_URL}/images/NAME)",
        )
    return {
        "questions": [rec for _, rec in questions],
        "answers": [rec for _, rec in answers],
        "contexts": contexts,
        "images": images,
    }


def _download_folder(dest: Path) -> Path:
    from halbench.prepare import download

    for name in FILES:
        download(f"{BASE_URL}/{name}", dest / name)
    names = sorted(
        {
            rec["image"]
            for _, rec in read_jsonl(dest / "questions.jsonl")
            if isinstance(rec.get("image"), str)
        }
    )
    for name in names:
        if Path(name).name == name:
            download(f"{BASE_URL}/images/{name}", dest / "images" / name)
    return dest


def prepare_llava_bench_wild(
    bench: Benchmark, out: Path, *, source: Path | None = None, offline: bool = False, **_: Any
) -> dict[str, Any]:
    """Check the folder, copy it into ``out`` with items.jsonl; return the manifest."""
    kind = "local"
    if source is None:
        how = (
            f"give a local copy of {REPO_URL} with --from DIR: DIR/questions.jsonl, "
            "DIR/answers_gpt4.jsonl, DIR/context.jsonl and DIR/images/ (the images named in questions.jsonl)"
        )
        if offline:
            raise HalbenchError(f"{NAME}: {how}")
        try:
            source = _download_folder(out / "download")
        except HalbenchError as exc:
            raise HalbenchError(f"{exc}\nOffline? {how}") from None
        kind = "download"
    source = Path(source)
    parsed = check_folder(source)
    files = {name: file_sha256(source / name) for name in FILES}
    (out / "images").mkdir()
    image_sha = {}
    for name in track(parsed["images"], desc="copying images", unit="img"):
        shutil.copyfile(source / "images" / name, out / "images" / name)
        image_sha[name] = file_sha256(source / "images" / name)
    for name in FILES:
        shutil.copyfile(source / name, out / name)
    from halbench.prepare import write_items

    qs = parsed["questions"]
    write_items(
        out,
        [
            {
                "id": str(q["question_id"]),
                "image": f"images/{q['image']}",
                "question": q["text"],
                "category": q["category"],
                "question_id": q["question_id"],
            }
            for q in qs
        ],
    )
    counts = {"questions": len(qs), "images": len(parsed["images"])}
    caption_types = Counter(
        "list" if isinstance(c, list) else "string" for c in parsed["contexts"].values()
    )
    official = counts == OFFICIAL_COUNTS
    shutil.rmtree(out / "download", ignore_errors=True)
    return {
        "variant": None if official else f"local-{counts['questions']}q-{counts['images']}img",
        "source": {
            "kind": kind,
            "dir": None if kind == "download" else str(source.resolve()),
            "url": REPO_URL,
            "revision": "main" if kind == "download" else None,
        },
        "files_sha256": files,
        "images_sha256": image_sha,
        "items": len(qs),
        "counts": {**counts, "by_category": dict(Counter(q["category"] for q in qs))},
        "caption_types": dict(caption_types),
        **(
            {}
            if official
            else {
                "note": f"not the official {OFFICIAL_COUNTS['questions']} questions on "
                f"{OFFICIAL_COUNTS['images']} images: numbers are not comparable"
            }
        ),
    }


def load_data(
    data_dir: Path | None = None, *, string_caption: str = "llava"
) -> tuple[list[dict[str, Any]], Any]:
    """The prepared questions and the judge's ``BenchData`` (files checked against the manifest)."""
    from benchmarks.llava_bench_coco.score import BenchData
    from halbench.types import InputFile

    if string_caption not in STRING_CAPTION:
        raise HalbenchError(f"string_caption must be one of {', '.join(STRING_CAPTION)}")
    bench = get_benchmark(NAME)
    folder = bench.data_dir(data_dir)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise HalbenchError(
            f"{NAME} is not prepared ({manifest_path} is missing).\n{bench.spec['data']['prepare_hint']}"
        )
    manifest = read_json(manifest_path)
    inputs = []
    for name, expected in manifest["files_sha256"].items():
        got = file_sha256(folder / name) if (folder / name).is_file() else None
        if got != expected:
            raise InputError(
                str(folder / name),
                "missing or changed since it was prepared (re-run halbench data prepare)",
            )
        role = {"questions.jsonl": "questions", "answers_gpt4.jsonl": "reference_answers"}.get(
            name, "context"
        )
        inputs.append(InputFile(path=str(folder / name), sha256=got, role=role))
    questions = [rec for _, rec in read_jsonl(folder / "questions.jsonl")]
    refs = {rec["question_id"]: rec["text"] for _, rec in read_jsonl(folder / "answers_gpt4.jsonl")}
    captions = {rec["image"]: rec["caption"] for _, rec in read_jsonl(folder / "context.jsonl")}
    contexts = {
        img: wild_context_text(c, string_caption=string_caption) for img, c in captions.items()
    }
    n_string = sum(isinstance(captions[img], str) for img in {q["image"] for q in questions})
    variant = manifest.get("variant")
    data = BenchData(
        benchmark=NAME,
        version=definition(__file__).version + (f"+{variant}" if variant else ""),
        prompt_version=PROMPT_VERSION,
        references=refs,
        contexts=contexts,
        rule_prefix="llava_bench_",
        scorer="llava-bench-wild",
        inputs=inputs,
        protocol={
            "string_caption": string_caption,
            "n_string_captions": n_string,
            "prompt_parity": string_caption == "llava" or n_string == 0,
        },
    )
    return questions, data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="DIR",
        help="a local copy of the dataset folder (questions.jsonl, answers_gpt4.jsonl, "
        "context.jsonl, images/); without it, downloaded where online",
    )
    parser.add_argument("--offline", action="store_true", help="never try to download")


def prepare(bench: Benchmark, data_dir: Path | None, **options: Any) -> Path:
    """Check the folder and copy it into ``data_dir`` atomically; return the prepared folder."""
    return prepare_into(bench, data_dir, prepare_llava_bench_wild, **options)
