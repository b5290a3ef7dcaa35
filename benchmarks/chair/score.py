"""Score CHAIR answer files: COCO 2014 ground truth (cached), answers in, a ``ResultRecord`` out.

Ground truth: a COCO 2014 annotations folder with all four of ``instances_train2014.json``,
``instances_val2014.json``, ``captions_train2014.json`` and ``captions_val2014.json`` (the
reference requires both splits; categories are read from the train file). An image is
known when any of the four files lists it (``images``) or annotates it. Building the
classes of 123k images from 617k captions takes a while, so the result is cached under
halbench's cache directory (``ground_truth/chair-<key>.json``), keyed by the four files'
sha256 and the extractor's fingerprint (code version, synonym file, tokenizer).

Answers: every format Object HalBench's reader takes (``halbench.answers``: JSONL with
``image_id`` + ``prompt``/``question`` + ``text``/``answer``, a JSON array of those,
LisaAnne's ``{"imgToEval": ...}``), plus OPERA's JSONL (``image_id`` + ``caption``, used
as it is). Several answers per image are scored one by one. No printing here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from halbench import scorers
from halbench.answers import Answer, answers_alignment, load_object_halbench_answers
from halbench.coco import (
    GroundTruth,
    cached_ground_truth,
    coco_id_field,
    require_field,
)
from halbench.errors import HalbenchError, InputError
from halbench.io import (
    Records,
    describe_type,
    file_sha256,
    read_json,
    read_records,
)
from halbench.paths import cache_dir
from halbench.progress import track
from halbench.provenance import now_utc
from halbench.registry import definition
from halbench.types import InputFile, ResultRecord, UnscoredItem, fractions_of

from .metrics import (
    FRACTIONS,
    ChairExtractor,
    ChairVocabulary,
    aggregate,
    item_record,
    score_caption,
)

COCO_FILES = (
    ("instances_train2014.json", "instances_train"),
    ("instances_val2014.json", "instances_val"),
    ("captions_train2014.json", "captions_train"),
    ("captions_val2014.json", "captions_val"),
)

UnknownImages = Literal["error", "unscored"]


def make_extractor(nlp: Any = None) -> ChairExtractor:
    """The extractor with the shipped synonyms and halbench's exact fast ``word_tokenize``."""
    if nlp is None:
        from halbench.nlp.pipeline import NltkPipeline

        nlp = NltkPipeline()
    return ChairExtractor(ChairVocabulary.default(), nlp)


# --------------------------------------------------------------------------- ground truth


def load_ground_truth(
    coco_annotations: str | Path,
    extractor: ChairExtractor,
    *,
    use_cache: bool = True,
    cache_root: Path | None = None,
) -> GroundTruth:
    """Image id -> CHAIR classes from a COCO 2014 annotations folder (built or from the cache)."""
    directory = Path(coco_annotations)
    if not directory.is_dir():
        raise InputError(
            str(directory), "not a directory (expected the COCO 2014 annotations folder)"
        )
    missing = [name for name, _ in COCO_FILES if not (directory / name).is_file()]
    if missing:
        raise InputError(
            str(directory),
            f"{', '.join(missing)} missing: CHAIR needs instances_ and captions_ files of both "
            "train2014 and val2014 (annotations_trainval2014.zip)",
        )
    gt = cached_ground_truth(
        "chair",
        [(directory / name, role) for name, role in COCO_FILES],
        lambda: build_ground_truth(directory, extractor),
        extractor,
        use_cache,
        (cache_root or cache_dir()) / "ground_truth",
    )
    gt.kind = "coco_annotations"
    return gt


