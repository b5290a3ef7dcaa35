"""The ``halbench`` command: one module per command; parse, call the API, print.

Benchmarks bring their own flags (``halbench score NAME``, ``halbench data prepare NAME``):
only the benchmark named on the command line is imported.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

from halbench import __version__
from halbench.cli import data, leaderboard, run, score, tools
from halbench.cli.common import Formatter, forbid_repeats, positionals
from halbench.errors import HalbenchError
from halbench.redact import redact

EPILOG = """\
examples:
  halbench demo
  halbench score object-halbench --answers answers.jsonl \\
      --coco-annotations coco2014/annotations --output objhal.json
  halbench run --model llava-hf/llava-1.5-7b-hf --benchmarks object-halbench,pope
  halbench doctor
  halbench train ddpo --config tiny

Every command has --help with an example. Docs: README.md and docs/ in the source tree.

exit status: 0 done; 1 a user or input error (one line); 2 usage; 3 outputs written but
some items unscored because generation or a judge call failed; 130 interrupted."""


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; ``argv`` says which benchmark's flags to load (only that one is imported)."""
    from halbench.annotate.cli import add_parser as add_annotate
    from reference_models.rlhfv.cli import add_parser as add_train
    from reference_models.rlhfv.reproduce_cli import add_parser as add_reproduce

    words = positionals(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="halbench",
        description="Measure how much vision-language models hallucinate, with scorers that "
        "reproduce the published protocols exactly.",
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"halbench {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    score.add_parser(sub, words)
    run.add_parser(sub)
    data.add_parser(sub, words)
    leaderboard.add_parser(sub)
    add_annotate(sub)
    add_train(sub)
    add_reproduce(sub)
    tools.add_parsers(sub, words)
    forbid_repeats(parser)  # a single-valued flag given twice is an error, never an override
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
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
        print(f"halbench: error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("halbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and friends: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - flushed at exit, never read
        return 0
    finally:
        gc.set_threshold(*gc_thresholds)  # main() also runs inside other programs (tests)
    if not args.quiet and args.command != "doctor":
        print(f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return code
