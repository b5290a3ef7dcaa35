"""``halbench leaderboard build|add``: the static leaderboard site."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from halbench.cli.common import add_command


def add_parser(sub: Any) -> None:
    p = add_command(
        sub,
        "leaderboard",
        help="build the static leaderboard site, or add records to it",
        description="Reference entries (the paper's tables) and result records to one static site.",
        example="examples:\n  halbench leaderboard build --runs runs/ --out leaderboard/site\n"
        "  halbench leaderboard add runs/llava/object-halbench/result.json",
    )
    lsub = p.add_subparsers(dest="lb_command", metavar="ACTION")
    lsub.required = True
    b = add_command(
        lsub,
        "build",
        help="write the site",
        description="Write OUT/index.html (one tab per table: the papers' tables, then one per "
        "benchmark and protocol), per-model pages, OUT/leaderboard.csv and .json (every shown "
        "cell). Reads the papers' tables shipped with halbench, the entry files and records "
        "(ENTRIES/runs/) in --entries, and every result record under each --runs directory.",
        example="halbench leaderboard build --runs runs/ --out leaderboard/site",
    )
    b.add_argument(
        "--entries",
        type=Path,
        metavar="DIR",
        help="extra entry files and ENTRIES/runs/ (default: $HALBENCH_HOME/leaderboard, if it exists)",
    )
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
    a = add_command(
        lsub,
        "add",
        help="import result records into the entries",
        description="Validate result records and copy them into ENTRIES/runs/ so that build includes them.",
        example="halbench leaderboard add runs/llava/object-halbench/result.json",
    )
    a.add_argument("records", nargs="+", type=Path, metavar="RECORD")
    a.add_argument(
        "--entries",
        type=Path,
        metavar="DIR",
        help="where to add them: DIR/runs/ (default: $HALBENCH_HOME/leaderboard, created)",
    )
    a.add_argument(
        "--reproduces",
        metavar="ENTRY:ROW",
        help="the records reproduce this reported entry (e.g. rlhfv-table1:RLHF-V)",
    )
    a.set_defaults(func=_cmd_leaderboard_add)


def _cmd_leaderboard_build(args: argparse.Namespace) -> int:
    from halbench.leaderboard import build_site
    from halbench.leaderboard.add import default_entries

    entries = args.entries
    if entries is None and default_entries().is_dir():
        entries = default_entries()
    runs = list(args.runs)
    if entries is not None and (entries / "runs").is_dir():
        runs.append(entries / "runs")
    site = build_site(entries, runs, args.out, all_runs=args.all_runs)
    n_rows = sum(len(t.rows) for t in site.tables)
    print(
        f"leaderboard: {n_rows} rows in {len(site.tables)} tables, {len(site.model_pages)} model pages"
    )
    print(f"open {site.index} (every cell: {site.csv})")
    return 0


def _cmd_leaderboard_add(args: argparse.Namespace) -> int:
    from halbench.leaderboard.add import add_records, default_entries

    entries = args.entries if args.entries is not None else default_entries()
    added = add_records(
        args.records, entries, reproduces=args.reproduces, create=args.entries is None
    )
    print("\n".join(f"added {path}" for path in added))
    return 0