def build_ground_truth(directory: Path, extractor: ChairExtractor) -> dict[int, frozenset[str]]:
    """The reference's ``get_annotations`` for every image of the four files (no cache)."""
    canonical = extractor.vocab.canonical
    gt: dict[int, set[str]] = {}
    train_inst = directory / "instances_train2014.json"
    id_to_class: dict[int, str] = {}
    data = read_json(train_inst)
    for k, cat in enumerate(require_field(data, "categories", train_inst, "top level", list)):
        name = require_field(cat, "name", train_inst, f"categories[{k}]", str)
        if name not in canonical:
            raise InputError(
                str(train_inst), f'categories[{k}]: "{name}" is not an entry of the synonym list'
            )
        id_to_class[require_field(cat, "id", train_inst, f"categories[{k}]", int)] = canonical[name]
    for split in ("train", "val"):  # the train file is already read: categories come from it
        path = directory / f"instances_{split}2014.json"
        if split == "val":
            data = read_json(path)
        for k, img in enumerate(data.get("images", []) if isinstance(data, dict) else []):
            gt.setdefault(require_field(img, "id", path, f"images[{k}]", int), set())
        for k, ann in enumerate(require_field(data, "annotations", path, "top level", list)):
            image_id = require_field(ann, "image_id", path, f"annotations[{k}]", int)
            cid = require_field(ann, "category_id", path, f"annotations[{k}]", int)
            if cid not in id_to_class:
                raise InputError(
                    str(path),
                    f"annotations[{k}]: category_id {cid} is not a category of {train_inst.name}",
                )
            gt.setdefault(image_id, set()).add(id_to_class[cid])
    del data
    for split in ("val", "train"):
        path = directory / f"captions_{split}2014.json"
        caps = read_json(path)
        for k, img in enumerate(caps.get("images", []) if isinstance(caps, dict) else []):
            gt.setdefault(require_field(img, "id", path, f"images[{k}]", int), set())
        pairs = []
        for k, ann in enumerate(require_field(caps, "annotations", path, "top level", list)):
            where = f"annotations[{k}]"
            pairs.append(
                (
                    require_field(ann, "image_id", path, where, int),
                    require_field(ann, "caption", path, where, str),
                )
            )
        del caps
        seen: dict[str, list[str]] = {}
        for image_id, caption in track(
            pairs, total=len(pairs), desc=f"captions {split}2014", unit="cap"
        ):
            found = seen.get(caption)
            if found is None:
                found = seen[caption] = [c for _, c in extractor.mentions(caption)]
            gt.setdefault(image_id, set()).update(found)
    return {i: frozenset(c) for i, c in gt.items()}


# --------------------------------------------------------------------------- answers


def load_answers(path: str | Path, *, questions: str | Path | None = None) -> list[Answer]:
    """Answers in any format Object HalBench reads, or OPERA's ``{"image_id", "caption"}``
    records (JSONL or a JSON array, told apart by content).

    ``questions``: RLHF-V's question file, for answer files without ``image_id`` (joined by
    line position, as Object HalBench does)."""
    p = Path(path)
    records = read_records(p)  # told apart by content, whatever the suffix
    first = records.rows[0][1] if records.kind != "object" and records.rows else {}
    if "caption" in first and not {"text", "answer"} & set(first):
        return _caption_jsonl(p, records)
    return load_object_halbench_answers(p, questions_path=questions, coh="off")


def _caption_jsonl(path: Path, records: Records) -> list[Answer]:
    answers = []
    for index, (number, rec) in enumerate(records.rows):
        try:
            image_id = coco_id_field(rec, "image_id", path, number)
        except InputError as exc:
            at = records.where(index)
            raise InputError(str(path), at + exc.message, line=number, field=exc.field) from None
        caption = rec.get("caption")
        if not isinstance(caption, str):
            raise InputError(
                str(path),
                f'{records.where(index)}"caption" must be a string, got {describe_type(caption)}',
                line=number,
                field="caption",
            )
        answers.append(Answer(image_id, caption, None, rec, number, "image_id"))
    if not answers:
        raise InputError(str(path), "no answers in file (empty file?)")
    return answers


# --------------------------------------------------------------------------- scoring


