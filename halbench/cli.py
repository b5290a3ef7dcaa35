"""The ``halbench`` command: parse arguments, call the API, print. No scoring logic here."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from halbench import __version__
from halbench.errors import HalbenchError

_EPILOG_MAIN = """\
examples:
  halbench demo
  halbench score object-halbench --answers answers.jsonl \\
      --coco-annotations coco2014/annotations --output objhal.json
  halbench doctor

Docs: README.md and docs/ in the source tree."""

_EPILOG_OBJHAL = """\
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="halbench",
        description="Measure how much vision-language models hallucinate, with scorers that "
        "reproduce the published protocols exactly.",
        epilog=_EPILOG_MAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"halbench {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # -- score ---------------------------------------------------------------------
    score = sub.add_parser(
        "score",
        help="score an existing answer file",
        description="Score answers made anywhere (our runs, RLHF-V's files, other toolkits).",
        epilog="example:\n  halbench score object-halbench --answers a.jsonl "
        "--coco-annotations coco/annotations --output out.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score_sub = score.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    score_sub.required = True
    oh = score_sub.add_parser(
        "object-halbench",
        aliases=["objhal"],
        help="Object HalBench: CHAIR with COCO synonyms, exactly as RLHF-V scores it",
        description="Score answers with Object HalBench's CHAIR metrics, reproducing RLHF-V's "
        "eval/eval_gpt_obj_halbench.py (synonym path, commit 3d35a91) exactly.",
        epilog=_EPILOG_OBJHAL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    oh.add_argument(
        "--answers", required=True, metavar="ANSWERS", help="answer file (JSONL, or JSON)"
    )
    oh.add_argument(
        "--coco-annotations", required=True, metavar="PATH",
        help="COCO 2014 annotations directory or a caps_boxes JSONL file",
    )  # fmt: skip
    oh.add_argument(
        "--output", required=True, metavar="OUT.json", help="where to write the result record"
    )
    oh.add_argument(
        "--questions", metavar="QUESTIONS.jsonl",
        help="question file with image_id per line, for answer files without image ids "
        "(RLHF-V's generator output): ids are joined by line position, as in the reference",
    )  # fmt: skip
    oh.add_argument(
        "--coh", choices=["auto", "on", "off"], default="auto",
        help="cut Chain-of-Hindsight marker sentences: 'auto' (default) does it when the answer "
        "file's path contains 'coh', like the reference",
    )  # fmt: skip
    oh.add_argument(
        "--unknown-images", choices=["error", "unscored"], default="error",
        help="an image id missing from the ground truth stops with an error (default) or makes "
        "that answer unscored (counted and listed, excluded from every metric)",
    )  # fmt: skip
    oh.add_argument(
        "--synonyms", metavar="FILE",
        help="another synonym list in the format of RLHF-V's synonyms_refine.txt (one class per "
        "line, ', '-separated, canonical name first); the record's protocol mode becomes "
        "'custom-synonyms' (default: the reference list, shipped)",
    )  # fmt: skip
    oh.add_argument(
        "--no-cache",
        action="store_true",
        help="rebuild the ground truth, do not read or write its cache",
    )
    oh.add_argument(
        "--tokenizer", choices=["fast", "nltk"], default="fast",
        help="'fast' (default) gives NLTK's tokens exactly, faster; 'nltk' calls nltk.word_tokenize",
    )  # fmt: skip
    oh.set_defaults(func=_cmd_score_object_halbench)

    # -- demo ----------------------------------------------------------------------
    demo = sub.add_parser(
        "demo",
        help="score the bundled demo answers and print the table",
        description="Score GPT-4's LLaVA-Bench detailed descriptions of 30 COCO images (bundled) "
        "against the bundled ground truth of 80 COCO val2014 images, with Object HalBench.",
        epilog="example:\n  halbench demo --out runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--out", default="runs/demo", metavar="DIR", help="output directory (default: runs/demo)"
    )
    demo.set_defaults(func=_cmd_demo)

    # -- doctor / setup --------------------------------------------------------------
    doctor = sub.add_parser(
        "doctor",
        help="show what is installed and what is missing, with the fix",
        description="Check NLTK data (WordNet, Punkt), package versions and caches.",
        epilog="example:\n  halbench doctor",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    doctor.set_defaults(func=_cmd_doctor)
    setup = sub.add_parser(
        "setup",
        help="prepare data halbench needs (NLTK data)",
        description="Prepare NLTK's WordNet and Punkt data: from NLTK's downloader when online, "
        "otherwise from Debian packages (wordnet-base, wordnet-sense-index, "
        "golang-gopkg-neurosnap-sentences.v1-dev).",
        epilog="example:\n  halbench setup nltk --install-debian",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    setup_sub = setup.add_subparsers(dest="what", metavar="WHAT")
    setup_sub.required = True
    nl = setup_sub.add_parser(
        "nltk", help="WordNet + Punkt for the Object HalBench extractor",
        description="Make WordNet 3.0 and NLTK's English Punkt model available to halbench.",
        epilog="example:\n  halbench setup nltk --offline --install-debian",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    nl.add_argument("--offline", action="store_true", help="do not try NLTK's downloader")
    nl.add_argument(
        "--install-debian", action="store_true",
        help="install the Debian packages with apt-get when they are missing (needs root)",
    )  # fmt: skip
    nl.set_defaults(func=_cmd_setup_nltk)
    return parser


# --------------------------------------------------------------------------- commands


def _cmd_score_object_halbench(args: argparse.Namespace) -> int:
    from halbench.io import atomic_write_text
    from halbench.score import ObjectHalbenchOptions, score_object_halbench

    opts = ObjectHalbenchOptions(
        questions=args.questions,
        coh=args.coh,
        unknown_images=args.unknown_images,
        use_cache=not args.no_cache,
        fast_tokenizer=args.tokenizer == "fast",
        synonyms=args.synonyms,
    )
    record = score_object_halbench(args.answers, args.coco_annotations, opts, command=sys.argv[:])
    atomic_write_text(args.output, record.to_json())
    print(format_object_halbench(record))
    print(f"\nResult record: {args.output}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from importlib import resources

    from halbench.io import atomic_write_text
    from halbench.score import score_object_halbench

    res = resources.files("halbench.resources")
    answers = res.joinpath("demo/gpt4_llava_bench_detail.jsonl")
    gt = res.joinpath("llava_bench/caps_boxes_coco2014_val_80.jsonl")
    with resources.as_file(answers) as answers_path, resources.as_file(gt) as gt_path:
        record = score_object_halbench(answers_path, gt_path, command=sys.argv[:])
    out = Path(args.out) / "object-halbench.json"
    atomic_write_text(out, record.to_json())
    print("Demo: GPT-4's LLaVA-Bench detailed descriptions (30 COCO val2014 images)")
    print(format_object_halbench(record))
    print(f"\nResult record: {out}")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from halbench.doctor import run_doctor

    report, ok = run_doctor()
    print(report)
    return 0 if ok else 1


def _cmd_setup_nltk(args: argparse.Namespace) -> int:
    from halbench.nlp import nltk_data

    info, log = nltk_data.prepare(download=not args.offline, install_debian=args.install_debian)
    for line in log:
        print(line)
    print(f"WordNet: {info.wordnet_path} ({info.wordnet_source})")
    print(f"Punkt:   {info.punkt_path or 'not found: an untrained Punkt will be used'}")
    if not info.wordnet_matches_reference:
        print(
            "warning: this WordNet's noun data differs from WordNet 3.0; lemmas may differ from the reference"
        )
    return 0


# --------------------------------------------------------------------------- display


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:6.2f} %"


def format_object_halbench(record: Any) -> str:
    """The metrics table for an Object HalBench record (percentages, 2 decimals)."""
    m, f = record.metrics, record.fractions
    rows = [
        ("CHAIRs_refine (Resp.)", "lower", _pct(m.get("CHAIRs_refine")), f.get("CHAIRs_refine")),
        ("CHAIRi (Mention)", "lower", _pct(m.get("CHAIRi")), f.get("CHAIRi")),
        ("CHAIRs", "lower", _pct(m.get("CHAIRs")), f.get("CHAIRs")),
        ("coverage (obj_rec)", "higher", _pct(m.get("coverage")), f.get("coverage")),
    ]
    avg = m.get("avg_words")
    lines = [
        f"Object HalBench ({record.benchmark_version}, {record.protocol.get('extractor')} extractor): "
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


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from halbench import progress

    progress.set_enabled(not args.quiet)
    t0 = time.perf_counter()
    try:
        code = args.func(args)
    except HalbenchError as exc:
        print(f"halbench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("halbench: interrupted", file=sys.stderr)
        return 130
    if not args.quiet and args.command != "doctor":
        print(f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return code
