"""``halbench reproduce rlhfv``: wired into halbench/cli by one ``add_parser(sub)`` call."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from halbench.cli.common import add_command
from halbench.judges.cli import add_llm_extractor_flags, run_judge_setup

_STAGES = """

Stages: prepare (data, checksummed) -> eval-base -> train (DDPO, resumable) -> eval-trained ->
report (linked records, summary.json, OUT/leaderboard). A stage whose outputs exist with the
same inputs is skipped, so the same command continues a killed run. Presets
(reference_models/rlhfv/configs/presets/): {presets}."""

_EXAMPLES = """\
examples:
  halbench reproduce rlhfv --preset tiny --out runs/reproduce-tiny
  halbench reproduce rlhfv --preset llava15-7b-paper --out runs/repro-paper --dry-run \\
      --accelerate-config reference_models/rlhfv/configs/accelerate/zero2.yaml"""


def add_parser(sub: Any) -> None:
    from reference_models.rlhfv.reproduce_plan import preset_names

    p = add_command(
        sub,
        "reproduce",
        help="reproduce a paper's training result end to end (RLHF-V)",
        description="Reproduce a published training result end to end: data, base evaluation, "
        "training, evaluation of the trained model, leaderboard.",
        example="halbench reproduce rlhfv --preset tiny --out runs/reproduce-tiny",
    )
    rsub = p.add_subparsers(dest="reproduce_command", metavar="PAPER")
    r = add_command(
        rsub,
        "rlhfv",
        help="RLHF-V's DDPO: base model -> DDPO -> both evaluated -> leaderboard rows",
        description="One command from preference data to a reproduced leaderboard row: prepares "
        "the preset's preference data, evaluates the base model, trains it with DDPO, evaluates "
        "the checkpoint with the same settings and builds OUT/leaderboard with both rows, the "
        "relative change and the paper's rows." + _STAGES.format(presets=", ".join(preset_names())),
        example=_EXAMPLES,
    )
    r.add_argument("--preset", required=True, help="a shipped preset name or a preset YAML file")
    r.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    r.add_argument(
        "--accelerate-config",
        type=Path,
        metavar="FILE",
        help="train under accelerate launch with this config (world size and sharding from it)",
    )
    r.add_argument(
        "--data", type=Path, metavar="PATH", help="preference data instead of the preset's"
    )
    r.add_argument("--data-dir", type=Path, help="prepared benchmark data (halbench data prepare)")
    r.add_argument("--coco-annotations", type=Path, metavar="DIR", help="COCO 2014 annotations")
    r.add_argument("--limit", type=int, help="at most N items per benchmark (smoke runs)")
    add_llm_extractor_flags(
        r
    )  # --judge-* (judged benchmarks, --extractor llm) for both evaluations
    r.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan, batch geometry and memory estimate; start nothing",
    )
    r.set_defaults(func=_cmd)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _cmd(args: argparse.Namespace) -> int:
    from reference_models.rlhfv.reproduce import ReproduceOptions, reproduce
    from reference_models.rlhfv.reproduce_report import format_summary

    opts = ReproduceOptions(
        preset=args.preset,
        out=args.out,
        accelerate_config=args.accelerate_config,
        data=args.data,
        data_dir=args.data_dir,
        coco_annotations=args.coco_annotations,
        limit=args.limit,
        dry_run=args.dry_run,
        command=sys.argv[:],
        judge=None if args.dry_run else run_judge_setup(args),
    )
    result = reproduce(opts)
    if args.dry_run:
        print(result.plan)
        return 0
    if result.skipped:
        print(f"skipped (up to date): {', '.join(result.skipped)}")
    assert result.summary is not None
    print(format_summary(result.summary))
    print(f"\nsummary: {args.out / 'summary.json'}\nleaderboard: {result.leaderboard}")
    return 0