def score_answers(
    answers: list[Answer],
    ground_truth: GroundTruth,
    extractor: ChairExtractor,
    *,
    unknown_images: UnknownImages = "error",
    source: str = "answers",
    inputs: list[InputFile] | None = None,
    command: list[str] | None = None,
    started: tuple[str, float] | None = None,
) -> ResultRecord:
    """Score answers already in memory; ``source`` names them in errors."""
    if unknown_images not in ("error", "unscored"):
        raise ValueError(f"unknown_images must be 'error' or 'unscored', not {unknown_images!r}")
    created_at, t0 = started or (now_utc(), time.perf_counter())
    unscored: list[UnscoredItem] = []
    scored = []
    records = []
    for index, ans in enumerate(track(answers, total=len(answers), desc="chair", unit="ans")):
        if ans.image_id not in ground_truth:
            reason = f"image {ans.image_id} is not in the COCO 2014 ground truth"
            if unknown_images == "error":
                raise InputError(
                    source,
                    f"image_id {ans.image_id} is not in the COCO 2014 ground truth "
                    "(score with unknown images 'unscored' to report such answers as unscored)",
                    line=ans.line,
                    field="image_id",
                )
            unscored.append(UnscoredItem(index=index, reason=reason, line=ans.line))
            records.append({**ans.fields, "unscored": reason})
            continue
        item = score_caption(ans.image_id, ans.answer, ground_truth[ans.image_id], extractor)
        scored.append(item)
        records.append(item_record(item, ans.fields))
    result = aggregate(scored)
    inputs = list(inputs or []) + [InputFile(**vars(f)) for f in ground_truth.files]
    inputs.append(
        InputFile(
            path="benchmarks/chair/data/synonyms.txt",
            sha256=extractor.vocab.sha256,
            role="synonyms",
        )
    )
    nlp = extractor.nlp
    details: dict[str, Any] = {
        "ground_truth": ground_truth.provenance(),
        "extractor_fingerprint": extractor.fingerprint(),
        "singularize": "benchmarks.chair.inflect (Pattern 3.6 rules)",
    }
    if nlp is not None and hasattr(nlp, "provenance"):
        details["nlp"] = nlp.provenance()
    return scorers.build_record(
        benchmark=definition(__file__).name,
        benchmark_version=definition(__file__).version,
        protocol={
            "extractor": "synonym",
            "unknown_images": unknown_images,
            "alignment": answers_alignment(answers),
        },
        metrics=result.metrics,
        fractions=fractions_of(result.counts, FRACTIONS),
        not_computable=result.not_computable,
        n_items=len(answers),
        n_scored=len(scored),
        unscored=unscored,
        items=records,
        started=(created_at, t0),
        inputs=inputs,
        command=command,
        details=details,
    )


def score_file(
    answers_path: str | Path,
    coco_annotations: str | Path,
    *,
    unknown_images: UnknownImages = "error",
    command: list[str] | None = None,
    questions: str | Path | None = None,
    use_cache: bool = True,
    cache_root: Path | None = None,
    nlp: Any = None,
) -> ResultRecord:
    """Score an answer file against COCO 2014 ground truth (classic CHAIR)."""
    started = (now_utc(), time.perf_counter())
    answers = load_answers(answers_path, questions=questions)
    extractor = make_extractor(nlp)
    gt = load_ground_truth(coco_annotations, extractor, use_cache=use_cache, cache_root=cache_root)
    inputs = [InputFile(path=str(answers_path), sha256=file_sha256(answers_path), role="answers")]
    if questions is not None:
        inputs.append(
            InputFile(path=str(questions), sha256=file_sha256(questions), role="questions")
        )
    return score_answers(
        answers,
        gt,
        extractor,
        unknown_images=unknown_images,
        source=str(answers_path),
        inputs=inputs,
        command=command,
        started=started,
    )


# --------------------------------------------------------------------------- display

_ROWS = (
    ("CHAIRs", "CHAIR_S", "captions"),
    ("CHAIRi", "CHAIR_I", "mentions"),
    ("recall", "Recall", "GT objects"),
)


