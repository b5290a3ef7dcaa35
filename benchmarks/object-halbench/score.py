"""``halbench score object-halbench`` and scoring inside ``halbench run``: the synonym path
(``synonym.py``) or, with ``--extractor llm``, RLHF-V's LLM-assisted path (``llm.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from halbench import scorers
from halbench.answers import Answer, clean_answer
from halbench.display import pct
from halbench.errors import HalbenchError
from halbench.judges.cli import add_llm_extractor_flags, judge_config, print_estimate
from halbench.types import ResultRecord

from .llm import LlmExtraction, score_llm_answers, score_object_halbench_llm
from .synonym import ObjectHalbenchOptions, score_object_halbench, score_object_halbench_answers

__all__ = ["ObjectHalbenchOptions", "score_object_halbench", "score_object_halbench_answers"]


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
        "--coco-annotations",
        required=True,
        metavar="PATH",
        help="COCO 2014 annotations directory or a caps_boxes JSONL file",
    )
    parser.add_argument(
        "--questions",
        metavar="QUESTIONS.jsonl",
        help="question file with image_id per line, for answer files without image ids "
        "(RLHF-V's generator output): ids are joined by line position, as in the reference",
    )
    parser.add_argument(
        "--coh",
        choices=["auto", "on", "off"],
        default="auto",
        help="cut Chain-of-Hindsight marker sentences: 'auto' (default) does it when the answer "
        "file's path contains 'coh', like the reference",
    )
    parser.add_argument(
        "--unknown-images",
        choices=["error", "unscored"],
        default="error",
        help="an image id missing from the ground truth stops with an error (default) or makes "
        "that answer unscored (counted and listed, excluded from every metric)",
    )
    parser.add_argument(
        "--synonyms",
        metavar="FILE",
        help="another synonym list in the format of RLHF-V's synonyms_refine.txt (one class per "
        "line, ', '-separated, canonical name first); the record's protocol mode becomes "
        "'custom-synonyms' (default: the reference list, shipped)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="rebuild the ground truth, do not read or write its cache",
    )
    parser.add_argument(
        "--tokenizer",
        choices=["fast", "nltk"],
        default="fast",
        help="'fast' (default) gives NLTK's tokens exactly, faster; 'nltk' calls nltk.word_tokenize",
    )
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
    lines = [
        _synonym_table(record),
        f"  judge {p.get('judge_model')}, prompt {p.get('prompt_version')}, lemmatizer {p.get('lemmatizer')} ({p.get('mode')})",
    ]
    if p.get("lemmatizer_note"):
        lines.append(f"  note: {p['lemmatizer_note']}")
    lines.append(f"  LLM vs synonym path on the same {ag.get('n_items', 0)} items:")
    lines.append(f"  {'metric':<16}{'llm':>10}{'synonym':>10}")
    for name, v in ag.get("side_by_side", {}).items():
        lines.append(f"  {name:<16}{pct(v['llm']):>10}{pct(v['synonym']):>10}")
    same, jac = ag.get("same_class_set"), ag.get("mean_class_jaccard")
    lines.append(
        f"  per-item agreement: same COCO classes {pct(same)} ({ag.get('same_class_set_count')}/{ag.get('n_items')}), "
        f"same mentions {ag.get('same_mentions_count')}/{ag.get('n_items')}, "
        f"mean Jaccard {'n/a' if jac is None else f'{jac:.3f}'}"
    )
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
