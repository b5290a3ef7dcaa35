"""``halbench score NAME``: score an answer file with one benchmark's scorer.

Each benchmark whose folder has a ``score.py`` with ``add_arguments`` gets a subcommand;
its flags come from that module, imported only when that benchmark is the one asked for.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from halbench import registry
from halbench.cli.common import add_command, argv, emit_record, failure_exit

DESCRIPTION = (
    "Score answers made anywhere (our runs, the papers' files, other toolkits).\nExit status 3 "
    "when some items are unscored because a judge call failed (the record is written)."
)


def scorable() -> list[registry.Benchmark]:
    """Benchmarks with an answer-file scorer, from their definitions alone (nothing imported)."""
    out = []
    for name in registry.names():
        bench = registry.get_benchmark(name)
        home = registry.scorer_home(bench.scorer)
        if home is bench and bench.spec.get("cli", {}).get("score", True):
            out.append(bench)
    return out


def add_parser(sub: Any, words: list[str]) -> None:
    p = add_command(
        sub,
        "score",
        help="score an existing answer file",
        description=DESCRIPTION,
        example="halbench score object-halbench --answers a.jsonl "
        "--coco-annotations coco/annotations --output out.json",
    )
    ssub = p.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    ssub.required = True
    chosen = words[1] if len(words) > 1 and words[0] == "score" else None
    for bench in scorable():
        names = {bench.name, *bench.aliases}
        if chosen in names:
            _add_benchmark(ssub, bench)
        else:  # listed in --help; built only when chosen
            ssub.add_parser(bench.name, aliases=bench.aliases, help=bench.title)


def _add_benchmark(ssub: Any, bench: registry.Benchmark) -> None:
    mod = bench.module("score")
    p = add_command(
        ssub,
        bench.name,
        aliases=bench.aliases,
        help=getattr(mod, "TITLE", bench.title),
        description=getattr(mod, "DESCRIPTION", bench.summary),
        example=getattr(mod, "EPILOG", f"halbench score {bench.name} --help"),
    )
    mod.add_arguments(p)
    p.add_argument(
        "--output", required=True, type=Path, metavar="OUT.json", help="where to write the record"
    )
    p.set_defaults(func=_cmd_score, score_module=mod)


def _cmd_score(args: argparse.Namespace) -> int:
    from halbench.destinations import check_writable_file

    mod = args.score_module
    check_writable_file(args.output, "--output")  # before the answers are read or judged
    args.argv = argv()
    record = mod.score_command(args)
    code = emit_record(record, args.output, mod.format_table(record))
    return failure_exit(record) or code