def format_table(record: ResultRecord) -> str:
    """The terminal table: percent with one decimal (as papers print it) and the fractions."""
    lines = [
        f"CHAIR ({record.benchmark_version}): {record.n_scored} captions scored, "
        f"{record.n_unscored} unscored"
    ]
    for key, label, unit in _ROWS:
        value = record.metrics.get(key)
        frac = record.fractions.get(key)
        shown = "n/a" if value is None else f"{100 * value:5.1f}"
        counts = f"({frac.numerator:g} / {frac.denominator} {unit})" if frac else ""
        reason = f"  [{record.not_computable[key]}]" if key in record.not_computable else ""
        lines.append(f"  {label:<8} {shown:>5}  {counts}{reason}")
    avg = record.metrics.get("avg_len")
    frac = record.fractions.get("avg_len")
    shown = "n/a" if avg is None else f"{avg:5.1f}"
    counts = f"({frac.numerator:g} words / {frac.denominator} captions)" if frac else ""
    lines.append(f"  {'Len':<8} {shown:>5}  {counts}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- run and CLI


def score_run(ctx: scorers.ScoreContext) -> ResultRecord:
    """Score the answers of a ``halbench run`` (answers as generated, one per item)."""
    if ctx.ground_truth is None:  # pragma: no cover - the run checks this before generating
        raise HalbenchError(f"{ctx.benchmark.name}: no ground truth given")
    scorers.require_image_ids(ctx)
    started = (now_utc(), time.perf_counter())
    answers = [
        Answer(
            it.image_id,
            ctx.answers[it.id],
            it.question,
            scorers.item_fields(it, ctx.answers[it.id]),
            None,
        )
        for it in ctx.items
    ]
    extractor = make_extractor()
    gt = load_ground_truth(ctx.ground_truth, extractor)
    record = score_answers(
        answers, gt, extractor, source=ctx.benchmark.name, command=ctx.command, started=started
    )
    return scorers.finish(record, ctx)


TITLE = "CHAIR (Rohrbach et al., 2018): CHAIR_S, CHAIR_I, OPERA's Recall and Len"
DESCRIPTION = (
    "Score captions with the original CHAIR (LisaAnne/Hallucination @ 6e4d33c4 utils/chair.py, "
    "Pattern's singularize and its quirks) as image-captioning and decoding papers (OPERA and "
    "those that compare with it) report it, plus OPERA's Recall and Len. Ground truth: COCO 2014 "
    "train+val instances and captions (all four files)."
)
EPILOG = (
    "example:\n  halbench score chair --answers opera_llava-1.5_greedy.jsonl \\\n"
    "      --coco-annotations coco2014/annotations --output chair.json\n\n"
    "Answers: JSONL with image_id and caption (OPERA's), text or answer (ours, RLHF-V's), or "
    "LisaAnne's JSON; several answers per image are scored one by one."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``halbench score chair`` flags (``--output`` is the framework's)."""
    parser.add_argument("--answers", required=True, metavar="ANSWERS", help="answer file")
    parser.add_argument(
        "--coco-annotations",
        required=True,
        type=Path,
        metavar="DIR",
        help="COCO 2014 annotations folder (instances and captions, train2014 and val2014)",
    )
    parser.add_argument(
        "--questions",
        metavar="QUESTIONS.jsonl",
        help="question file with image_id per line, for answer files without image ids "
        "(joined by line position)",
    )
    parser.add_argument(
        "--unknown-images",
        choices=["error", "unscored"],
        default="error",
        help="an image id missing from the ground truth stops with an error (default) or makes "
        "that answer unscored (counted and listed, excluded from every metric)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="rebuild the ground truth, do not read or write its cache",
    )


def score_command(args: argparse.Namespace) -> ResultRecord:
    return score_file(
        args.answers,
        args.coco_annotations,
        unknown_images=args.unknown_images,
        command=args.argv,
        questions=args.questions,
        use_cache=not args.no_cache,
    )


def item_statistic(
    items: list[dict[str, Any]], metric: str
) -> Callable[[list[int]], float | None] | None:
    """CHAIRs / CHAIRi over a resample of captions (the leaderboard's bootstrap interval)."""
    h = [1 if it.get("hallucinated") else 0 for it in items]
    ones = [1] * len(items)
    hm = [len(it.get("hallucinated", [])) for it in items]
    m = [len(it.get("mentions", [])) for it in items]
    num, den = {"CHAIRs": (h, ones), "CHAIRi": (hm, m)}.get(metric, (None, None))
    if num is None or den is None:
        return None

    def stat(idx: list[int]) -> float | None:
        d = sum(den[i] for i in idx)
        return sum(num[i] for i in idx) / d if d else None

    return stat
