"""``halbench annotate ...``: serve, add-annotator, revoke, report, prelabel, export-ddpo."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from halbench.cli.common import Formatter, global_flags
from halbench.errors import HalbenchError

_EPILOG = """\
examples:
  halbench annotate serve --run runs/llava --benchmarks mhumaneval
  halbench annotate add-annotator alice --db runs/llava/mhumaneval/annotations.sqlite --link-days 14
  halbench annotate revoke alice --db runs/llava/mhumaneval/annotations.sqlite
  halbench annotate report --db runs/llava/mhumaneval/annotations.sqlite
  halbench annotate export-ddpo --db runs/llava/mhumaneval/annotations.sqlite --output corrections.jsonl

The store defaults to RUN_DIR/<benchmark>/annotations.sqlite. Docs: docs/annotate.md."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "annotate",
        help="web app for human judgement of hallucinations (MHumanEval) and corrections (DDPO)",
        description="Human annotation of a halbench run: hallucinated spans by type, corrections.",
        epilog=_EPILOG,
        formatter_class=Formatter,
        parents=[global_flags()],
    )
    asub = p.add_subparsers(dest="annotate_command", metavar="ACTION")
    asub.required = True

    s = asub.add_parser(
        "serve",
        help="load a run's answers and start the web app",
        description="Load one benchmark's answers of a halbench run into the annotation store "
        "(new items are added, annotations kept) and serve the app on 127.0.0.1.",
        epilog="example:\n  halbench annotate serve --run runs/llava --benchmarks mhumaneval",
        formatter_class=Formatter,
        parents=[global_flags()],
    )
    s.add_argument("--run", type=Path, metavar="RUN_DIR", help="a halbench run output directory")
    s.add_argument(
        "--benchmarks",
        "--benchmark",
        dest="benchmark",
        metavar="NAME",
        help="the one benchmark of the run to annotate (default: the run's only one)",
    )
    s.add_argument(
        "--db", type=Path, help="annotation store (default RUN_DIR/<benchmark>/annotations.sqlite)"
    )
    s.add_argument("--data-dir", type=Path, metavar="DIR", help="prepared data root of the run")
    s.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=_cmd_serve)

    a = asub.add_parser(
        "add-annotator",
        help="create an annotator and print the personal link",
        description="Create an annotator and print their personal sign-in link (shown once; only\n"
        "its sha256 is stored). --new-link replaces the link of an existing annotator (lost,\n"
        "expired or revoked): the old link and all their sessions stop working.",
        epilog="example:\n  halbench annotate add-annotator alice --db runs/llava/mhumaneval/"
        "annotations.sqlite --link-days 14",
        formatter_class=Formatter,
        parents=[global_flags()],
    )
    a.add_argument("name", help="the annotator's name (shown in the app and the report)")
    a.add_argument("--db", type=Path, required=True, help="the annotation store (SQLite file)")
    a.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the app is served")
    a.add_argument(
        "--link-days",
        type=float,
        metavar="N",
        help="the link expires after N days (default: never); sessions end then too",
    )
    a.add_argument(
        "--new-link",
        action="store_true",
        help="a new link for an existing annotator (the old one stops working)",
    )
    a.set_defaults(func=_cmd_add_annotator)

    v = asub.add_parser(
        "revoke",
        help="revoke an annotator's link and end all their sessions at once",
        description="Revoke an annotator: their personal link stops signing in and every open\n"
        "session (browser tab) gets 401 on its next request. Their judgements so far stay in\n"
        "the store and the report. add-annotator NAME --new-link gives them access again.",
        epilog="example:\n  halbench annotate revoke alice --db runs/llava/mhumaneval/annotations.sqlite",
        formatter_class=Formatter,
        parents=[global_flags()],
    )
    v.add_argument("name", help="the annotator to revoke")
    v.add_argument("--db", type=Path, required=True, help="the annotation store (SQLite file)")
    v.set_defaults(func=_cmd_revoke)

    r = asub.add_parser(
        "report",
        help="MHumanEval rates, intervals and agreement -> result record",
        description="Response-level hallucination rates (object, position, number, all) with "
        "Wilson 95% intervals, per annotator and source, inter-annotator agreement; written as a "
        "result record the leaderboard reads.",
        epilog="example:\n  halbench annotate report --db runs/llava/mhumaneval/annotations.sqlite",
        formatter_class=Formatter,
        parents=[global_flags()],
    )
    r.add_argument("--db", type=Path, required=True, help="the annotation store (SQLite file)")
    r.add_argument(
        "--combine",
        default="majority",
        choices=["majority", "any", "all"],
        help="several annotators per response: majority (>= half; default), any, all",
    )
    r.add_argument(
        "--output",
        type=Path,
        help="record path (default: next to the store, <scorer>.json: mhumaneval.json for "
        "MHumanEval, human-judgement.json for another benchmark's answers)",
    )
    r.set_defaults(func=_cmd_report)

    j = asub.add_parser(
        "prelabel",
        help="a judge model proposes hallucinated spans for people to accept or reject",
        description="Ask a vision judge (OpenAI-compatible) for each response's hallucinated spans; they "
        "appear in the app as proposals. The report keeps judge and human labels apart.",
        epilog="example:\n  halbench annotate prelabel --db runs/llava/mhumaneval/annotations.sqlite "
        "--judge-model gpt-4o-2024-11-20",
        formatter_class=Formatter,
        parents=[global_flags()],
    )
    j.add_argument("--db", type=Path, required=True, help="the annotation store (SQLite file)")
    from halbench.judges.cli import add_judge_flags

    add_judge_flags(j)
    j.set_defaults(func=_cmd_prelabel)

    e = asub.add_parser(
        "export-ddpo",
        help="corrections as DDPO preference pairs (JSONL)",
        description="Write every corrected response as a DDPO preference pair (the corrected "
        "text is chosen, the model's answer rejected) in the interchange JSONL of docs/ddpo.md.",
        epilog="example:\n  halbench annotate export-ddpo --db runs/llava/mhumaneval/annotations.sqlite "
        "--output corrections.jsonl",
        formatter_class=Formatter,
        parents=[global_flags()],
    )
    e.add_argument("--output", required=True, type=Path, metavar="OUT.jsonl", help="the JSONL file")
    e.add_argument("--db", type=Path, required=True, help="the annotation store (SQLite file)")
    e.set_defaults(func=_cmd_export)


