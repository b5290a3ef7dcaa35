"""CLI pieces shared by judge-scored benchmarks: the ``--judge-*`` flags and their config.

Benchmarks' ``score.py`` add them to their ``halbench score NAME`` parser; ``halbench run``
adds them with ``required=False`` (without a judge, judged benchmarks are "not judged").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_judge_flags(p: Any, *, required: bool = True) -> None:
    g = p.add_argument_group("judge (any OpenAI-compatible endpoint; key from the environment)")
    g.add_argument(
        "--judge-model",
        required=required,
        help="e.g. gpt-4o-2024-11-20 (the paper used gpt-4-0314, now retired)"
        + ("" if required else "; without it, judge-scored benchmarks are reported not judged"),
    )
    g.add_argument(
        "--judge-base-url", help="endpoint (default: $OPENAI_BASE_URL or api.openai.com)"
    )
    g.add_argument(
        "--judge-api-key-env",
        default="OPENAI_API_KEY",
        help="variable holding the key (never stored)",
    )
    g.add_argument("--judge-concurrency", type=int, default=16)
    g.add_argument(
        "--judge-max-retries",
        type=int,
        default=6,
        help="retries per call on 429/5xx/timeouts, exponential backoff from 1 s (default 6)",
    )
    g.add_argument(
        "--judge-max-retry-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="longest wait a server's Retry-After can impose before a retry (default 60)",
    )
    g.add_argument(
        "--judge-item-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="deadline for one item over all its attempts and waits; past it the item is "
        "unscored with the reason (default 600; 0 = none)",
    )
    g.add_argument("--judge-max-calls", type=int, help="stop before sending more calls than this")
    g.add_argument(
        "--judge-max-cost",
        type=float,
        help="never spend more than this many dollars: each call reserves its worst case "
        "(prompt bytes + max tokens) first",
    )
    g.add_argument(
        "--judge-prices", type=Path, help='JSON {"model": [usd_per_1M_input, usd_per_1M_output]}'
    )
    g.add_argument(
        "--judge-no-cache", action="store_true", help="neither read nor write the judge cache"
    )


def judge_config(args: argparse.Namespace, log_dir: Path) -> Any:
    from halbench.errors import HalbenchError
    from halbench.io import read_json
    from halbench.judges import JudgeConfig

    for flag in ("judge_max_retry_wait", "judge_item_timeout", "judge_max_cost"):
        value = getattr(args, flag)
        if value is not None and not value >= 0:
            raise HalbenchError(
                f"--{flag.replace('_', '-')} must be a number of at least 0, not {value}"
            )
    prices = {}
    if args.judge_prices:
        raw = read_json(args.judge_prices)
        prices = {k: (float(v[0]), float(v[1])) for k, v in raw.items()}
    return JudgeConfig(
        model=args.judge_model,
        base_url=args.judge_base_url,
        api_key_env=args.judge_api_key_env,
        concurrency=args.judge_concurrency,
        max_retries=args.judge_max_retries,
        max_calls=args.judge_max_calls,
        max_cost=args.judge_max_cost,
        max_retry_wait=args.judge_max_retry_wait,
        item_timeout=args.judge_item_timeout or None,
        prices=prices,
        use_cache=not args.judge_no_cache,
        log_path=log_dir / "judge_calls.jsonl",
    )


def print_estimate(est: dict[str, Any]) -> None:
    cost = est["max_cost_usd"]
    if est.get("max_completion_tokens", 0) is None:
        money = "no cost bound (a request sets no max_tokens)"
    else:
        money = "unknown price (give --judge-prices)" if cost is None else f"at most ${cost:.2f}"
    print(
        f"judge: {est['calls']} calls to make ({est['cached']} of {est['requests']} cached), "
        f"~{est['prompt_tokens_est']} prompt tokens, {money}",
        file=sys.stderr,
    )


def add_llm_extractor_flags(p: Any) -> None:
    """``score object-halbench --extractor llm``: the paper's LLM-assisted object extraction."""
    p.add_argument(
        "--extractor",
        choices=["synonym", "llm"],
        default="synonym",
        help="synonym (default: string matching, RLHF-V without --use_gpt) or llm (a judge lists the "
        "objects, as for the paper's numbers; needs --judge-model)",
    )
    p.add_argument(
        "--spacy-model",
        metavar="NAME",
        help="--extractor llm: spaCy pipeline for lemmas and noun tags (reference: en_core_web_trf, "
        "used when installed); without one, halbench's documented WordNet fallback",
    )
    add_judge_flags(p, required=False)


def run_judge_setup(args: argparse.Namespace) -> Any:
    """``halbench run``'s judge (None without --judge-model: judged benchmarks are "not judged")."""
    from halbench.errors import HalbenchError
    from halbench.run import default_out
    from halbench.scorers import JudgeSetup

    if not args.judge_model:
        if args.extractor == "llm":
            raise HalbenchError(
                "--extractor llm needs --judge-model (the reference: gpt-3.5-turbo-0613)"
            )
        return None
    out = Path(args.out) if args.out else default_out(args.model)
    return JudgeSetup(judge_config(args, out), args.extractor, args.spacy_model, print_estimate)
