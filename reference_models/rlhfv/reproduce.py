"""``halbench reproduce rlhfv``: from preference data to a reproduced leaderboard row.

Stages (each writes ``OUT/stages/<stage>.json`` with the checksum of its inputs; a stage whose
manifest says done with the same inputs, and whose outputs exist, is skipped):

1. ``prepare``: the base model (built offline for the tiny preset) and the preference data,
   checked against the preset's sha256 when pinned, read and checksummed;
2. ``eval-base``: ``halbench.run.run`` on the preset's benchmarks -> ``OUT/eval/base``;
3. ``train``: DDPO into ``OUT/train/<trained_name>`` with ``resume_from: latest`` (a killed run
   continues from its newest complete checkpoint), in this process or under
   ``accelerate launch --config_file FILE``;
4. ``eval-trained``: the same benchmarks and settings on the checkpoint -> ``OUT/eval/trained``;
5. ``report``: the records, linked (``provenance.details.reproduces`` / ``trained_from``), in
   ``OUT/records/{base,trained}``; ``OUT/summary.json`` with the relative change; the site
   ``OUT/leaderboard/`` (paper rows + both runs + a "reproduction" table of relative changes).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError, InputError
from halbench.io import atomic_write_json, atomic_write_text, sha256_file
from halbench.provenance import now_utc
from reference_models.rlhfv.reproduce_plan import (
    Launch,
    Preset,
    format_plan,
    geometry,
    load_preset,
    memory_estimate,
    read_launch,
)
from reference_models.rlhfv.reproduce_report import report_stage

STAGES = ("prepare", "eval-base", "train", "eval-trained", "report")
RLHFV_DIR = Path(__file__).parent


@dataclass
class ReproduceOptions:
    preset: str
    out: Path
    accelerate_config: Path | None = None
    data: Path | None = None  # preference data instead of the preset's source
    data_dir: Path | None = None  # prepared benchmark data (halbench data prepare)
    coco_annotations: Path | None = None
    limit: int | None = None  # items per benchmark (smoke runs)
    entries_dir: Path | None = (
        None  # the paper's rows; default: leaderboard/entries of the source tree
    )
    dry_run: bool = False
    command: list[str] | None = None
    #: the LLM judge for judged benchmarks and --extractor llm (halbench.scorers.JudgeSetup);
    #: None: those benchmarks are "not judged" (their answers are stored)
    judge: Any = None


@dataclass
class ReproduceResult:
    out: Path
    plan: str
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    leaderboard: Path | None = None


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


class Stages:
    """The stage manifests under ``OUT/stages``."""

    def __init__(self, out: Path) -> None:
        self.dir = out / "stages"

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def read(self, name: str) -> dict[str, Any] | None:
        p = self.path(name)
        if not p.exists():
            return None
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except ValueError:
            raise InputError(
                str(p), "stage manifest is not valid JSON (delete it to redo the stage)"
            ) from None
        return data if isinstance(data, dict) else None

    def status(self, name: str, inputs: dict[str, Any] | None) -> str:
        m = self.read(name)
        if m is None:
            return "to do"
        if inputs is None:
            return "inputs pending"
        if m.get("inputs_sha256") != _digest(inputs):
            return "inputs changed: redo" if m.get("status") == "done" else "inputs changed"
        if m.get("status") == "done" and all(Path(f).exists() for f in m.get("files", [])):
            return "done: skip"
        return "started: resume"

    def run(
        self,
        name: str,
        inputs: dict[str, Any],
        work: Callable[[], tuple[dict[str, Any], list[Path]]],
        result: ReproduceResult,
        *,
        restart_on_change: bool = True,
    ) -> dict[str, Any]:
        state = self.status(name, inputs)
        m = self.read(name)
        if state == "done: skip" and m is not None:
            result.skipped.append(name)
            return dict(m["outputs"])
        if state.startswith("inputs changed") and not restart_on_change:
            raise HalbenchError(
                f"stage {name}: a run with other inputs was started in {self.path(name).parent.parent} "
                f"(its manifest: {self.path(name)}); resuming it would mix them: use another --out, "
                "or delete that stage's folder to start it again"
            )
        started = {
            "stage": name,
            "status": "started",
            "inputs": inputs,
            "inputs_sha256": _digest(inputs),
            "started_at": now_utc(),
        }
        atomic_write_json(self.path(name), started)
        outputs, files = work()
        done = {
            **started,
            "status": "done",
            "finished_at": now_utc(),
            "outputs": outputs,
            "files": [str(f) for f in files],
        }
        atomic_write_json(self.path(name), done)
        result.ran.append(name)
        return outputs


# ---------------------------------------------------------------- stage 1: prepare


def _data_source(preset: Preset, opts: ReproduceOptions) -> tuple[str, str | None]:
    """(what to read, pinned sha256 or None)."""
    if opts.data is not None:
        return str(opts.data.resolve()), None
    assert preset.data is not None
    return str(preset.data["source"]), preset.data.get("sha256")


def _fetch_data(source: str, preset: Preset, out: Path) -> Path:
    if source.startswith("shipped:"):
        return RLHFV_DIR / source.removeprefix("shipped:")
    if source.startswith("hub:"):
        repo, name = source.removeprefix("hub:"), str((preset.data or {}).get("file", ""))
        try:
            from huggingface_hub import hf_hub_download

            local = hf_hub_download(repo, name, repo_type="dataset", local_dir=out / "data")
        except Exception as exc:  # offline, gated, missing: one line with the way out
            raise HalbenchError(
                f"cannot download {name} from the hub dataset {repo} ({type(exc).__name__}): "
                f"download it yourself and pass --data PATH"
            ) from None
        return Path(local)
    return Path(source)


def _base_model(preset: Preset, out: Path) -> tuple[str, str]:
    """(model path or hub id, fingerprint: sha256 for a local folder, hub:ID for the hub)."""
    model = str(preset.base_model["model"])
    if preset.base_model.get("build") == "tiny-demo":
        from benchmarks.demo.pipeline import demo_model

        path = demo_model(out / "models" / model)
        return str(path), _local_fingerprint(path)
    if Path(model).is_dir():
        return model, _local_fingerprint(Path(model))
    return model, f"hub:{model}@{preset.base_model.get('revision') or 'main'}"


def _local_fingerprint(path: Path) -> str:
    from halbench.runners.hf import local_fingerprint

    return "sha256:" + local_fingerprint(path)[0]


def _prepare(preset: Preset, opts: ReproduceOptions) -> tuple[dict[str, Any], list[Path]]:
    from reference_models.rlhfv.data import load_preferences

    model, fingerprint = _base_model(preset, opts.out)
    outputs: dict[str, Any] = {"base_model": model, "base_fingerprint": fingerprint}
    files: list[Path] = []
    if preset.train is not None:
        source, pinned = _data_source(preset, opts)
        path = _fetch_data(source, preset, opts.out)
        if not path.exists():
            raise InputError(str(path), "preference data not found (pass --data PATH)")
        sha = sha256_file(path) if path.is_file() else None
        if pinned and sha != pinned:
            raise InputError(
                str(path), f"sha256 {sha} differs from the preset's {pinned}: the file changed"
            )
        data = load_preferences(path, bad_records=preset.train.get("bad_records", "fail"))
        outputs.update(
            data=str(path),
            data_sha256=sha,
            data_sha256_pinned=bool(pinned),
            data_checksum=data.checksum,
            n_pairs=len(data.records),
            skipped_bad_records=len(data.bad),
        )
        files.append(path)
    atomic_write_json(opts.out / "data" / "manifest.json", outputs)
    return outputs, files


# ---------------------------------------------------------------- stages 2 and 4: evaluate


def _eval_inputs(
    preset: Preset, opts: ReproduceOptions, model: str, fingerprint: str
) -> dict[str, Any]:
    return {
        "model": model,
        "fingerprint": fingerprint,
        "backend": preset.backend,
        "benchmarks": preset.benchmarks,
        "eval": preset.eval,
        "limit": opts.limit,
        "data_dir": str(opts.data_dir) if opts.data_dir else None,
        "coco_annotations": str(opts.coco_annotations) if opts.coco_annotations else None,
        "judge": None
        if opts.judge is None
        else {"model": opts.judge.config.model, "extractor": opts.judge.extractor},
    }


def _evaluate(
    preset: Preset, opts: ReproduceOptions, model: str, role: str
) -> tuple[dict[str, Any], list[Path]]:
    from halbench.run import RunConfig, run
    from halbench.runners import BackendOptions

    allowed = {
        "batch_size",
        "max_new_tokens",
        "temperature",
        "top_p",
        "num_beams",
        "repetition_penalty",
        "seed",
        "image_preprocess",
    }
    bad = sorted(set(preset.eval) - allowed)
    if bad:
        raise InputError(str(preset.path), f"eval.{bad[0]}: unknown setting", field=bad[0])
    settings = dict(preset.eval)
    # the same image preprocessing as training (LLaVA-1.5's pad-to-square: no crop)
    backend_options = BackendOptions(image_preprocess=settings.pop("image_preprocess", "processor"))
    config = RunConfig(
        model=model,
        backend=preset.backend,
        benchmarks=list(preset.benchmarks),
        out=opts.out / "eval" / role,
        limit=opts.limit,
        data_dir=opts.data_dir,
        coco_annotations=opts.coco_annotations,
        command=opts.command,
        backend_options=backend_options,
        judge=opts.judge,
        **settings,
    )
    outcomes = run(config)
    records = {o.name: str(o.record_path) for o in outcomes}
    return {"model": model, "records": records}, [o.record_path for o in outcomes]


# ---------------------------------------------------------------- stage 3: train


def train_values(
    preset: Preset, opts: ReproduceOptions, prepared: dict[str, Any]
) -> dict[str, Any]:
    """The DDPO config fields: the preset's ``train`` block plus model, data and the paths."""
    assert preset.train is not None
    return {
        "ref_cache_dir": str(opts.out / "cache" / "ddpo-ref"),
        **preset.train,
        "model": prepared["base_model"],
        "data": prepared["data"],
        "output_dir": str(opts.out / "train" / str(preset.trained_name)),
        "resume_from": "latest",
    }


