"""The ``halbench`` command: parse arguments, call the API, print. No scoring logic here."""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

from halbench import __version__, display
from halbench.annotate.cli import add_parser as add_annotate_parser
from halbench.errors import HalbenchError
from halbench.judges.cli import (
    add_judge_flags,
    add_llm_extractor_flags,
    add_score_parsers,
    judge_config,
    print_estimate,
    run_judge_setup,
    score_objhal_llm_cmd,
)
from halbench.llava_wild import add_score_flags as add_wild_flags

_EPILOG_MAIN = """\
examples:
  halbench demo
  halbench score object-halbench --answers answers.jsonl \\
      --coco-annotations coco2014/annotations --output objhal.json
  halbench doctor
  halbench train ddpo --config reference_models/rlhfv/configs/tiny.yaml

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
        "eval/eval_gpt_obj_halbench.py (synonym path, commit 3d35a91) exactly. --extractor llm: its "
        "--use_gpt path (a judge lists the objects; the paper's numbers), with the synonym path beside it.",
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
    add_llm_extractor_flags(oh)
    oh.set_defaults(func=_cmd_score_object_halbench)
    _add_score_others(score_sub)
    add_score_parsers(score_sub)

    _add_run(sub)
    _add_data(sub)
    _add_leaderboard(sub)
    add_annotate_parser(sub)
    _add_train(sub)

    # -- demo ----------------------------------------------------------------------
    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline on bundled data and print the results",
        description="(1) Score GPT-4's LLaVA-Bench detailed descriptions of 30 COCO images "
        "(bundled) against the bundled ground truth of 80 COCO val2014 images with Object "
        "HalBench; (2) build a tiny LLaVA-style model offline and `halbench run` it on the "
        "demo benchmark (six drawn images). Needs the hf extra (torch, transformers).",
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


# --------------------------------------------------------------------------- other scorers


def _add_score_others(score_sub: Any) -> None:
    vq = score_sub.add_parser(
        "vqav2",
        help="VQAv2 accuracy, identical to the official evaluation (2021)",
        description="Score VQA answers exactly like GT-Vision-Lab/VQA vqaEval.py (2021): answers are "
        "normalised only when the ten human answers disagree; accuracy = mean over leave-one-out "
        "subsets of min(1, matches/3).",
        epilog="example:\n  halbench score vqav2 --answers results.json --annotations v2_mscoco_val2014_annotations.json "
        "\\\n      --questions v2_OpenEnded_mscoco_val2014_questions.json --output vqav2.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    vq.add_argument(
        "--answers",
        required=True,
        help='official results JSON [{"question_id", "answer"}] or JSONL (answer/text)',
    )
    vq.add_argument("--annotations", required=True, help="VQA v2 annotations JSON")
    vq.add_argument("--questions", required=True, help="VQA v2 questions JSON")
    vq.add_argument("--output", required=True, metavar="OUT.json")
    vq.add_argument(
        "--normalize", choices=["official", "always"], default="official",
        help="'always' also normalises when the humans agree (what some toolkits do; not the official metric)",
    )  # fmt: skip
    vq.add_argument(
        "--missing", choices=["error", "unscored"], default="error",
        help="questions without an answer: error (the official evaluation requires all) or unscored",
    )  # fmt: skip
    vq.set_defaults(func=_cmd_score_vqav2)

    po = score_sub.add_parser(
        "pope",
        help="POPE yes/no object questions (reference parsing, or strict)",
        description="Score POPE answers. parity: the reference evaluate.py parser (first sentence, no "
        "commas, 'No'/'no'/'not' means no, anything else yes) and metrics with yes positive; strict: "
        "only an explicit leading yes/no counts, others are unscored (not reference-comparable).",
        epilog="examples:\n  halbench score pope --questions random --answers answers_random.jsonl --output pope.json\n"
        "  halbench score pope --questions random popular adversarial \\\n"
        "      --answers ans_random.jsonl ans_popular.jsonl ans_adversarial.jsonl --output pope.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    po.add_argument("--questions", required=True, nargs="+", metavar="Q",
                    help="question/label files (JSON lines), or the shipped splits: random, popular, adversarial")  # fmt: skip
    po.add_argument(
        "--answers",
        required=True,
        nargs="+",
        metavar="A",
        help="answer files, one per --questions, same order",
    )
    po.add_argument("--mode", choices=["parity", "strict"], default="parity")
    po.add_argument("--output", required=True, metavar="OUT.json")
    po.set_defaults(func=_cmd_score_pope)

    lb = score_sub.add_parser(
        "llava-bench",
        help="LLaVA-Bench (COCO, or --benchmark llava-bench-in-the-wild): relative score against GPT-4's answers, with an LLM judge",
        description="Judge answers to LLaVA-Bench's 90 COCO questions against GPT-4's reference answers, "
        "exactly as LLaVA's eval_gpt_review_visual.py asks and summarize_gpt_review.py aggregates "
        "(relative score = ratio of mean scores, per category). A reply without a score pair, or a "
        "failed call, makes the item unscored (RLHF-V's summarizer skips them too).",
        epilog="example:\n  halbench score llava-bench --answers runs/m/llava-bench-coco/answers.jsonl \\\n"
        "      --judge-model gpt-4o-2024-11-20 --output llava-bench.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lb.add_argument(
        "--answers",
        required=True,
        help="JSONL with question_id (or one line per question in order) and text/answer",
    )
    lb.add_argument("--output", required=True, metavar="OUT.json")
    lb.add_argument(
        "--failures", choices=["unscored", "llava-minus-one"], default="unscored",
        help="unscored (default; RLHF-V) or llava-minus-one (LLaVA's summarizer averages in [-1, -1])",
    )  # fmt: skip
    lb.add_argument("--judge-max-tokens", type=int, default=1024, help="LLaVA: 1024; RLHF-V: 180")
    add_wild_flags(lb)
    add_judge_flags(lb)
    lb.set_defaults(func=_cmd_score_llava_bench)

    am = score_sub.add_parser(
        "amber",
        help="AMBER: discriminative yes/no and generative CHAIR/Cover/Hal/Cog",
        description="Score AMBER responses like its inference.py (parity: exact 'Yes'/'No', 'No' positive, "
        "0.001 start values, one-decimal rounding), or strict (explicit leading yes/no; others unscored). "
        "Generative metrics need NLTK's POS tagger data and a similarity backend: auto uses spaCy "
        "en_core_web_lg when installed; otherwise they are reported unscored with the reason.",
        epilog="example:\n  halbench score amber --answers responses.json --output amber.json --similarity auto",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    am.add_argument(
        "--answers",
        required=True,
        help='JSON array of {"id", "response"} (the reference format) or JSONL',
    )
    am.add_argument("--output", required=True, metavar="OUT.json")
    am.add_argument("--mode", choices=["parity", "strict"], default="parity")
    am.add_argument(
        "--similarity", default="auto", help="auto, exact, spacy:MODEL or table:FILE (default auto)"
    )
    am.add_argument(
        "--threshold", type=float, default=0.8, help="similarity threshold, strict > (default 0.8)"
    )
    am.add_argument(
        "--data", type=Path, metavar="DIR", help="another copy of AMBER's data/ (default: shipped)"
    )
    am.set_defaults(func=_cmd_score_amber)


def _cmd_score_llava_bench(args: argparse.Namespace) -> int:
    from halbench.llava_wild import score_llava_bench_wild
    from halbench.score_llava_bench import score_llava_bench

    judge = judge_config(args, Path(args.output).parent)
    kw = {"failures": args.failures, "max_tokens": args.judge_max_tokens, "command": sys.argv[:], "on_estimate": print_estimate}  # fmt: skip
    if args.benchmark == "llava-bench-coco":
        record = score_llava_bench(args.answers, judge, **kw)
    else:
        record = score_llava_bench_wild(args.answers, judge, data_dir=args.data_dir, string_caption=args.string_caption, **kw)  # fmt: skip
    return _emit(record, args.output, display.format_llava_bench(record))


def _cmd_score_vqav2(args: argparse.Namespace) -> int:
    from halbench.score_vqav2 import score_vqav2

    record = score_vqav2(
        args.answers,
        args.annotations,
        args.questions,
        normalize=args.normalize,
        missing=args.missing,
        command=sys.argv[:],
    )
    return _emit(record, args.output, display.format_vqav2(record))


def _cmd_score_pope(args: argparse.Namespace) -> int:
    from halbench.score_pope import score_pope

    if len(args.questions) != len(args.answers):
        raise HalbenchError(
            f"{len(args.questions)} --questions but {len(args.answers)} --answers: give one answer file per split"
        )
    pairs = [(_pope_questions(q), a) for q, a in zip(args.questions, args.answers, strict=True)]
    record = score_pope(pairs, mode=args.mode, command=sys.argv[:])
    return _emit(record, args.output, display.format_pope(record))


def _pope_questions(name: str) -> str:
    if name in ("random", "popular", "adversarial") and not Path(name).exists():
        from importlib import resources

        return str(resources.files("halbench.resources").joinpath(f"pope/coco_pope_{name}.json"))
    return name


def _cmd_score_amber(args: argparse.Namespace) -> int:
    from halbench.score_amber import score_amber

    record = score_amber(
        args.answers,
        mode=args.mode,
        similarity=args.similarity,
        data_dir=args.data,
        threshold=args.threshold,
        command=sys.argv[:],
    )
    return _emit(record, args.output, display.format_amber(record))


# --------------------------------------------------------------------------- leaderboard


def _add_train(sub: Any) -> None:
    from reference_models.rlhfv.cli import add_parser

    add_parser(sub)


def _add_leaderboard(sub: Any) -> None:
    p = sub.add_parser(
        "leaderboard",
        help="build the static leaderboard site, or add records to it",
        description="Reference entries (the paper's tables) and result records to one static site.",
        epilog="examples:\n  halbench leaderboard build --runs runs/ --out leaderboard/site\n"
        "  halbench leaderboard add runs/llava/object-halbench/result.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lsub = p.add_subparsers(dest="lb_command", metavar="ACTION")
    lsub.required = True
    b = lsub.add_parser(
        "build",
        help="write the site",
        description="Write OUT/index.html (sortable, filterable tables with provenance), per-model pages "
        "with per-item drill-down, and assets. Reads the entry files in --entries, the records in "
        "ENTRIES/runs/ and every result record under each --runs directory.",
        epilog="example:\n  halbench leaderboard build --runs runs/ --out leaderboard/site",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("--entries", type=Path, default=Path("leaderboard/entries"), metavar="DIR")
    b.add_argument(
        "--runs",
        type=Path,
        nargs="*",
        default=[],
        metavar="DIR",
        help="directories with result records",
    )
    b.add_argument("--out", type=Path, default=Path("leaderboard/site"), metavar="DIR")
    b.add_argument(
        "--all-runs",
        action="store_true",
        help="one row per run instead of the latest per model and benchmark",
    )
    b.set_defaults(func=_cmd_leaderboard_build)
    a = lsub.add_parser(
        "add",
        help="import result records into the entries",
        description="Validate result records and copy them into ENTRIES/runs/ so that build includes them.",
        epilog="example:\n  halbench leaderboard add runs/llava/object-halbench/result.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("records", nargs="+", type=Path, metavar="RECORD")
    a.add_argument("--entries", type=Path, default=Path("leaderboard/entries"), metavar="DIR")
    a.set_defaults(func=_cmd_leaderboard_add)


def _cmd_leaderboard_build(args: argparse.Namespace) -> int:
    from halbench.leaderboard import build_site

    runs = list(args.runs)
    if (args.entries / "runs").is_dir():
        runs.append(args.entries / "runs")
    site = build_site(args.entries, runs, args.out, all_runs=args.all_runs)
    n_rows = sum(len(t.rows) for t in site.tables)
    print(
        f"leaderboard: {n_rows} rows in {len(site.tables)} tables, {len(site.model_pages)} model pages"
    )
    print(f"open {site.index}")
    return 0


def _cmd_leaderboard_add(args: argparse.Namespace) -> int:
    from halbench.leaderboard import add_records

    for path in add_records(args.records, args.entries):
        print(f"added {path}")
    return 0


# --------------------------------------------------------------------------- run / data

_EPILOG_RUN = """\
MODEL is a local checkpoint directory or a Hugging Face hub id (any checkpoint that
AutoProcessor + AutoModelForImageTextToText load), openai:NAME for an OpenAI-compatible
API (--base-url; key from $OPENAI_API_KEY), or replay:FILE to score answers made
elsewhere. Answers are stored in OUT/answers.sqlite as they are produced: run the same
command again after an interruption and only the missing answers are generated.

