"""``halbench run``: generate answers with a model, score them, write result records."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from halbench import display
from halbench.cli.common import add_command, argv, failure_exit
from halbench.errors import HalbenchError
from halbench.judges.cli import add_llm_extractor_flags, run_judge_setup

EPILOG = """\
MODEL is a local checkpoint directory or a Hugging Face hub id (any checkpoint that
AutoProcessor + AutoModelForImageTextToText load), openai:NAME for an OpenAI-compatible
API (--base-url; key from $OPENAI_API_KEY), or replay:FILE to score answers made
elsewhere. Answers are stored in OUT/answers.sqlite as they are produced: run the same
command again after an interruption and only the missing answers are generated.

Writes OUT/<benchmark>/answers.jsonl and OUT/<benchmark>/result.json, then prints a
summary. Exit status 3 when some items are unscored because generation or a judge call
failed (the summary names the first cause).

examples:
  halbench run --model runs/demo/tiny-llava --benchmarks demo
  halbench run --model llava-hf/llava-1.5-7b-hf --benchmarks object-halbench \\
      --coco-annotations ~/data/coco2014/annotations --batch-size 16
  halbench run --model openai:gpt-4o-mini --benchmarks object-halbench --limit 20
  halbench run --model replay:rlhfv_objhal_answers.jsonl --benchmarks object-halbench
  halbench run --model llava-hf/llava-1.5-7b-hf --model llava-hf/llava-v1.6-vicuna-7b-hf \\
      --tasks pope,amber --out runs/compare
  halbench run --model llava-hf/llava-1.5-13b-hf --device-map auto \\
      --model-args attn_implementation=sdpa,load_in_4bit=true --benchmarks object-halbench"""


def add_parser(sub: Any) -> None:
    from halbench.run import default_benchmarks
    from halbench.runners import BACKENDS

    p = add_command(
        sub,
        "run",
        help="generate answers with a model, score them, write result records",
        description="Generate every benchmark's answers with a model, resumably, then score and record them.",
        example=EPILOG,
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="MODEL",
        help="checkpoint dir, hub id, openai:NAME or replay:FILE; repeat it to evaluate "
        "several models in turn (then each gets OUT/<model name>/ and one table ends the run)",
    )
    p.add_argument(
        "--models",
        type=Path,
        metavar="FILE",
        help="models to evaluate in turn, one per line (# starts a comment)",
    )
    p.add_argument(
        "--name", metavar="NAME", help="the model's name on the leaderboard (default: readable)"
    )
    p.add_argument(
        "--benchmarks",
        "--tasks",
        default=",".join(default_benchmarks()),
        metavar="A,B",
        help=f"comma-separated benchmark names (default: {','.join(default_benchmarks())}; "
        "`halbench benchmarks` lists them)",
    )
    p.add_argument(
        "--backend", choices=BACKENDS, default="auto", help="model backend (default: auto)"
    )
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="output directory (default: runs/<model name>)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=8,
        metavar="N",
        help="prompts per generate() call (default 8)",
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        metavar="N",
        help="default: the benchmark's (1024 for object-halbench)",
    )
    p.add_argument(
        "--temperature", type=float, default=0.0, help="0 (default) = greedy / beam search"
    )
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--num-beams", type=int, default=1, help="beam search width (RLHF-V used 3)")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="(RLHF-V used 1.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--limit", type=int, metavar="N", help="only the first N items of each benchmark"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="prepared data root (default: $HALBENCH_HOME/data)",
    )
    p.add_argument(
        "--coco-annotations",
        type=Path,
        metavar="DIR",
        help="COCO 2014 annotations (Object HalBench ground truth)",
    )
    g = p.add_argument_group("hf / vllm backends")
    g.add_argument(
        "--device",
        help="cuda, cuda:1, mps or cpu (default: best available; checked before loading)",
    )
    g.add_argument(
        "--dtype", help="float32, bfloat16 or float16 (default: bfloat16 on GPU, float32 on CPU)"
    )
    g.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the checkpoint's own code (off by default)",
    )
    g.add_argument("--revision", help="hub revision (branch, tag or commit)")
    g.add_argument(
        "--device-map",
        choices=("auto", "balanced", "balanced_low_0", "sequential"),
        help="hf: spread a model larger than one GPU over all visible GPUs (and CPU memory); "
        "needs accelerate; recorded",
    )
    g.add_argument(
        "--model-args",
        metavar="K=V,...",
        help="hf: checked from_pretrained options: attn_implementation, dtype (torch_dtype), "
        "revision, low_cpu_mem_usage, load_in_8bit, load_in_4bit, bnb_4bit_quant_type, "
        "bnb_4bit_compute_dtype, use_safetensors, variant (recorded; part of the model "
        "fingerprint)",
    )
    g.add_argument(
        "--image-preprocess",
        choices=("processor", "pad-square"),
        default="processor",
        help="hf: pad-square pads to a square with the processor's mean colour first (LLaVA-1.5's expand2square; no crop); processor: the processor alone (CLIP centre-crops)",
    )
    g.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm: GPUs per model")
    g.add_argument(
        "--data-parallel-size",
        type=int,
        default=1,
        help="vllm: engine replicas (vLLM's own data parallelism)",
    )
    g.add_argument("--max-model-len", type=int, help="vllm: context length limit")
    g = p.add_argument_group("openai backend")
    g.add_argument(
        "--base-url",
        help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL or api.openai.com)",
    )
    g.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key"
    )
    g.add_argument("--concurrency", type=int, default=8, help="parallel requests (default 8)")
    g.add_argument(
        "--max-retries",
        type=int,
        default=5,
        help="retries per request on 429/5xx/timeouts (default 5)",
    )
    add_llm_extractor_flags(p)
    p.set_defaults(func=cmd_run)


def read_models(args: argparse.Namespace) -> list[str]:
    """``--model`` values, then ``--models FILE`` lines; none or a repeated one is an error."""
    from halbench.errors import InputError

    models = list(args.model)
    if args.models is not None:
        try:
            text = args.models.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(str(args.models), f"cannot read: {exc.strerror}") from None
        for line in text.splitlines():
            name = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
            if name:
                models.append(name)
    if not models:
        raise HalbenchError("give --model MODEL (repeatable) or --models FILE")
    seen = set()
    for m in models:
        if m in seen:
            raise HalbenchError(f"model {m} is given twice")
        seen.add(m)
    return models


def model_outs(models: list[str], out: Path | None) -> list[Path | None]:
    """One model: --out as given. Several: OUT/<model name>/ each (OUT default: runs)."""
    from halbench.run import default_out

    if len(models) == 1:
        return [out]
    root = out or Path("runs")
    outs: list[Path | None] = []
    for m in models:
        name = default_out(m).name
        k, unique = 1, name
        while root / unique in outs:
            k += 1
            unique = f"{name}-{k}"
        outs.append(root / unique)
    return outs


def check_models(configs: list[Any]) -> None:
    """The benchmarks (plan) once, and every model's reference, before anything is loaded."""
    from halbench.run import plan
    from halbench.runners import resolve_backend
    from halbench.runners.hf import check_model_reference

    for config in configs:
        kind, ref = resolve_backend(config.model, config.backend)
        if kind in ("hf", "vllm"):
            check_model_reference(ref)
    plan(configs[0])