def _train(
    values: dict[str, Any], preset: Preset, opts: ReproduceOptions, launch: Launch
) -> tuple[dict[str, Any], list[Path]]:
    from reference_models.rlhfv.config import from_dict

    cfg = from_dict(values, str(preset.path))
    out = Path(cfg.output_dir)
    if launch.config is None:
        from reference_models.rlhfv.trainer import train

        train(cfg, command=opts.command)
    else:
        import yaml

        config_file = opts.out / "train" / "ddpo-config.yaml"
        atomic_write_text(config_file, yaml.safe_dump(values, sort_keys=False))
        argv = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", launch.config,
                "-m", "halbench", "train", "ddpo", "--config", str(config_file)]  # fmt: skip
        if subprocess.run(argv, check=False).returncode != 0:
            raise HalbenchError(
                f"training under accelerate launch failed (see its output above); run the same command again to resume: {' '.join(argv)}"
            )
    record = out / "train_record.json"
    if not record.exists():
        raise HalbenchError(f"training ended without {record}")
    info = json.loads(record.read_text(encoding="utf-8"))
    outputs = {
        "checkpoint": str(out),
        "fingerprint": _local_fingerprint(out),
        "train_record": str(record),
        "train_record_sha256": sha256_file(record),
        "steps": info.get("resolved", {}).get("steps"),
    }
    return outputs, [record, out / "config.json"]


