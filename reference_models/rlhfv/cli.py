"""``halbench train ddpo``: wired into halbench/cli/ by one ``add_parser(sub)`` call."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from halbench.cli.common import Formatter, global_flags

_EPILOG = """\
CONFIG is YAML; every field is documented in docs/ddpo.md (or --list-fields). Shipped configs:
  reference_models/rlhfv/configs/tiny.yaml         tiny offline model, 24 toy pairs, CPU, seconds
  reference_models/rlhfv/configs/rlhfv-paper.yaml  the paper's recipe for a base model you choose
Many GPUs: accelerate launch --config_file reference_models/rlhfv/configs/accelerate/zero2.yaml \\
             -m halbench train ddpo --config CONFIG.yaml   (also ddp.yaml, fsdp.yaml, zero3.yaml)

examples:
  halbench train ddpo --config tiny        (= reference_models/rlhfv/configs/tiny.yaml)
  halbench train ddpo --config my.yaml --out runs/ddpo --set gamma=3 --set lora=true
  halbench run --model runs/ddpo --benchmarks demo"""


def configs_dir() -> Path:
    return Path(__file__).parent / "configs"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train reference models (RLHF-V's DDPO)",
        description="Train reference models: RLHF-V's DDPO (halbench train ddpo).",
        epilog="example:\n  halbench train ddpo --config tiny",
        formatter_class=Formatter,
        parents=[global_flags()],
    )
    tsub = p.add_subparsers(dest="train_command", metavar="METHOD")
    d = tsub.add_parser(
        "ddpo",
        help="RLHF-V's dense DPO on any AutoModelForImageTextToText checkpoint",
        description="Train a vision-language model with RLHF-V's dense direct preference "
        "optimisation (DDPO) from a YAML config: preference pairs in, a checkpoint and "
        "train_record.json out; resumable; accelerate/FSDP/DeepSpeed for many processes.",
        epilog=_EPILOG,
        formatter_class=Formatter,
        parents=[global_flags()],
    )
    d.add_argument(
        "--config",
        help="YAML config (see docs/ddpo.md), or the name of a shipped one: tiny, rlhfv-paper",
    )
    d.add_argument(
        "--out", "--output-dir", dest="output_dir", metavar="DIR", help="override output_dir"
    )
    d.add_argument("--resume-from", help="override resume_from (a checkpoint dir or 'latest')")
    d.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config field (value read as YAML); repeatable",
    )
    d.add_argument("--list-fields", action="store_true", help="print every config field and exit")
    d.set_defaults(func=_cmd_train_ddpo)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _cmd_train_ddpo(args: argparse.Namespace) -> int:
    from halbench.errors import HalbenchError
    from reference_models.rlhfv.config import config_reference, load_config, parse_override

    if args.list_fields:
        print(config_reference())
        return 0
    if not args.config:
        raise HalbenchError("--config is required (see reference_models/rlhfv/configs/)")
    overrides = dict(parse_override(s) for s in args.set)
    if args.output_dir:
        overrides["output_dir"] = args.output_dir
    if args.resume_from:
        overrides["resume_from"] = args.resume_from
    config = Path(args.config)
    shipped = configs_dir() / f"{args.config}.yaml"
    if not config.exists() and shipped.exists():  # `--config tiny`: a shipped config by name
        config = shipped
    cfg = load_config(config, overrides)
    from halbench.destinations import check_writable_dir

    # before the model loads
    check_writable_dir(cfg.output_dir, "--out" if args.output_dir else "output_dir (--config)")
    from reference_models.rlhfv.trainer import train

    out = train(cfg, command=sys.argv[:])
    import json

    rec = json.loads((out / "train_record.json").read_text())
    curve = rec["loss_curve"]
    print(
        f"trained {cfg.loss} (beta {rec['resolved']['beta']}, gamma {rec['resolved']['gamma']}) "
        f"on {rec['data']['n_pairs']} pairs: loss {curve.get('first_loss', float('nan')):.4f} -> "
        f"{curve.get('last_loss', float('nan')):.4f}, reward accuracy (last 10%) "
        f"{curve.get('reward_accuracy_last_10pct', float('nan')):.2f}"
    )
    if rec["data"]["skipped_bad_records"]:
        print(
            f"skipped {len(rec['data']['skipped_bad_records'])} bad record(s): see {out / 'train_record.json'}"
        )
    print(f"checkpoint: {out}  (score it: halbench run --model {out} --benchmarks demo)")
    return 0
