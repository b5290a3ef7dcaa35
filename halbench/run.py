"""``halbench run``: generate every benchmark's answers, store them as they come, score, record.

Order of work, so that mistakes surface before anything slow happens:

1. resolve the benchmarks (unknown names fail with "did you mean"), load their items
   (unprepared data and missing images fail here) and find each scorer's ground truth;
2. load the model (bad paths, non-image-text models and ``trust_remote_code`` fail here);
3. per benchmark: look up stored answers, generate only the missing ones (each answer is
   committed to ``OUT/answers.sqlite`` as it is produced), write
   ``OUT/<benchmark>/answers.jsonl`` and ``OUT/<benchmark>/result.json``.

A run killed at any point and started again with the same command generates only what
is missing and ends with the same files as an uninterrupted run.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from halbench import distributed, progress, scorers
from halbench import registry as bench_registry
from halbench.errors import HalbenchError, InputError
from halbench.io import atomic_write_text
from halbench.registry import Benchmark, Item
from halbench.runners import (
    BackendOptions,
    GenerationSettings,
    Request,
    make_runner,
    resolve_backend,
)
from halbench.store import AnswerStore, prompt_key, run_key
from halbench.types import ResultRecord, UnscoredItem


def default_benchmarks() -> list[str]:
    """What ``halbench run`` runs without ``--benchmarks``: definitions with ``run_by_default``."""
    names = bench_registry.names()
    return [n for n in names if bench_registry.get_benchmark(n).spec.get("run_by_default")]


@dataclass
class RunConfig:
    """Everything ``halbench run`` needs (the CLI fills it from its flags)."""

    model: str
    backend: str = "auto"
    benchmarks: list[str] = field(default_factory=default_benchmarks)
    out: Path | None = None
    batch_size: int = 8
    max_new_tokens: int | None = None  # None: the benchmark's default
    temperature: float = 0.0
    top_p: float = 1.0
    num_beams: int = 1
    repetition_penalty: float = 1.0
    seed: int = 0
    limit: int | None = None
    data_dir: Path | None = None
    coco_annotations: Path | None = None
    backend_options: BackendOptions = field(default_factory=BackendOptions)
    judge: scorers.JudgeSetup | None = None  # None: judge-scored benchmarks are "not judged"
    command: list[str] | None = None
    name: str | None = None  # the leaderboard's display name (record.model["name"])
    #: data-parallel runs: seconds a rank waits for the others (None: distributed.DEFAULT_TIMEOUT_S)
    dist_timeout_s: float | None = None


@dataclass
class PlannedBenchmark:
    bench: Benchmark
    items: list[Item]
    version: str
    ground_truth: Path | None
    settings: GenerationSettings
    manifest: dict[str, Any]


@dataclass
class BenchmarkOutcome:
    name: str
    record: ResultRecord
    record_path: Path
    answers_path: Path
    generated: int
    reused: int
    failed: dict[str, str]
    rank: int = 0  # data-parallel runs: the rank that returned it (only rank 0 wrote files)


def default_out(model: str) -> Path:
    name = Path(model.split(":", 1)[-1].rstrip("/")).name or "model"
    return Path("runs") / re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _manifest(bench: Benchmark, data_dir: Path | None) -> dict[str, Any]:
    path = bench.data_dir(data_dir) / "manifest.json"
    if bench.shipped or not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise InputError(str(path), "not valid JSON (re-run halbench data prepare)") from None


def plan(config: RunConfig) -> list[PlannedBenchmark]:
    """Check everything that can be checked without the model; return the work to do."""
    if config.batch_size < 1:
        raise HalbenchError("--batch-size must be at least 1")
    if config.limit is not None and config.limit < 1:
        raise HalbenchError("--limit must be at least 1")
    resolve_backend(config.model, config.backend)
    benches: list[Benchmark] = []
    for name in config.benchmarks:
        bench = bench_registry.get_benchmark(name)
        if bench not in benches:
            benches.append(bench)
    planned = []
    for bench in benches:
        scorers.check_scorer(bench)
        scorers.check_judge(bench, config.judge, config.data_dir)
        items = bench.load_items(config.data_dir)
        if config.limit is not None:
            items = items[: config.limit]
        manifest = _manifest(bench, config.data_dir)
        version = bench.version + (f"+{manifest['variant']}" if manifest.get("variant") else "")
        gt = None
        if bench.needs_ground_truth:
            ref = bench.scorer_options.get("ground_truth")
            if ref == "coco-annotations":
                given = config.coco_annotations or manifest.get("coco_annotations")
                if not given:
                    raise HalbenchError(
                        f"benchmark '{bench.name}' needs COCO 2014 annotations for its ground truth: "
                        "pass --coco-annotations DIR (or give it to halbench data prepare)"
                    )
                gt = Path(given)
            else:
                gt = bench.resolve(ref, config.data_dir)
            if not gt.exists():
                raise HalbenchError(f"benchmark '{bench.name}': ground truth {gt} not found")
        defaults = bench.generation_defaults
        settings = GenerationSettings(
            max_new_tokens=config.max_new_tokens or int(defaults.get("max_new_tokens", 512)),
            temperature=config.temperature,
            top_p=config.top_p,
            num_beams=config.num_beams,
            repetition_penalty=config.repetition_penalty,
            seed=config.seed,
        )
        planned.append(PlannedBenchmark(bench, items, version, gt, settings, manifest))
    return planned


def run(config: RunConfig) -> list[BenchmarkOutcome]:
    """Generate, score, record; under ``accelerate launch``/``torchrun``, data parallel.

    With several processes (``halbench/distributed.py``) each rank generates its share of the
    missing answers, rank 0 alone writes answers.jsonl and result.json, and every rank returns
    rank 0's outcomes (``rank`` tells them apart) so that all of them exit alike.
    """
    # join the other ranks first: a rank that stops on a mistake (say, data missing on its
    # node) then makes the others stop at their next meeting point, not at the join's timeout
    ranks = distributed.Ranks(config.dist_timeout_s)
    try:
        planned = plan(config)
        out = config.out or default_out(config.model)
        return _run_ranks(config, planned, out, ranks)
    finally:
        ranks.close()


def _run_ranks(
    config: RunConfig, planned: list[PlannedBenchmark], out: Path, ranks: distributed.Ranks
) -> list[BenchmarkOutcome]:
    options = replace(
        config.backend_options, seed=config.seed, device=ranks.device(config.backend_options.device)
    )
    if ranks.active and resolve_backend(config.model, config.backend) == "vllm":
        raise HalbenchError(
            "the vllm backend does not run under accelerate launch / torchrun: start one "
            "process (vLLM batches by itself; --tensor-parallel-size for several GPUs)"
        )
    if not ranks.is_main:
        progress.set_enabled(False)  # one progress bar: rank 0's
    runner = make_runner(config.model, config.backend, options, load=False)
    store = AnswerStore(out / "answers.sqlite") if ranks.is_main else None
    outcomes: list[BenchmarkOutcome] = []
    try:
        if store is not None:  # answers of ranks of an earlier, killed data-parallel run
            distributed.merge_rank_stores(store, out)
        if store is not None and not ranks.active:  # no weights when every answer is stored
            load_s = _load_unless_stored(runner, planned, store)
        else:
            t_load = time.perf_counter()
            getattr(runner, "load", lambda: None)()
            load_s = time.perf_counter() - t_load
        # one process: each benchmark is recorded as soon as it is generated; several: rank 0
        # scores after all generation, so that no rank waits on a (maybe long) judge mid-run
        done: list[tuple[PlannedBenchmark, Generated]] = []
        for p in planned:
            done.append((p, _generate(p, runner, store, out, config, ranks)))
            if store is not None and not ranks.active:
                outcomes.append(_record(*done.pop(), runner, out, config, load_s, 1))
        if store is not None:
            outcomes += [
                _record(p, g, runner, out, config, load_s, ranks.world_size) for p, g in done
            ]
    finally:
        if store is not None:
            store.close()
        runner.close()
    if ranks.active:
        outcomes = ranks.wait_for_scoring(outcomes)
        for o in outcomes:
            o.rank = ranks.rank
    return outcomes


def _descriptor(p: PlannedBenchmark, info: Any) -> dict[str, Any]:
    """What an answer of this benchmark depends on (the store's run key is its hash)."""
    return {
        "benchmark": p.bench.name,
        "benchmark_version": p.version,
        "backend": info.backend,
        "model_fingerprint": info.fingerprint,
        "generation": p.settings.as_dict(),
    }


def _load_unless_stored(runner: Any, planned: list[PlannedBenchmark], store: AnswerStore) -> float:
    """Load the model's weights only when some answer is not in the store; seconds taken."""
    load = getattr(runner, "load", None)
    if load is None:
        return 0.0
    for p in planned:
        prompts = [(it.id, prompt_key(it.question, it.image)) for it in p.items]
        if len(store.get(run_key(_descriptor(p, runner.info)), prompts)) < len(prompts):
            t_load = time.perf_counter()
            load()
            return time.perf_counter() - t_load
    return 0.0


@dataclass
class Generated:
    """One benchmark's answers after generation (on rank 0: all of them)."""

    key: str
    stored: int
    pending: int
    answers: dict[str, str]
    failed: dict[str, str]
    gen_s: float


def _generate(
    p: PlannedBenchmark,
    runner: Any,
    store: AnswerStore | None,
    out: Path,
    config: RunConfig,
    ranks: distributed.Ranks,
) -> Generated:
    """Look up stored answers, generate the missing ones (this rank's share of them)."""
    descriptor = _descriptor(p, runner.info)
    key = run_key(descriptor)
    what = f"benchmark {p.bench.name}"
    if ranks.active and len(set(ranks.all_gather(key, f"the start of {what}"))) > 1:
        raise HalbenchError(
            f"{what}: the ranks load different models or settings (their answer-store keys "
            "differ): every rank needs the same --model files and flags"
        )
    prompts = {it.id: prompt_key(it.question, it.image) for it in p.items}
    stored: dict[str, str] = {}
    if store is not None:
        store.register(key, descriptor)
        stored = store.get(key, prompts.items())
    pending_ids = [it.id for it in p.items if it.id not in stored]
    if ranks.active:
        pending_ids = ranks.broadcast(pending_ids, f"the split of {what}")
    by_id = {it.id: it for it in p.items}
    pending = [
        Request(i, by_id[i].question, by_id[i].image, by_id[i].image_id) for i in pending_ids
    ]
    check = getattr(runner, "check", None)
    if check is not None:
        check([Request(it.id, it.question, it.image, it.image_id) for it in p.items])
    mine = distributed.shard(pending, config.batch_size, ranks.rank, ranks.world_size)
    writer = store or AnswerStore(distributed.rank_store_path(out, ranks.rank))
    if store is None:
        writer.register(key, descriptor)
    runner.failures.clear()
    t_gen = time.perf_counter()
    answers = dict(stored)
    try:
        for item_id, text in runner.generate(mine, p.settings, batch_size=config.batch_size):
            writer.put(key, item_id, prompts[item_id], text)
            answers[item_id] = text
    finally:
        if writer is not store:
            writer.close()  # before rank 0 reads it (one writer per file, then closed)
    failures = {r.key: runner.failures[r.key] for r in mine if r.key in runner.failures}
    if ranks.active:
        reported = ranks.all_gather(failures, f"the end of {what}'s generation")
        failures = {k: v for part in reported for k, v in part.items()}
        if store is not None:
            distributed.merge_rank_stores(store, out)
            answers = dict(store.get(key, prompts.items()))
    gen_s = time.perf_counter() - t_gen
    failed = {
        it.id: failures.get(it.id, "no answer produced") for it in p.items if it.id not in answers
    }
    return Generated(key, len(stored), len(pending), answers, failed, gen_s)


def _record(
    p: PlannedBenchmark,
    g: Generated,
    runner: Any,
    out: Path,
    config: RunConfig,
    load_s: float,
    world_size: int,
) -> BenchmarkOutcome:
    """answers.jsonl, score, result.json (rank 0 only)."""
    answers, failed = g.answers, g.failed
    bench_dir = out / p.bench.name
    answered = [it for it in p.items if it.id in answers]
    lines = [
        json.dumps(scorers.item_fields(it, answers[it.id]), ensure_ascii=False) for it in answered
    ]
    answers_path = bench_dir / "answers.jsonl"
    atomic_write_text(answers_path, "".join(line + "\n" for line in lines))

    t_score = time.perf_counter()
    ctx = scorers.ScoreContext(
        p.bench,
        answered,
        answers,
        p.version,
        p.ground_truth,
        config.command,
        manifest=p.manifest,
        judge=config.judge,
        data_dir=config.data_dir,
    )
    record = scorers.score(ctx) if answered else None
    score_s = time.perf_counter() - t_score
    record = _with_unanswered(record, p, answers, failed)
    record.model = {
        **asdict(runner.info),
        "generation": p.settings.as_dict(),
        "batch_size": config.batch_size,
        "limit": config.limit,
        **({"name": config.name} if config.name else {}),
    }
    record.provenance.details["run"] = {
        "out": str(out),
        "store_run_key": g.key,
        "items": len(p.items),
        "generated": g.pending - len(failed),
        "reused_from_store": g.stored,
        "failed": len(failed),
        "world_size": world_size,
        "timings_s": {
            "model_load": round(load_s, 3),
            "generate": round(g.gen_s, 3),
            "score": round(score_s, 3),
        },
    }
    record_path = bench_dir / "result.json"
    atomic_write_text(record_path, record.to_json())
    return BenchmarkOutcome(
        p.bench.name,
        record,
        record_path,
        answers_path,
        g.pending - len(failed),
        g.stored,
        failed,
    )


def _with_unanswered(
    record: ResultRecord | None,
    p: PlannedBenchmark,
    answers: dict[str, str],
    failed: dict[str, str],
) -> ResultRecord:
    """Put items without an answer back in benchmark order, as unscored with their reason."""
    if record is None:  # nothing answered at all
        from halbench.provenance import make_provenance, now_utc

        record = ResultRecord(
            benchmark=p.bench.name,
            benchmark_version=p.version,
            protocol={"scorer": p.bench.scorer},
            metrics={},
            n_items=0,
            n_scored=0,
            n_unscored=0,
            items=[],
            provenance=make_provenance(inputs=[], duration_s=0.0, created_at=now_utc()),
        )
    if not failed:
        return record
    scored_items = iter(record.items)
    old_unscored = {u.index: u for u in record.unscored}
    items, unscored = [], []
    answered_index = 0
    for index, item in enumerate(p.items):
        if item.id in answers:
            items.append(next(scored_items))
            if answered_index in old_unscored:
                unscored.append(
                    UnscoredItem(index=index, reason=old_unscored[answered_index].reason)
                )
            answered_index += 1
        else:
            reason = f"generation failed: {failed[item.id]}"
            items.append({"item_id": item.id, "question": item.question, "unscored": reason})
            unscored.append(UnscoredItem(index=index, reason=reason))
    record.items = items
    record.unscored = unscored
    record.n_items = len(items)
    record.n_unscored = len(unscored)
    return record