Writes OUT/<benchmark>/answers.jsonl and OUT/<benchmark>/result.json, then prints a
summary. Exit status 3 when some items could not be generated (they are unscored).

examples:
  halbench run --model runs/demo/tiny-llava --benchmarks demo
  halbench run --model llava-hf/llava-1.5-7b-hf --benchmarks object-halbench \\
      --coco-annotations ~/data/coco2014/annotations --batch-size 16
  halbench run --model openai:gpt-4o-mini --benchmarks object-halbench --limit 20
  halbench run --model replay:rlhfv_objhal_answers.jsonl --benchmarks object-halbench"""


def _add_run(sub: Any) -> None:
    from halbench.run import DEFAULT_BENCHMARKS
    from halbench.runners import BACKENDS

    p = sub.add_parser(
        "run",
        help="generate answers with a model, score them, write result records",
        description="Generate every benchmark's answers with a model, resumably, then score and record them.",
        epilog=_EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help="checkpoint dir, hub id, openai:NAME or replay:FILE",
    )
    p.add_argument(
        "--benchmarks", default=",".join(DEFAULT_BENCHMARKS), metavar="A,B",
        help=f"comma-separated benchmark names (default: {','.join(DEFAULT_BENCHMARKS)}; "
        "`halbench benchmarks` lists them)",
    )  # fmt: skip
    p.add_argument(
        "--backend", choices=BACKENDS, default="auto", help="model backend (default: auto)"
    )
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="output directory (default: runs/<model name>)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=8,
        metavar="N",
        help="prompts per generate() call (default 8)",
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        metavar="N",
        help="default: the benchmark's (1024 for object-halbench)",
    )
    p.add_argument(
        "--temperature", type=float, default=0.0, help="0 (default) = greedy / beam search"
    )
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--num-beams", type=int, default=1, help="beam search width (RLHF-V used 3)")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="(RLHF-V used 1.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--limit", type=int, metavar="N", help="only the first N items of each benchmark"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="prepared data root (default: $HALBENCH_HOME/data)",
    )
    p.add_argument(
        "--coco-annotations",
        type=Path,
        metavar="DIR",
        help="COCO 2014 annotations (Object HalBench ground truth)",
    )
    g = p.add_argument_group("hf / vllm backends")
    g.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: best available)")
    g.add_argument(
        "--dtype", help="float32, bfloat16 or float16 (default: bfloat16 on GPU, float32 on CPU)"
    )
    g.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the checkpoint's own code (off by default)",
    )
    g.add_argument("--revision", help="hub revision (branch, tag or commit)")
    g.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm: GPUs per model")
    g.add_argument("--max-model-len", type=int, help="vllm: context length limit")
    g = p.add_argument_group("openai backend")
    g.add_argument(
        "--base-url",
        help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL or api.openai.com)",
    )
    g.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key"
    )
    g.add_argument("--concurrency", type=int, default=8, help="parallel requests (default 8)")
    g.add_argument(
        "--max-retries",
        type=int,
        default=5,
        help="retries per request on 429/5xx/timeouts (default 5)",
    )
    add_llm_extractor_flags(p)
    p.set_defaults(func=_cmd_run)


def _add_data(sub: Any) -> None:
    p = sub.add_parser(
        "data",
        help="prepare benchmark data from official files or local copies",
        description="Prepare benchmark data into $HALBENCH_HOME/data/NAME (or --data-dir).",
        epilog="example:\n  halbench data prepare object-halbench --from obj_halbench_300_with_image.jsonl "
        "--coco-annotations coco/annotations",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    prep = dsub.add_parser(
        "prepare",
        help="prepare one benchmark",
        description="object-halbench: RLHF-V's 300-item question file (downloaded where online, or --from "
        "PATH), verified by its git blob hash; or --coco-sample, a seeded sample of 300 val2014 images "
        "(not the official set). llava-bench-coco: the 30 images from --coco-images. mmhal-bench: its 96 "
        "images from --images and/or the judge prompt from --judge-prompt-from (GPL-3.0, not shipped). "
        "llava-bench-in-the-wild: a local copy of the HF dataset folder with --from DIR (downloaded where online).",
        epilog="examples:\n"
        "  halbench data prepare object-halbench --from obj_halbench_300_with_image.jsonl \\\n"
        "      --coco-annotations coco/annotations\n"
        "  halbench data prepare object-halbench --coco-sample --coco-images coco/val2014 \\\n"
        "      --coco-annotations coco/annotations\n"
        "  halbench data prepare llava-bench-coco --coco-images coco/val2014\n"
        "  halbench data prepare llava-bench-in-the-wild --from llava-bench-in-the-wild/\n"
        "  halbench data prepare mmhal-bench --images mmhal/images --judge-prompt-from eval_gpt_mmhal.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prep.add_argument("name", metavar="NAME", help="benchmark name")
    prep.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="PATH",
        help="the official file, already downloaded (llava-bench-in-the-wild: the dataset folder)",
    )
    prep.add_argument(
        "--coco-annotations",
        type=Path,
        metavar="DIR",
        help="COCO 2014 annotations, recorded for scoring",
    )
    prep.add_argument(
        "--coco-images", type=Path, metavar="DIR", help="COCO val2014 image directory"
    )
    prep.add_argument(
        "--coco-sample", action="store_true", help="object-halbench without the official file"
    )
    prep.add_argument("--seed", type=int, help="--coco-sample seed (default 0)")
    prep.add_argument(
        "--vqa-questions", type=Path, metavar="FILE", help="vqav2: official questions JSON"
    )
    prep.add_argument(
        "--vqa-annotations",
        type=Path,
        metavar="FILE",
        help="vqav2: official annotations JSON (omit for test-dev)",
    )
    prep.add_argument(
        "--subset", type=int, metavar="N", help="vqav2: a seeded subset of N questions (--seed)"
    )
    prep.add_argument(
        "--split",
        default="val2014",
        help="vqav2: image split of the questions (val2014, test2015, ...)",
    )
    prep.add_argument(
        "--amber-images", type=Path, metavar="DIR", help="amber: AMBER's image directory"
    )
    prep.add_argument(
        "--images",
        type=Path,
        metavar="DIR",
        help="mmhal-bench, mhumaneval: a folder of MMHal-Bench's 96 images",
    )
    prep.add_argument("--judge-prompt-from", type=Path, metavar="FILE",
                      help="mmhal-bench: a local eval_gpt_mmhal.py to extract the (GPL-3.0) judge prompt from")  # fmt: skip
    prep.add_argument("--offline", action="store_true", help="never try to download")
    prep.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="prepared data root (default: $HALBENCH_HOME/data)",
    )
    prep.set_defaults(func=_cmd_data_prepare)

    ex = sub.add_parser(
        "export",
        help="write files for evaluation servers (vqav2-testdev)",
        description="vqav2-testdev: the EvalAI submission file from a run's vqav2/answers.jsonl, checked "
        "against the test-dev question file (every question answered, no others).",
        epilog="example:\n  halbench export vqav2-testdev --answers runs/m/vqav2/answers.jsonl \\\n"
        "      --questions v2_OpenEnded_mscoco_test-dev2015_questions.json --output submission.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ex.add_argument("what", choices=["vqav2-testdev"])
    ex.add_argument("--answers", required=True, type=Path)
    ex.add_argument("--questions", required=True, type=Path)
    ex.add_argument("--output", required=True, type=Path)
    ex.set_defaults(func=_cmd_export)

    b = sub.add_parser(
        "benchmarks",
        help="list the benchmarks and whether their data is ready",
        description="List every benchmark definition with its version, scorer and data status.",
        epilog="example:\n  halbench benchmarks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("--data-dir", type=Path, metavar="DIR")
    b.set_defaults(func=_cmd_benchmarks)


# --------------------------------------------------------------------------- commands


def _emit(record: Any, output: str | Path, table: str) -> int:
    """Write a record atomically, then print its table and path."""
    from halbench.io import atomic_write_text

    atomic_write_text(output, record.to_json())
    print(table)
    print(f"\nResult record: {output}")
    return 0


def _cmd_score_object_halbench(args: argparse.Namespace) -> int:
    from halbench.score import ObjectHalbenchOptions, score_object_halbench

    opts = ObjectHalbenchOptions(
        questions=args.questions,
        coh=args.coh,
        unknown_images=args.unknown_images,
        use_cache=not args.no_cache,
        fast_tokenizer=args.tokenizer == "fast",
        synonyms=args.synonyms,
    )
    if args.extractor == "llm":
        return score_objhal_llm_cmd(args, opts)
    record = score_object_halbench(args.answers, args.coco_annotations, opts, command=sys.argv[:])
    return _emit(record, args.output, display.format_object_halbench(record))


def _cmd_run(args: argparse.Namespace) -> int:
    from halbench.run import RunConfig, run
    from halbench.runners import BackendOptions

    names = [n.strip() for n in args.benchmarks.split(",") if n.strip()]
    if not names:
        raise HalbenchError("--benchmarks is empty")
    config = RunConfig(
        model=args.model,
        backend=args.backend,
        benchmarks=names,
        out=args.out,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        num_beams=args.num_beams,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
        limit=args.limit,
        data_dir=args.data_dir,
        coco_annotations=args.coco_annotations,
        backend_options=BackendOptions(
            device=args.device,
            dtype=args.dtype,
            trust_remote_code=args.trust_remote_code,
            revision=args.revision,
            base_url=args.base_url,
            api_key_env=args.api_key_env,
            concurrency=args.concurrency,
            max_retries=args.max_retries,
            tensor_parallel_size=args.tensor_parallel_size,
            max_model_len=args.max_model_len,
        ),
        judge=run_judge_setup(args),
        command=sys.argv[:],
    )
    outcomes = run(config)
    print(display.format_run_summary(outcomes))
    return 3 if any(o.failed for o in outcomes) else 0


def _cmd_data_prepare(args: argparse.Namespace) -> int:
    from halbench.data import prepare

    target = prepare(
        args.name,
        data_dir=args.data_dir,
        source=args.source,
        coco_annotations=args.coco_annotations,
        coco_images=args.coco_images,
        coco_sample=args.coco_sample,
        seed=args.seed,
        offline=args.offline,
        vqa_questions=args.vqa_questions,
        vqa_annotations=args.vqa_annotations,
        subset=args.subset,
        split=args.split,
        amber_images=args.amber_images,
        images=args.images,
        judge_prompt_from=args.judge_prompt_from,
    )
    print(f"prepared {args.name}: {target}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from halbench.export import export_vqav2_testdev

    n = export_vqav2_testdev(args.answers, args.questions, args.output)
    print(f"wrote {n} answers to {args.output}")
    return 0


def _cmd_benchmarks(args: argparse.Namespace) -> int:
    from halbench import benchmarks

    seen = set()
    print(f"{'name':<25}{'version':<18}{'scorer':<18}data")
    for bench in benchmarks.registry().values():
        if bench.name in seen:
            continue
        seen.add(bench.name)
        status = (
            "shipped"
            if bench.shipped
            else ("prepared" if bench.is_prepared(args.data_dir) else "not prepared")
        )
        alias = f" (alias: {', '.join(bench.aliases)})" if bench.aliases else ""
        print(f"{bench.name:<25}{bench.version:<18}{bench.scorer:<18}{status}{alias}")
        print(f"    {bench.summary}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from halbench.demo import run_demo

    result = run_demo(Path(args.out), command=sys.argv[:])
    print("1) GPT-4's LLaVA-Bench detailed descriptions of 30 COCO val2014 images")
    print(display.format_object_halbench(result.gpt4_record))
    print(f"   record: {result.gpt4_record_path}")
    print(
        f"\n2) halbench run --model {result.model_dir} --benchmarks demo  (a tiny model trained for a second)"
    )
    print(display.format_run_summary(result.run))
    for o in result.run:
        if o.record.protocol.get("scorer") == "object-halbench":
            print(display.format_object_halbench(o.record))
    if result.leaderboard is not None:
        print(
            f"\n3) leaderboard with the paper's reference entries and these runs: open {result.leaderboard}"
        )
    else:
        print(
            "\n(no leaderboard/entries here: run the demo from a source checkout to build the leaderboard page)"
        )
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


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from halbench import progress

    progress.set_enabled(not args.quiet)
    # Scorers build one record per answer: with the collector's default first threshold
    # (700) it rescans the growing records over and over, about 0.5 s of 2.8 s for
    # 20,000 Object HalBench answers (perf/bench_object_halbench.py, section c).
    gc_thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    t0 = time.perf_counter()
    try:
        code = args.func(args)
    except HalbenchError as exc:
        print(f"halbench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("halbench: interrupted", file=sys.stderr)
        return 130
    finally:
        gc.set_threshold(*gc_thresholds)  # main() also runs inside other programs (tests)
    if not args.quiet and args.command != "doctor":
        print(f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return code
