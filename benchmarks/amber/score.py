"""``halbench score amber``: AMBER responses in, a ``ResultRecord`` out (both halves).

Discriminative metrics need nothing but the annotations. The generative half needs a
part-of-speech tagger (NLTK's ``averaged_perceptron_tagger_eng``) and a similarity
backend (``benchmarks.amber.similarity``); when either is missing, the generative items
are reported unscored with the reason, never scored with a substitute.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.amber.metrics import (
    GenerativeTotals,
    Mode,
    amber_score,
    group_of,
    parse_strict,
    score_discriminative,
    score_generative_item,
)
from benchmarks.amber.similarity import make_similarity
from halbench import scorers
from halbench.answers import align_answers
from halbench.display import pct
from halbench.errors import HalbenchError, InputError
from halbench.io import describe_type, file_sha256, read_json, read_records
from halbench.provenance import now_utc
from halbench.registry import definition
from halbench.types import InputFile, ResultRecord, UnscoredItem

AMBER = "amber"
THRESHOLD = 0.8


def default_data_dir() -> Path:
    return Path(__file__).resolve().parent / "data"


def load_responses(path: str | Path, n_annotations: int) -> list[tuple[int, str, int | None]]:
    """(id, response, line) in file order; ids must be annotated and unique."""
    p = Path(path)
    records = read_records(p)  # a JSON array or JSONL, told apart by content
    if records.kind == "object":
        raise InputError(
            str(p),
            'expected a JSON array of {"id", "response"} objects or JSONL, got one JSON object',
        )
    rows = [(rec, n, records.where(k)) for k, (n, rec) in enumerate(records.rows)]
    if not rows:
        raise InputError(str(p), "no responses in file")
    out = []
    for rec, line, prefix in rows:
        if not isinstance(rec, dict):
            raise InputError(
                str(p), f"{prefix}expected an object, got {describe_type(rec)}", line=line
            )
        rid = rec.get("id")
        if not isinstance(rid, int) or isinstance(rid, bool):
            raise InputError(
                str(p),
                f'{prefix}"id" must be an integer, got {describe_type(rid)}',
                line=line,
                field="id",
            )
        if not 1 <= rid <= n_annotations:
            raise InputError(
                str(p),
                f"{prefix}id {rid} is not an AMBER item (1..{n_annotations})",
                line=line,
                field="id",
            )
        text = rec.get("response", rec.get("answer", rec.get("text")))
        if not isinstance(text, str):
            raise InputError(
                str(p),
                f'{prefix}"response" must be a string, got {describe_type(text)}',
                line=line,
                field="response",
            )
        out.append((rid, text, line))
    # the one rule (halbench.answers): an item answered twice names its line
    rows = [(line, rid, text) for rid, text, line in out]
    align_answers(p, rows, None, key="id", by_position=False, array=records.kind == "array")
    return out


def nltk_noun_extractor() -> Callable[[str], list[str]]:
    """The reference's ``extract_nouns``: word_tokenize, pos_tag, keep NN*, lemmatise (no lower-casing).

    Raises ``HalbenchError`` when NLTK's tagger data is missing.
    """
    import nltk

    from halbench.nlp.pipeline import NltkPipeline

    nlp = NltkPipeline()
    try:
        nltk.pos_tag(["test"])
    except LookupError:
        raise HalbenchError(
            "NLTK's part-of-speech tagger data (averaged_perceptron_tagger_eng) is not installed: "
            "python -m nltk.downloader averaged_perceptron_tagger_eng"
        ) from None

    def extract(text: str) -> list[str]:
        tokens = nlp.tokenize(text)
        return [nlp.lemmatize(word) for word, pos in nltk.pos_tag(tokens) if pos.startswith("NN")]

    return extract


def score_amber(
    answers_path: str | Path,
    *,
    mode: Mode = "parity",
    similarity: str | None = "auto",
    data_dir: str | Path | None = None,
    threshold: float = THRESHOLD,
    noun_extractor: Callable[[str], list[str]] | None = None,
    similarity_backend: Any = None,
    command: list[str] | None = None,
) -> ResultRecord:
    """Score a response file (see ``amber_record``)."""
    data = Path(data_dir) if data_dir else default_data_dir()
    n = len(read_json(data / "annotations.json"))
    responses = load_responses(answers_path, n)
    answers_input = InputFile(
        path=str(answers_path), sha256=file_sha256(answers_path), role="answers"
    )
    return amber_record(
        responses,
        mode=mode,
        similarity=similarity,
        data_dir=data,
        threshold=threshold,
        noun_extractor=noun_extractor,
        similarity_backend=similarity_backend,
        command=command,
        inputs=[answers_input],
    )


def amber_record(
    responses: list[tuple[int, str, int | None]],
    *,
    mode: Mode = "parity",
    similarity: str | None = "auto",
    data_dir: str | Path | None = None,
    threshold: float = THRESHOLD,
    noun_extractor: Callable[[str], list[str]] | None = None,
    similarity_backend: Any = None,
    command: list[str] | None = None,
    inputs: list[InputFile] | None = None,
) -> ResultRecord:
    """Score (id, response, line) triples, in order, against AMBER's annotations."""
    started, t0 = now_utc(), time.perf_counter()
    data = Path(data_dir) if data_dir else default_data_dir()
    annotations = read_json(data / "annotations.json")
    association = read_json(data / "relation.json")
    safe_words = frozenset(
        line.split("\n")[0]
        for line in (data / "safe_words.txt").read_text(encoding="utf-8").split("\n")
        if line
    )
    vocabulary = frozenset([*association, *(w for ws in association.values() for w in ws)])

    disc = [
        (annotations[rid - 1]["type"], annotations[rid - 1]["truth"], text)
        for rid, text, _ in responses
        if annotations[rid - 1]["type"] != "generative"
    ]
    gen = [
        (k, rid, text)
        for k, (rid, text, _) in enumerate(responses)
        if annotations[rid - 1]["type"] == "generative"
    ]
    metrics: dict[str, Any] = {}
    reported: dict[str, Any] = {}
    not_computable: dict[str, str] = {}
    unscored: list[UnscoredItem] = []
    items: list[dict[str, Any]] = [
        {
            "id": rid,
            "type": annotations[rid - 1]["type"],
            "dimension": "generative"
            if annotations[rid - 1]["type"] == "generative"
            else group_of(annotations[rid - 1]["type"]),
            "response": text,
        }
        for rid, text, _ in responses
    ]
    details: dict[str, Any] = {}
    if disc:
        result = score_discriminative(disc, mode)
        metrics["discriminative"] = result.fractions
        if mode == "parity":
            reported["discriminative"] = result.reported
        if mode == "strict":
            for k, (_, text, line) in enumerate(responses):
                if items[k]["type"] != "generative":
                    parsed = parse_strict(text)
                    items[k]["parsed"] = parsed
                    if parsed is None:
                        reason = "answer is neither an explicit yes nor no (strict mode)"
                        items[k]["unscored"] = reason
                        unscored.append(UnscoredItem(index=k, reason=reason, line=line))
        for k, (rid, _, _) in enumerate(responses):
            if items[k]["type"] != "generative":
                items[k]["truth"] = annotations[rid - 1]["truth"]

    def dimension(ann_type: str) -> str:
        group = "generative" if ann_type == "generative" else group_of(ann_type)
        return "attribute" if group in ("state", "number", "action") else group

    totals: dict[str, int] = {}
    for ann in annotations:
        totals[dimension(ann["type"])] = totals.get(dimension(ann["type"]), 0) + 1
    answered: dict[str, int] = {}
    for it in items:
        answered[dimension(it["type"])] = answered.get(dimension(it["type"]), 0) + 1
    coverage = {
        dim: {"answered": answered.get(dim, 0), "total": totals.get(dim, 0)}
        for dim in ("existence", "attribute", "relation", "generative")
    }
    metrics["coverage"] = coverage

    if gen:
        reason = None
        backend = similarity_backend
        extractor = noun_extractor
        try:
            if backend is None:
                backend = make_similarity(similarity)
            if backend is None:
                reason = (
                    "no similarity backend: spaCy with en_core_web_lg is not installed; pass --similarity "
                    "spacy:MODEL, table:FILE or exact (not reference-comparable)"
                )
            elif extractor is None:
                extractor = nltk_noun_extractor()
        except HalbenchError as exc:
            reason = str(exc)
        if reason is not None:
            not_computable["generative"] = reason
            for k, _, _ in gen:
                items[k]["unscored"] = f"generative metrics not computed: {reason}"
                unscored.append(
                    UnscoredItem(index=k, reason=items[k]["unscored"], line=responses[k][2])
                )
        else:
            totals = GenerativeTotals()
            for k, rid, text in gen:
                ann = annotations[rid - 1]
                item, flags, safe_tail, ha_tail = score_generative_item(
                    extractor(text),
                    ann["truth"],
                    ann["hallu"],
                    association,
                    vocabulary,
                    safe_words,
                    backend,
                    threshold,
                )
                totals.add(flags, safe_tail, ha_tail)
                items[k].update(
                    mentions=item.mentions,
                    hallucinated=item.hallucinated,
                    covered_truth=item.covered_truth,
                    covered_hallu=item.covered_hallu,
                    truth=ann["truth"],
                    hallu=ann["hallu"],
                )
            metrics["generative"] = totals.fractions()
            reported["generative"] = totals.reported()
            details["similarity"] = backend.describe()
            metrics["similarity_backend"] = backend.name
            if mode == "parity" and "discriminative" in reported:
                metrics["amber_score"] = amber_score(
                    reported["generative"]["CHAIR"], reported["discriminative"]["overall"]["f1"]
                )
                metrics["amber_score_label"] = (
                    f"(100 - CHAIR + F1) / 2 from the reference-rounded values; similarity {backend.name}"
                )
    if reported:
        metrics["reported"] = reported
    inputs = list(inputs or [])
    for name in ("annotations.json", "relation.json", "safe_words.txt"):
        inputs.append(
            InputFile(
                path=str(data / name), sha256=file_sha256(data / name), role=name.split(".")[0]
            )
        )
    return scorers.build_record(
        benchmark=AMBER,
        benchmark_version=definition(__file__).version,
        protocol={
            "scorer": "amber",
            "mode": mode,
            "alignment": "id",  # every response names its AMBER item
            "threshold": threshold,
            "reference_comparable": mode == "parity"
            and details.get("similarity", {}).get("reference_comparable", True),
        },
        metrics=json.loads(json.dumps(metrics)),
        not_computable=not_computable,
        n_items=len(items),
        unscored=sorted(unscored, key=lambda u: u.index),
        items=items,
        started=(started, t0),
        inputs=inputs,
        command=command,
        details=details,
    )