# ---------------------------------------------------------------- the pipeline


def _train_inputs(values: dict[str, Any], prepared: dict[str, Any], launch: Launch) -> dict:
    paths = ("output_dir", "resume_from", "ref_cache_dir", "data", "model")
    return {
        "config": {k: v for k, v in values.items() if k not in paths},
        "data_checksum": prepared["data_checksum"],
        "base_fingerprint": prepared["base_fingerprint"],
        "world": launch.world,
        "distributed": launch.distributed,
    }


def reproduce(opts: ReproduceOptions) -> ReproduceResult:
    preset = load_preset(opts.preset)
    if preset.train is None:
        return _reproduce_released(preset, opts)
    launch = read_launch(opts.accelerate_config)
    stages = Stages(opts.out)
    prepared_m = stages.read("prepare")
    prepared = (
        prepared_m.get("outputs") if prepared_m and prepared_m.get("status") == "done" else None
    )
    known = prepared is not None and prepared.get("n_pairs") is not None
    pairs = int(prepared["n_pairs"]) if known else int((preset.data or {}).get("expected_pairs", 0))
    geo = geometry(preset.train, launch, pairs, known) if pairs else None
    memory = memory_estimate(preset.model_config, preset.train, launch)
    prep_inputs = {"data": _data_source(preset, opts), "base_model": preset.base_model}
    base_in = train_in = trained_in = None
    if prepared is not None:
        base_in = _eval_inputs(preset, opts, prepared["base_model"], prepared["base_fingerprint"])
        train_in = _train_inputs(train_values(preset, opts, prepared), prepared, launch)
    trained_m = stages.read("train")
    if trained_m and trained_m.get("status") == "done":
        t_out = trained_m["outputs"]
        trained_in = _eval_inputs(preset, opts, t_out["checkpoint"], t_out["fingerprint"])
    plan = [
        ("prepare", stages.status("prepare", prep_inputs), f"base model {preset.base_model['model']}; preference data {_data_source(preset, opts)[0]}"),
        ("eval-base", stages.status("eval-base", base_in), f"halbench run on {', '.join(preset.benchmarks)} -> {opts.out / 'eval' / 'base'}"),
        ("train", stages.status("train", train_in), f"DDPO ({preset.train.get('loss', 'ddpo-paper')}) -> {opts.out / 'train' / str(preset.trained_name)} (resume_from: latest)"),
        ("eval-trained", stages.status("eval-trained", trained_in), f"the same benchmarks and settings -> {opts.out / 'eval' / 'trained'}"),
        ("report", "always", f"linked records, summary.json, leaderboard -> {opts.out / 'leaderboard'}"),
    ]  # fmt: skip
    text = format_plan(preset, plan, launch, geo, memory)
    result = ReproduceResult(opts.out, text)
    if opts.dry_run:
        return result
    prepared = stages.run("prepare", prep_inputs, lambda: _prepare(preset, opts), result)
    base_in = _eval_inputs(preset, opts, prepared["base_model"], prepared["base_fingerprint"])
    base = stages.run(
        "eval-base",
        base_in,
        lambda: _evaluate(preset, opts, prepared["base_model"], "base"),
        result,
    )
    values = train_values(preset, opts, prepared)
    geometry(preset.train, launch, int(prepared["n_pairs"]), True)  # fail before any training
    train_in = _train_inputs(values, prepared, launch)
    trained = stages.run(
        "train",
        train_in,
        lambda: _train(values, preset, opts, launch),
        result,
        restart_on_change=False,
    )
    ev_in = _eval_inputs(preset, opts, trained["checkpoint"], trained["fingerprint"])
    trained_eval = stages.run(
        "eval-trained",
        ev_in,
        lambda: _evaluate(preset, opts, trained["checkpoint"], "trained"),
        result,
    )
    report = report_stage(preset, opts.out, opts.entries_dir, prepared, base, trained, trained_eval)
    result.ran.append("report")
    result.summary = json.loads(Path(report["summary"]).read_text(encoding="utf-8"))
    result.leaderboard = Path(report["leaderboard"])
    return result