def _cmd_serve(args: argparse.Namespace) -> int:
    from halbench.annotate.load import load_run

    if args.run is None and args.db is None:
        raise HalbenchError("give --run RUN_DIR (and optionally --db), or --db of a loaded store")
    db = args.db
    if args.run is not None:
        loaded = load_run(args.run, args.benchmark, args.db, args.data_dir)
        db = loaded.db
        print(
            f"{loaded.benchmark}: {loaded.added} items added, {loaded.kept} already there ({loaded.total} in {db})"
        )
    elif not db.exists():
        raise HalbenchError(f"{db}: annotation store not found (give --run RUN_DIR)")
    from halbench.annotate.app import serve
    from halbench.annotate.store import AnnotationStore

    store = AnnotationStore(db)
    n = len(store.annotators())
    store.close()
    server = serve(db, args.host, args.port)
    print(f"serving on http://{args.host}:{server.port}/ (Ctrl-C stops)")
    if n == 0:
        print(f"no annotators yet: halbench annotate add-annotator NAME --db {db}")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            "warning: reachable from other machines; links carry the only credential, use a trusted network"
        )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _cmd_add_annotator(args: argparse.Namespace) -> int:
    from halbench.annotate.store import AnnotationStore

    if not args.db.exists():
        raise HalbenchError(
            f"{args.db}: annotation store not found (halbench annotate serve --run ... creates it)"
        )
    store = AnnotationStore(args.db)
    try:
        if args.new_link:
            token = store.new_link(args.name, args.link_days)
        else:
            token = store.add_annotator(args.name, args.link_days)
        expires = next(a for a in store.access() if a["name"] == args.name.strip())
    finally:
        store.close()
    print(f"{args.name}: {args.base_url.rstrip('/')}/login/{token}")
    print("(shown once: only a hash is stored; anyone with this link can annotate as this person)")
    if expires["link_expires_at"]:
        print(f"the link expires at {expires['link_expires_at']} (UTC)")
    if args.new_link:
        print("the previous link and all sessions of this annotator no longer work")
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    from halbench.annotate.store import AnnotationStore

    if not args.db.exists():
        raise HalbenchError(f"{args.db}: annotation store not found")
    store = AnnotationStore(args.db)
    try:
        ended, already = store.revoke(args.name)
    finally:
        store.close()
    state = "was already revoked" if already else "revoked: the link no longer signs in"
    print(f"{args.name}: {state}; {ended} open session(s) ended")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import sys

    from halbench.annotate.report import build_report
    from halbench.destinations import check_writable_dir, check_writable_file
    from halbench.io import atomic_write_text

    if args.output is not None:  # before the store is read
        check_writable_file(args.output, "--output")
    else:
        check_writable_dir(args.db.parent, "--output (default: next to --db)")
    record = build_report(args.db, combine=args.combine, command=sys.argv[:])
    name = f"{record.protocol['scorer']}.json"
    out = args.output or args.db.parent / name
    atomic_write_text(out, record.to_json())
    print(format_report(record))
    print(f"record: {out}")
    return 0