def cmd_run(args: argparse.Namespace) -> int:
    from halbench.destinations import check_writable_dir
    from halbench.redact import redact
    from halbench.run import RunConfig, default_out, run
    from halbench.runners import BackendOptions
    from halbench.runners.model_args import parse_model_args

    names = [n.strip() for n in args.benchmarks.split(",") if n.strip()]
    if not names:
        raise HalbenchError("--benchmarks is empty")
    models = read_models(args)
    options = BackendOptions(
        device=args.device,
        dtype=args.dtype,
        trust_remote_code=args.trust_remote_code,
        revision=args.revision,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        concurrency=args.concurrency,
        max_retries=args.max_retries,
        tensor_parallel_size=args.tensor_parallel_size,
        data_parallel_size=args.data_parallel_size,
        max_model_len=args.max_model_len,
        device_map=args.device_map,
        model_args=parse_model_args(args.model_args),
        image_preprocess=args.image_preprocess,
    )
    if args.name and len(models) > 1:
        raise HalbenchError("--name names one model: give it to one run at a time")
    judge = run_judge_setup(args)
    results: list[tuple[str, Any]] = []
    code = 0
    configs = []
    for model, out in zip(models, model_outs(models, args.out), strict=True):
        configs.append(
            RunConfig(
                model=model,
                name=args.name,
                backend=args.backend,
                benchmarks=names,
                out=out,
                batch_size=args.batch_size,
                max_new_tokens=args.max_new_tokens,
                temperature=args.temperature,
                top_p=args.top_p,
                num_beams=args.num_beams,
                repetition_penalty=args.repetition_penalty,
                seed=args.seed,
                limit=args.limit,
                data_dir=args.data_dir,
                coco_annotations=args.coco_annotations,
                backend_options=options,
                judge=judge,
                command=argv(),
            )
        )
    for config in configs:  # every destination, before any model loads
        check_writable_dir(config.out or default_out(config.model), "--out")
    if len(configs) > 1:  # mistakes that are not one model's fail before the first model runs
        check_models(configs)
    for config in configs:
        model = config.model
        if len(configs) == 1:
            outcomes = run(config)
            main_rank = not any(o.rank for o in outcomes)  # data parallel: rank 0 prints
            if main_rank:
                print(display.format_run_summary(outcomes))
            code = failure_exit(*(o.record for o in outcomes), quiet=not main_rank)
            return 3 if any(o.failed for o in outcomes) else code
        print(f"== model {model}")
        try:
            outcomes = run(config)
        except HalbenchError as exc:  # the other models still run; the table says which failed
            message = redact(str(exc))
            print(f"halbench: error: {message}", file=sys.stderr)
            results.append((model, message))
            code = 1
            continue
        print(display.format_run_summary(outcomes))
        results.append((model, outcomes))
        failed = failure_exit(*(o.record for o in outcomes))
        if code == 0 and (failed or any(o.failed for o in outcomes)):
            code = 3
    print()
    print(format_models_table(results))
    return code


