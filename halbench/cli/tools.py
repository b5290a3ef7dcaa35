"""The small commands: ``benchmarks``, ``export``, ``demo``, ``doctor``, ``setup nltk``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from halbench import display, registry
from halbench.cli.common import add_command


def add_parsers(sub: Any, words: list[str]) -> None:
    b = add_command(
        sub,
        "benchmarks",
        help="list the benchmarks and whether their data is ready",
        description="List every benchmark definition with its version, scorer and data status.",
        example="halbench benchmarks",
    )
    b.add_argument("--data-dir", type=Path, metavar="DIR", help="prepared data root")
    b.set_defaults(func=_cmd_benchmarks)
    _add_export(sub, words)

    demo = add_command(
        sub,
        "demo",
        help="run the whole pipeline on bundled data and print the results",
        description="(1) Score GPT-4's LLaVA-Bench detailed descriptions of 30 COCO images "
        "(bundled) against the bundled ground truth of 80 COCO val2014 images with Object "
        "HalBench; (2) build a tiny LLaVA-style model offline and `halbench run` it on the "
        "demo benchmark (six drawn images). Needs the hf extra (torch, transformers).",
        example="halbench demo --out runs/demo",
    )
    demo.add_argument(
        "--out", default="runs/demo", metavar="DIR", help="output directory (default: runs/demo)"
    )
    demo.set_defaults(func=_cmd_demo)

    doctor = add_command(
        sub,
        "doctor",
        help="show what is installed and what is missing, with the fix",
        description="Check NLTK data (WordNet, Punkt), torch (CUDA build, GPUs and memory), "
        "the model and optional packages, spaCy models, judges and caches; each missing "
        "one with its fix.",
        example="halbench doctor",
    )
    doctor.set_defaults(func=_cmd_doctor)
    setup = add_command(
        sub,
        "setup",
        help="prepare data halbench needs (NLTK data)",
        description="Prepare NLTK's WordNet and Punkt data: from NLTK's downloader when online, "
        "otherwise from Debian packages (wordnet-base, wordnet-sense-index, "
        "golang-gopkg-neurosnap-sentences.v1-dev).",
        example="halbench setup nltk --install-debian",
    )
    setup_sub = setup.add_subparsers(dest="what", metavar="WHAT")
    setup_sub.required = True
    nl = add_command(
        setup_sub,
        "nltk",
        help="WordNet + Punkt for the Object HalBench extractor",
        description="Make WordNet 3.0 and NLTK's English Punkt model available to halbench.",
        example="halbench setup nltk --offline --install-debian",
    )
    nl.add_argument("--offline", action="store_true", help="do not try NLTK's downloader")
    nl.add_argument(
        "--install-debian",
        action="store_true",
        help="install the Debian packages with apt-get when they are missing (needs root)",
    )
    nl.set_defaults(func=_cmd_setup_nltk)


def exports() -> dict[str, tuple[registry.Benchmark, str]]:
    """Export targets declared by benchmarks (``[[exports]]``): name -> (benchmark, help)."""
    out = {}
    for name in registry.names():
        bench = registry.get_benchmark(name)
        for row in bench.spec.get("exports", []):
            out[row["name"]] = (bench, row.get("help", ""))
    return out


def _add_export(sub: Any, words: list[str]) -> None:
    targets = exports()
    ex = add_command(
        sub,
        "export",
        help="write files for evaluation servers (" + ", ".join(targets) + ")",
        description="Files that evaluation servers take, from a run's answers.",
        example="halbench export vqav2-testdev --help",
    )
    esub = ex.add_subparsers(dest="what", metavar="TARGET")
    esub.required = True
    chosen = words[1] if len(words) > 1 and words[0] == "export" else None
    for name, (bench, text) in targets.items():
        if name != chosen:
            esub.add_parser(name, help=text)
            continue
        mod = bench.module("export")
        p = add_command(esub, name, help=text, description=mod.DESCRIPTION, example=mod.EPILOG)
        mod.add_arguments(p)
        p.set_defaults(func=_cmd_export, export_command=mod.export_command)


def _cmd_export(args: argparse.Namespace) -> int:
    from halbench.destinations import check_writable_file

    if getattr(args, "output", None) is not None:  # before the answers are read
        check_writable_file(args.output, "--output")
    return args.export_command(args)


def _cmd_benchmarks(args: argparse.Namespace) -> int:
    print(f"{'name':<25}{'version':<18}{'scorer':<18}data")
    for name in registry.names():
        bench = registry.get_benchmark(name)
        if bench.shipped:
            status = "shipped"
        else:
            status = "prepared" if bench.is_prepared(args.data_dir) else "not prepared"
        alias = f" (alias: {', '.join(bench.aliases)})" if bench.aliases else ""
        print(f"{bench.name:<25}{bench.version:<18}{bench.scorer:<18}{status}{alias}")
        print(f"    {bench.summary}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from halbench.cli.common import argv
    from halbench.destinations import check_writable_dir

    check_writable_dir(args.out, "--out")  # before the model is built
    result = (
        registry.get_benchmark("demo").module("pipeline").run_demo(Path(args.out), command=argv())
    )
    print("1) GPT-4's LLaVA-Bench detailed descriptions of 30 COCO val2014 images")
    print(result.gpt4_table)
    print(f"   record: {result.gpt4_record_path}")
    print(
        f"\n2) halbench run --model {result.model_dir} --benchmarks demo  "
        "(a tiny model trained for a second)"
    )
    print(display.format_run_summary(result.run))
    for o in result.run:
        print(display.format_record_table(o.record))
    if result.leaderboard is not None:
        print(
            f"\n3) leaderboard with the paper's reference entries and these runs: "
            f"open {result.leaderboard}"
        )
    else:
        print(
            "\n(no leaderboard/entries here: run the demo from a source checkout to build the "
            "leaderboard page)"
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
            "warning: this WordNet's noun data differs from WordNet 3.0; lemmas may differ "
            "from the reference"
        )
    return 0
