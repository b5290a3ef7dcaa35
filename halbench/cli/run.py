"""``halbench run``: generate answers with a model, score them, write result records."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from halbench import display
from halbench.cli.common import add_command, argv
from halbench.errors import HalbenchError
from halbench.judges.cli import add_llm_extractor_flags, run_judge_setup

EPILOG = """\
MODEL is a local checkpoint directory or a Hugging Face hub id (any checkpoint that
AutoProcessor + AutoModelForImageTextToText load), openai:NAME for an OpenAI-compatible
API (--base-url; key from $OPENAI_API_KEY), or replay:FILE to score answers made
elsewhere. Answers are stored in OUT/answers.sqlite as they are produced: run the same
command again after an interruption and only the missing answers are generated.

Writes OUT/<benchmark>/answers.jsonl and OUT/<benchmark>/result.json, then prints a
summary. Exit status 3 when some items could not be generated (they are unscored).

examples:
  halbench run --model runs/demo/tiny-llava --benchmarks demo
  halbench run --model llava-hf/llava-1.5-7b-hf --benchmarks object-halbench \\
      --coco-annotations ~/data/coco2014/annotations --batch-size 16
  halbench run --model openai:gpt-4o-mini --benchmarks object-halbench --limit 20
  halbench run --model replay:rlhfv_objhal_answers.jsonl --benchmarks object-halbench"""


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
        required=True,
        metavar="MODEL",
        help="checkpoint dir, hub id, openai:NAME or replay:FILE",
    )
    p.add_argument(
        "--benchmarks",
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
    g.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: best available)")
    g.add_argument(
        "--dtype", help="float32, bfloat16 or float16 (default: bfloat16 on GPU, float32 on CPU)"
    )
    g.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the checkpoint's own code (off by default)",
    )
    g.add_argument("--revision", help="hub revision (branch, tag or commit)")
    g.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm: GPUs per model")
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


def cmd_run(args: argparse.Namespace) -> int:
    from halbench.run import RunConfig, run
    from halbench.runners import BackendOptions

    names = [n.strip() for n in args.benchmarks.split(",") if n.strip()]
    if not names:
        raise HalbenchError("--benchmarks is empty")
    config = RunConfig(
        model=args.model,
        backend=args.backend,
        benchmarks=names,
        out=args.out,
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
        backend_options=BackendOptions(
            device=args.device,
            dtype=args.dtype,
            trust_remote_code=args.trust_remote_code,
            revision=args.revision,
            base_url=args.base_url,
            api_key_env=args.api_key_env,
            concurrency=args.concurrency,
            max_retries=args.max_retries,
            tensor_parallel_size=args.tensor_parallel_size,
            max_model_len=args.max_model_len,
        ),
        judge=run_judge_setup(args),
        command=argv(),
    )
    outcomes = run(config)
    if not any(o.rank for o in outcomes):  # data parallel: rank 0 alone prints the summary
        print(display.format_run_summary(outcomes))
    return 3 if any(o.failed for o in outcomes) else 0
