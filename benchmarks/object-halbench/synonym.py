"""The synonym path (RLHF-V's rule-based extraction): answer files in, a ``ResultRecord`` out."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from benchmarks.object_halbench.metrics import FRACTIONS, aggregate, item_record, score_item
from benchmarks.object_halbench.objects import ObjectExtractor, SynonymVocabulary
from halbench import scorers
from halbench.answers import Answer, CohMode, answers_alignment, load_object_halbench_answers
from halbench.coco import load_ground_truth
from halbench.errors import InputError
from halbench.io import file_sha256
from halbench.nlp.pipeline import NltkPipeline
from halbench.progress import track
from halbench.provenance import now_utc
from halbench.registry import definition
from halbench.types import InputFile, ResultRecord, UnscoredItem, fractions_of

OBJECT_HALBENCH = "object-halbench"
#: The protocol reproduced: RLHF-V eval/eval_gpt_obj_halbench.py at commit 3d35a91 (rule path).

UnknownImages = Literal["error", "unscored"]


@dataclass
class ObjectHalbenchOptions:
    """Options of ``halbench score object-halbench`` (defaults reproduce the reference)."""

    questions: str | Path | None = None
    coh: CohMode = "auto"
    unknown_images: UnknownImages = "error"
    use_cache: bool = True
    cache_root: Path | None = None
    fast_tokenizer: bool = True
    synonyms: str | Path | None = None


def score_object_halbench(
    answers_path: str | Path,
    coco_annotations: str | Path,
    options: ObjectHalbenchOptions | None = None,
    *,
    nlp: NltkPipeline | None = None,
    command: list[str] | None = None,
) -> ResultRecord:
    """Score an answer file against COCO ground truth (RLHF-V's Object HalBench, rule path)."""
    opts = options or ObjectHalbenchOptions()
    started, t0 = now_utc(), time.perf_counter()
    answers = load_object_halbench_answers(
        answers_path, questions_path=opts.questions, coh=opts.coh
    )
    inputs = [InputFile(path=str(answers_path), sha256=file_sha256(answers_path), role="answers")]
    if opts.questions is not None:
        sha = file_sha256(opts.questions)
        inputs.append(InputFile(path=str(opts.questions), sha256=sha, role="questions"))
    return score_object_halbench_answers(
        answers,
        coco_annotations,
        opts,
        nlp=nlp,
        command=command,
        source=str(answers_path),
        inputs=inputs,
        coh_applied=opts.coh == "on" or (opts.coh == "auto" and "coh" in str(answers_path)),
        started=(started, t0),
    )


def score_object_halbench_answers(
    answers: list[Answer],
    coco_annotations: str | Path,
    options: ObjectHalbenchOptions | None = None,
    *,
    nlp: NltkPipeline | None = None,
    command: list[str] | None = None,
    source: str = "answers",
    inputs: list[InputFile] | None = None,
    coh_applied: bool = False,
    started: tuple[str, float] | None = None,
) -> ResultRecord:
    """Score answers already in memory (``halbench run`` calls this); ``source`` names them in errors."""
    opts = options or ObjectHalbenchOptions()
    created_at, t0 = started or (now_utc(), time.perf_counter())
    nlp = nlp or NltkPipeline(fast=opts.fast_tokenizer)
    if opts.synonyms is None:
        vocab = SynonymVocabulary.default()
    else:
        try:
            vocab = SynonymVocabulary.from_file(opts.synonyms)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(str(opts.synonyms), f"cannot read the synonym list: {exc}") from None
    extractor = ObjectExtractor(vocab, nlp)
    gt = load_ground_truth(
        coco_annotations, extractor, use_cache=opts.use_cache, cache_root=opts.cache_root
    )

    unscored: list[UnscoredItem] = []
    scored = []
    records = []
    for index, ans in enumerate(
        track(answers, total=len(answers), desc="object-halbench", unit="ans")
    ):
        if ans.image_id not in gt:
            reason = f"image {ans.image_id} is not in the ground truth ({coco_annotations})"
            if opts.unknown_images == "error":
                raise InputError(
                    source,
                    f"image_id {ans.image_id} is not in the ground truth {coco_annotations} "
                    "(use --unknown-images unscored to report such answers as unscored)",
                    line=ans.line,
                    field="image_id",
                )
            unscored.append(UnscoredItem(index=index, reason=reason, line=ans.line))
            records.append({**ans.fields, "unscored": reason})
            continue
        item = score_item(ans.image_id, ans.answer, gt[ans.image_id], extractor.mentions)
        scored.append(item)
        records.append(item_record(item, ans.fields))
    result = aggregate(scored)

    inputs = list(inputs or [])
    inputs += [InputFile(**vars(f)) for f in gt.files]
    synonyms_path = (
        str(opts.synonyms) if opts.synonyms else "halbench:object_halbench/synonyms_refine.txt"
    )
    inputs.append(InputFile(path=synonyms_path, sha256=vocab.sha256, role="synonyms"))
    return scorers.build_record(
        benchmark=OBJECT_HALBENCH,
        benchmark_version=definition(__file__).version,
        protocol={
            "mode": "parity" if opts.synonyms is None else "custom-synonyms",
            "extractor": "synonym",
            "coh": opts.coh,
            "coh_applied": coh_applied,
            "unknown_images": opts.unknown_images,
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
        details={
            "nlp": nlp.provenance(),
            "ground_truth": gt.provenance(),
            "extractor_fingerprint": extractor.fingerprint(),
        },
    )