def format_models_table(results: list[tuple[str, Any]]) -> str:
    """Benchmark x model: each benchmark's headline metrics, one column per model."""
    from halbench import registry

    cells: dict[tuple[str, str], dict[str, str]] = {}
    rows: list[tuple[str, str]] = []
    for model, outcomes in results:
        if isinstance(outcomes, str):
            continue
        for o in outcomes:
            rec = o.record
            status = rec.protocol.get("status")
            specs = registry.scorer_metrics(registry.scorer_of(rec))
            shown = [(m.key, m.label) for m in specs if m.headline] if not status else []
            for key, label in shown or [("", status or "-")]:
                row = (rec.benchmark, label if key else "")
                if row not in rows:
                    rows.append(row)
                value = display.pct(rec.metrics.get(key)).strip() if key else str(label)
                if key and rec.n_unscored:
                    value += f" ({rec.n_unscored} unscored)"
                cells.setdefault(row, {})[model] = value
    names = [m for m, _ in results]
    heads = [Path(m.split(":", 1)[-1].rstrip("/")).name or m for m in names]
    width = max([12, *(len(h) for h in heads)]) + 2
    lines = [f"{'benchmark':<24}{'metric':<22}" + "".join(f"{h:>{width}}" for h in heads)]
    for row in rows:
        vals = [cells.get(row, {}).get(m, "-") for m in names]
        lines.append(f"{row[0]:<24}{row[1]:<22}" + "".join(f"{v:>{width}}" for v in vals))
    for model, outcomes in results:
        if isinstance(outcomes, str):
            lines.append(f"{model}: not evaluated: {outcomes}")
    return "\n".join(lines)