def _reproduce_released(preset: Preset, opts: ReproduceOptions) -> ReproduceResult:
    """An evaluation-only preset: the base model and a released trained model, no training."""
    from reference_models.rlhfv.reproduce_plan import GIB

    if not preset.released_model:
        raise InputError(
            str(preset.path), "released_model: required without train", field="released_model"
        )
    released = str(preset.released_model["model"])
    stages = Stages(opts.out)
    base_m, rel_m = preset.base_model["model"], released
    fp = lambda m: _local_fingerprint(Path(m)) if Path(m).is_dir() else f"hub:{m}@main"  # noqa: E731
    base_in = _eval_inputs(preset, opts, base_m, fp(base_m))
    rel_in = _eval_inputs(preset, opts, rel_m, fp(rel_m))
    weights = preset.model_config["params_total"] * 2 / GIB
    plan = [
        ("eval-base", stages.status("eval-base", base_in), f"{base_m} ({preset.backend}) on {', '.join(preset.benchmarks)} -> {opts.out / 'eval' / 'base'}"),
        ("eval-trained", stages.status("eval-trained", rel_in), f"{rel_m} (released; not trained here), same settings -> {opts.out / 'eval' / 'trained'}"),
        ("report", "always", f"linked records, summary.json, leaderboard -> {opts.out / 'leaderboard'}"),
    ]  # fmt: skip
    text = format_plan(preset, plan, Launch(), None, None)
    text = text.replace(
        "\n--dry-run:",
        f"\nno training; inference memory: weights {weights:.2f} GiB in float16 + activations\n\n--dry-run:",
    )
    result = ReproduceResult(opts.out, text)
    if opts.dry_run:
        return result
    base = stages.run("eval-base", base_in, lambda: _evaluate(preset, opts, base_m, "base"), result)
    rel = stages.run(
        "eval-trained", rel_in, lambda: _evaluate(preset, opts, rel_m, "trained"), result
    )
    prepared = {"base_model": base_m, "base_fingerprint": base_in["fingerprint"]}
    trained = {"checkpoint": rel_m, "fingerprint": rel_in["fingerprint"]}
    report = report_stage(preset, opts.out, opts.entries_dir, prepared, base, trained, rel)
    result.ran.append("report")
    result.summary = json.loads(Path(report["summary"]).read_text(encoding="utf-8"))
    result.leaderboard = Path(report["leaderboard"])
    return result
