"""Score answer files made anywhere: files in, a ``ResultRecord`` out (no printing)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from benchmarks.object_halbench.metrics import FRACTIONS, aggregate, item_record, score_item
from benchmarks.object_halbench.objects import ObjectExtractor, SynonymVocabulary
from halbench import scorers
from halbench.answers import Answer, CohMode, clean_answer, load_object_halbench_answers
from halbench.coco import load_ground_truth
from halbench.display import pct
from halbench.errors import HalbenchError, InputError
from halbench.io import file_sha256
from halbench.judges.cli import add_llm_extractor_flags, judge_config, print_estimate
from halbench.nlp.pipeline import NltkPipeline
from halbench.progress import track
from halbench.provenance import make_provenance, now_utc
from halbench.registry import definition
from halbench.types import Fraction, InputFile, ResultRecord, UnscoredItem

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
                    line=ans.line, field="image_id",
                )  # fmt: skip
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
    return ResultRecord(
        benchmark=OBJECT_HALBENCH,
        benchmark_version=definition(__file__).version,
        protocol={
            "mode": "parity" if opts.synonyms is None else "custom-synonyms",
            "extractor": "synonym",
            "coh": opts.coh,
            "coh_applied": coh_applied,
            "unknown_images": opts.unknown_images,
        },
        metrics=result.metrics,
        fractions={
            name: Fraction(numerator=result.counts[num], denominator=result.counts[den])
            for name, (num, den) in FRACTIONS.items()
        },
        not_computable=result.not_computable,
        n_items=len(answers),
        n_scored=len(scored),
        n_unscored=len(unscored),
        unscored=unscored,
        items=records,
        provenance=make_provenance(
            inputs=inputs,
            duration_s=time.perf_counter() - t0,
            created_at=created_at,
            command=command,
            details={
                "nlp": nlp.provenance(),
                "ground_truth": gt.provenance(),
                "extractor_fingerprint": extractor.fingerprint(),
            },
        ),
    )


def score_run(ctx: scorers.ScoreContext) -> ResultRecord:
    """Score the answers of a ``halbench run`` (the synonym path, or ``--extractor llm``)."""
    if ctx.ground_truth is None:  # pragma: no cover - the run checks this before generating
        raise HalbenchError(f"{ctx.benchmark.name}: no ground truth given")
    scorers.require_image_ids(ctx)
    answers = []
    for item in ctx.items:
        raw = ctx.answers[item.id]
        fields = scorers.item_fields(item, raw)
        answers.append(Answer(item.image_id, clean_answer(raw), item.question, fields))
    opts = ObjectHalbenchOptions(**ctx.options)
    if ctx.judge is not None and ctx.judge.extractor == "llm":
        from .llm import LlmExtraction, score_llm_answers

        llm = LlmExtraction(ctx.judge.config, ctx.judge.spacy_model)
        record = score_llm_answers(
            answers,
            ctx.ground_truth,
            opts,
            llm,
            command=ctx.command,
            source=ctx.benchmark.name,
            on_estimate=ctx.judge.on_estimate,
        )
    else:
        record = score_object_halbench_answers(
            answers, ctx.ground_truth, opts, command=ctx.command, source=ctx.benchmark.name
        )
    return scorers.finish(record, ctx)


# --------------------------------------------------------------------------- CLI

TITLE = "Object HalBench: CHAIR with COCO synonyms, exactly as RLHF-V scores it"
DESCRIPTION = (
    "Score answers with Object HalBench's CHAIR metrics, reproducing RLHF-V's "
    "eval/eval_gpt_obj_halbench.py (synonym path, commit 3d35a91) exactly. --extractor llm: its "
    "--use_gpt path (a judge lists the objects; the paper's numbers), with the synonym path beside it."
)
EPILOG = """\
ANSWERS is JSONL, one object per line: "image_id" (integer, "000000441147" or
"COCO_val2014_000000441147.jpg"), "prompt" or "question", and "text" or "answer"
(the reference's order); other fields are echoed in the output items. Every
"Assistant:" is removed from answers before scoring, as in RLHF-V.

--coco-annotations is a directory with instances_{train,val}2014.json and
captions_{train,val}2014.json (the splits present are used) or a caps_boxes JSONL
file (id, captions, instances[].category). Ground truth is cached, keyed by the
files' checksums, so later runs start at once.

Metrics (fractions in [0,1] in the JSON, percentages on screen):
  CHAIRs_refine  hallucinated responses / responses mentioning a COCO object
                 (the paper's "response-level" rate)
  CHAIRi         hallucinated mentions / all mentions (the paper's "mention-level")
  CHAIRs         hallucinated responses / all responses
  coverage       correctly mentioned classes / ground-truth classes (obj_rec)

example:
  halbench score object-halbench --answers runs/llava/objhal_answers.jsonl \\
      --coco-annotations ~/data/coco2014/annotations --output runs/llava/objhal.json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``halbench score object-halbench`` flags (``--output`` is the framework's)."""
    parser.add_argument(
        "--answers", required=True, metavar="ANSWERS", help="answer file (JSONL, or JSON)"
    )
    parser.add_argument(
        "--coco-annotations", required=True, metavar="PATH",
        help="COCO 2014 annotations directory or a caps_boxes JSONL file",
    )  # fmt: skip
    parser.add_argument(
        "--questions", metavar="QUESTIONS.jsonl",
        help="question file with image_id per line, for answer files without image ids "
        "(RLHF-V's generator output): ids are joined by line position, as in the reference",
    )  # fmt: skip
    parser.add_argument(
        "--coh", choices=["auto", "on", "off"], default="auto",
        help="cut Chain-of-Hindsight marker sentences: 'auto' (default) does it when the answer "
        "file's path contains 'coh', like the reference",
    )  # fmt: skip
    parser.add_argument(
        "--unknown-images", choices=["error", "unscored"], default="error",
        help="an image id missing from the ground truth stops with an error (default) or makes "
        "that answer unscored (counted and listed, excluded from every metric)",
    )  # fmt: skip
    parser.add_argument(
        "--synonyms", metavar="FILE",
        help="another synonym list in the format of RLHF-V's synonyms_refine.txt (one class per "
        "line, ', '-separated, canonical name first); the record's protocol mode becomes "
        "'custom-synonyms' (default: the reference list, shipped)",
    )  # fmt: skip
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="rebuild the ground truth, do not read or write its cache",
    )
    parser.add_argument(
        "--tokenizer", choices=["fast", "nltk"], default="fast",
        help="'fast' (default) gives NLTK's tokens exactly, faster; 'nltk' calls nltk.word_tokenize",
    )  # fmt: skip
    add_llm_extractor_flags(parser)


def score_command(args: argparse.Namespace) -> ResultRecord:
    opts = ObjectHalbenchOptions(
        questions=args.questions,
        coh=args.coh,
        unknown_images=args.unknown_images,
        use_cache=not args.no_cache,
        fast_tokenizer=args.tokenizer == "fast",
        synonyms=args.synonyms,
    )
    if args.extractor == "llm":
        from .llm import LlmExtraction, score_object_halbench_llm

        if not args.judge_model:
            raise HalbenchError(
                "--extractor llm needs --judge-model (the reference: gpt-3.5-turbo-0613)"
            )
        llm = LlmExtraction(judge_config(args, Path(args.output).parent), args.spacy_model)
        return score_object_halbench_llm(
            args.answers,
            args.coco_annotations,
            opts,
            llm,
            command=args.argv,
            on_estimate=print_estimate,
        )
    return score_object_halbench(args.answers, args.coco_annotations, opts, command=args.argv)


def format_table(record: ResultRecord) -> str:
    """The metrics table (percentages, 2 decimals); with the LLM extractor, both paths."""
    if record.protocol.get("extractor") == "llm":
        return _llm_table(record)
    return _synonym_table(record)


def _synonym_table(record: ResultRecord) -> str:
    """The metrics table for an Object HalBench record (percentages, 2 decimals)."""
    m, f = record.metrics, record.fractions
    rows = [
        ("CHAIRs_refine (Resp.)", "lower", pct(m.get("CHAIRs_refine")), f.get("CHAIRs_refine")),
        ("CHAIRi (Mention)", "lower", pct(m.get("CHAIRi")), f.get("CHAIRi")),
        ("CHAIRs", "lower", pct(m.get("CHAIRs")), f.get("CHAIRs")),
        ("coverage (obj_rec)", "higher", pct(m.get("coverage")), f.get("coverage")),
    ]
    avg = m.get("avg_words")
    lines = [
        f"{record.benchmark} ({record.benchmark_version}, {record.protocol.get('extractor')} extractor): "
        f"{record.n_scored} scored, {record.n_unscored} unscored",
        f"  {'metric':<24}{'better':<8}{'value':>10}   fraction",
    ]
    for name, better, value, frac in rows:
        frac_txt = f"{frac.numerator} / {frac.denominator}" if frac is not None else ""
        lines.append(f"  {name:<24}{better:<8}{value:>10}   {frac_txt}")
    lines.append(f"  {'avg words':<24}{'':<8}{'n/a' if avg is None else f'{avg:8.2f}':>10}")
    for name, reason in record.not_computable.items():
        lines.append(f"  {name}: not computable ({reason})")
    if record.n_unscored:
        lines.append(
            f"  unscored items: {record.n_unscored} (listed under 'unscored' in the record)"
        )
    if record.protocol.get("coh_applied"):
        lines.append("  note: Chain-of-Hindsight marker sentences were cut from answers (--coh)")
    return "\n".join(lines)


def _llm_table(record: ResultRecord) -> str:
    """The LLM-extraction table, then both paths side by side on the same items and their agreement."""
    p, ag = record.protocol, record.metrics.get("agreement", {})
    lines = [_synonym_table(record),
             f"  judge {p.get('judge_model')}, prompt {p.get('prompt_version')}, lemmatizer {p.get('lemmatizer')} ({p.get('mode')})"]  # fmt: skip
    if p.get("lemmatizer_note"):
        lines.append(f"  note: {p['lemmatizer_note']}")
    lines.append(f"  LLM vs synonym path on the same {ag.get('n_items', 0)} items:")
    lines.append(f"  {'metric':<16}{'llm':>10}{'synonym':>10}")
    for name, v in ag.get("side_by_side", {}).items():
        lines.append(f"  {name:<16}{pct(v['llm']):>10}{pct(v['synonym']):>10}")
    same, jac = ag.get("same_class_set"), ag.get("mean_class_jaccard")
    lines.append(f"  per-item agreement: same COCO classes {pct(same)} ({ag.get('same_class_set_count')}/{ag.get('n_items')}), "
                 f"same mentions {ag.get('same_mentions_count')}/{ag.get('n_items')}, "
                 f"mean Jaccard {'n/a' if jac is None else f'{jac:.3f}'}")  # fmt: skip
    return "\n".join(lines)


def item_statistic(
    items: list[dict[str, Any]], metric: str
) -> Callable[[list[int]], float | None] | None:
    """CHAIRs_refine / CHAIRi over a resample of items (the leaderboard's bootstrap interval)."""
    h = [1 if it.get("hallucinated") else 0 for it in items]
    o = [1 if it.get("mentions") else 0 for it in items]
    hm = [len(it.get("hallucinated", [])) for it in items]
    m = [len(it.get("mentions", [])) for it in items]
    num, den = {"CHAIRs_refine": (h, o), "CHAIRi": (hm, m)}.get(metric, (None, None))
    if num is None or den is None:
        return None

    def stat(idx: list[int]) -> float | None:
        d = sum(den[i] for i in idx)
        return sum(num[i] for i in idx) / d if d else None

    return stat