def score_run(ctx: scorers.ScoreContext) -> ResultRecord:
    """Score the answers of a ``halbench run``."""

    responses = [(int(it.fields["amber_id"]), ctx.answers[it.id], None) for it in ctx.items]
    return scorers.finish(amber_record(responses, command=ctx.command), ctx)


# --------------------------------------------------------------------------- CLI

TITLE = "AMBER: discriminative yes/no and generative CHAIR/Cover/Hal/Cog"
DESCRIPTION = (
    "Score AMBER responses like its inference.py (parity: exact 'Yes'/'No', 'No' positive, "
    "0.001 start values, one-decimal rounding), or strict (explicit leading yes/no; others unscored). "
    "Generative metrics need NLTK's POS tagger data and a similarity backend: auto uses spaCy "
    "en_core_web_lg when installed; otherwise they are reported unscored with the reason."
)
EPILOG = "example:\n  halbench score amber --answers responses.json --output amber.json --similarity auto"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``halbench score amber`` flags (``--output`` is the framework's)."""
    parser.add_argument(
        "--answers",
        required=True,
        help='JSON array of {"id", "response"} (the reference format) or JSONL',
    )
    parser.add_argument("--mode", choices=["parity", "strict"], default="parity")
    parser.add_argument(
        "--similarity", default="auto", help="auto, exact, spacy:MODEL or table:FILE (default auto)"
    )
    parser.add_argument(
        "--threshold", type=float, default=0.8, help="similarity threshold, strict > (default 0.8)"
    )
    parser.add_argument(
        "--amber-data",
        type=Path,
        metavar="DIR",
        help="another copy of AMBER's data/ (default: shipped)",
    )


def score_command(args: argparse.Namespace) -> ResultRecord:
    return score_amber(
        args.answers,
        mode=args.mode,
        similarity=args.similarity,
        data_dir=args.amber_data,
        threshold=args.threshold,
        command=args.argv,
    )


def format_table(record: ResultRecord) -> str:
    m = record.metrics
    lines = [
        f"AMBER ({record.benchmark_version}, mode={record.protocol.get('mode')}): {record.n_scored} scored, {record.n_unscored} unscored"
    ]
    rep = m.get("reported", {})
    if "discriminative" in rep:
        lines.append(
            f"  {'dimension':<12}{'Acc':>7}{'P':>7}{'R':>7}{'F1':>7}   (reference rounding)"
        )
        for g in ("overall", "existence", "attribute", "state", "number", "action", "relation"):
            r = rep["discriminative"][g]
            lines.append(
                f"  {g:<12}{r['accuracy']:>7}{r['precision']:>7}{r['recall']:>7}{r['f1']:>7}"
            )
    elif "discriminative" in m:
        for g, r in m["discriminative"].items():
            lines.append(
                f"  {g:<12} acc {pct(r['accuracy'])}  F1 {pct(r['f1'])}  unscored {r.get('n_unscored', 0)}"
            )
    if "generative" in rep:
        g = rep["generative"]
        lines.append(
            f"  generative  CHAIR {g['CHAIR']}  Cover {g['Cover']}  Hal {g['Hal']}  Cog {g['Cog']}  ({m.get('similarity_backend')})"
        )
    if "amber_score" in m:
        lines.append(f"  AMBER score {m['amber_score']:.2f}")
    for name, reason in record.not_computable.items():
        lines.append(f"  {name}: not computed: {reason}")
    return "\n".join(lines)
