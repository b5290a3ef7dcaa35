"""``halbench data prepare NAME``: prepare one benchmark's data with its own flags.

The flags come from ``benchmarks/NAME/prepare.py`` (``add_arguments``), imported only for
the benchmark asked for, so each benchmark accepts exactly its own flags.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from halbench import registry
from halbench.cli.common import Formatter, add_command, global_flags

EXAMPLES = """\
examples:
  halbench data prepare object-halbench --from obj_halbench_300_with_image.jsonl \\
      --coco-annotations coco/annotations
  halbench data prepare pope --coco-images coco/val2014
  halbench data prepare mmhal-bench --images mmhal/images --judge-prompt-from eval_gpt_mmhal.py
  halbench data prepare pope --help     (one benchmark's flags)"""


def preparable() -> list[registry.Benchmark]:
    """Benchmarks whose data is prepared (not shipped), from their definitions alone."""
    benches = (registry.get_benchmark(n) for n in registry.names())
    return [b for b in benches if not b.shipped and (b.folder / "prepare.py").is_file()]


def add_parser(sub: Any, words: list[str]) -> None:
    p = add_command(
        sub,
        "data",
        help="prepare benchmark data from official files or local copies",
        description="Prepare benchmark data into $HALBENCH_HOME/data/NAME (or --data-dir).",
        example=EXAMPLES,
    )
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    prep = dsub.add_parser(
        "prepare",
        help="prepare one benchmark",
        description="Prepare one benchmark's data: each benchmark has its own flags "
        "(halbench data prepare NAME --help).",
        epilog=EXAMPLES,
        formatter_class=Formatter,
        parents=[global_flags()],
    )
    bsub = prep.add_subparsers(dest="name", metavar="NAME")
    bsub.required = True
    chosen = words[2] if len(words) > 2 and words[:2] == ["data", "prepare"] else None
    for bench in preparable():
        if chosen in {bench.name, *bench.aliases}:
            _add_benchmark(bsub, bench)
        else:
            bsub.add_parser(bench.name, aliases=bench.aliases, help=bench.title)


def _add_benchmark(bsub: Any, bench: registry.Benchmark) -> None:
    mod = bench.module("prepare")
    hint = bench.spec.get("data", {}).get("prepare_hint", f"halbench data prepare {bench.name}")
    p = add_command(
        bsub,
        bench.name,
        aliases=bench.aliases,
        help=bench.title,
        description=(mod.__doc__ or bench.summary).strip().splitlines()[0],
        example="example:\n"
        + "\n".join(f"  {ln.strip()}" for ln in hint.splitlines() if "halbench" in ln),
    )
    mod.add_arguments(p)
    p.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="prepared data root (default: $HALBENCH_HOME/data)",
    )
    p.set_defaults(func=_cmd_prepare, prepare_module=mod, bench=bench)


def _cmd_prepare(args: argparse.Namespace) -> int:
    from halbench.destinations import check_writable_dir
    from halbench.prepare import FRAMEWORK_OPTIONS

    check_writable_dir(args.bench.data_dir(args.data_dir), "--data-dir")  # before slow work
    skip = FRAMEWORK_OPTIONS | {"prepare_module", "bench"}
    options = {k: v for k, v in vars(args).items() if k not in skip}
    target = args.prepare_module.prepare(args.bench, args.data_dir, **options)
    print(f"prepared {args.bench.name}: {target}")
    return 0