def _cmd_prelabel(args: argparse.Namespace) -> int:
    from halbench.annotate.prelabel import prelabel
    from halbench.judges.cli import judge_config

    if not args.db.exists():
        raise HalbenchError(f"{args.db}: annotation store not found")
    done = prelabel(args.db, judge_config(args, args.db.parent))
    print(
        f"judge {done.judge}: {done.labelled} responses labelled, {done.skipped} already were, "
        f"{len(done.failed)} failed (unscored for the judge; run again to retry)"
    )
    for item_id, reason in list(done.failed.items())[:20]:
        print(f"  {item_id}: {reason}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from halbench.annotate.export import export_ddpo
    from halbench.destinations import check_writable_file

    check_writable_file(args.output, "--output")  # before the store is read
    done = export_ddpo(args.db, args.output)
    print(f"wrote {done.pairs} preference pairs to {done.path}")
    if done.skipped:
        print(f"left out {len(done.skipped)} judged responses:")
        for key, reason in list(done.skipped.items())[:20]:
            print(f"  {key}: {reason}")
    return 0


def format_report(record: Any) -> str:
    from halbench.registry import get_benchmark

    m = record.metrics
    lines = [
        f"{'Human judgement' if record.protocol['scorer'] == 'human-judgement' else get_benchmark(record.benchmark).title} ({record.benchmark}): {record.n_scored} of {record.n_items} responses judged"
        + (f", {record.n_unscored} unscored (not judged)" if record.n_unscored else ""),
        f"  combine={record.protocol['combine']}; 95% Wilson intervals",
        f"  {'type':<10}{'rate':>8}{'count':>10}   95% CI",
    ]
    for label in ("object", "position", "number", "attribute", "action", "other", "all"):
        v, ci = m.get(label), m["intervals"].get(label)
        rate = "–" if v is None else f"{100 * v:.1f}%"
        ival = "" if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
        lines.append(f"  {label:<10}{rate:>8}{m['counts'][label]:>5}/{m['n']:<4}   {ival}")
    for src, sm in m.get("by_source", {}).items():
        lines.append(f"  source {src}: All {sm['counts']['all']}/{sm['n']}")
    for name, am in m.get("per_annotator", {}).items():
        v = am.get("all")
        lines.append(
            f"  annotator {name}: All {am['counts']['all']}/{am['n']}"
            + ("" if v is None else f" ({100 * v:.1f}%)")
            + f", {am['segments']} segments"
        )
    ag = m.get("agreement", {})
    if ag.get("method"):
        k = ag["kappa"].get("all")
        kind = "Cohen's" if ag["method"] == "cohen" else "Fleiss'"
        lines.append(
            f"  agreement: {kind} kappa (All) = {'not computable' if k is None else f'{k:.3f}'} "
            f"on {ag['kappa_items']} responses; span overlap F1 = "
            + (
                "not computable"
                if ag.get("span_f1_any_type_mean") is None
                else f"{ag['span_f1_any_type_mean']:.3f}"
            )
        )
    for judge, jm in m.get("judges", {}).items():
        k = jm["agreement_with_humans"]["cohen_kappa_vs_combined_humans"]["all"]
        lines.append(
            f"  judge {judge} (not in the rates above): All {jm['counts']['all']}/{jm['n']}, "
            f"{len(jm['failed'])} failed; kappa vs humans (All) = "
            + ("not computable" if k is None else f"{k:.3f}")
            + f" on {jm['agreement_with_humans']['items']}; proposals accepted "
            f"{jm['decisions']['accepted']}, rejected {jm['decisions']['rejected']}"
        )
    return "\n".join(lines)
