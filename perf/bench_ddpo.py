"""Per-step time and peak memory: halbench's DDPO step vs TRL's DPOTrainer step.

Same tiny offline LLaVA (built here, random weights, float32, CPU), same 24 toy pairs
(reference_models/rlhfv/data/tiny_prefs), same batch (4 pairs = 8 rows), same learning
rate and AdamW, gradient checkpointing off in both, prompts tokenized without BOS in both
(TRL's way). Each contender runs in its own subprocess:

- halbench: reference_models.rlhfv.trainer.train (ddpo-paper, gamma 5): one concatenated
  forward per step over chosen+rejected, logits only from the first completion position
  on, reference log-probs from the on-disk cache (computed before the timed steps);
- TRL:      trl.DPOTrainer (loss sigmoid), its own collator, a frozen reference copy run
  every step (TRL refuses precompute_ref_logps for vision data).

Reported: median step time over the steps after --warmup, and the peak RSS during all the
training steps over the RSS just before the first one (model, data and the reference
already loaded; sampled every 2 ms from /proc/self/statm). With --device cuda memory is
torch.cuda.max_memory_allocated over memory_allocated before the first step.

Runs alternate (TRL, halbench, TRL, ...) --repeats times; each figure is the median over runs.

Usage: python perf/bench_ddpo.py [--steps 40] [--warmup 5] [--batch 4] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PREFS = ROOT / "reference_models" / "rlhfv" / "data" / "tiny_prefs" / "prefs.jsonl"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Sampler:
    def __init__(self) -> None:
        self.base = rss()
        self.peak = self.base
        self.on = True
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self) -> None:
        while self.on:
            self.peak = max(self.peak, rss())
            time.sleep(0.002)

    def stop(self) -> int:
        self.on = False
        self.t.join()
        return self.peak - self.base


class Clock:
    """Step timestamps; starts the memory sampler when the timed steps begin."""

    def __init__(self, warmup: int, device: str) -> None:
        self.warmup, self.device, self.times, self.sampler = warmup, device, [], None
        self.last = time.perf_counter()

    def begin(self) -> None:
        """Just before the first step: memory baseline (model, optimizer, data already set up)."""
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            self.sampler = Sampler()
        self.last = time.perf_counter()

    def tick(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
        now = time.perf_counter()
        self.times.append(now - self.last)
        self.last = time.perf_counter()

    def result(self) -> dict:
        timed = self.times[self.warmup :]
        if self.device == "cuda":
            import torch

            mem = torch.cuda.max_memory_allocated() - self.base
        else:
            mem = self.sampler.stop() if self.sampler else 0
        return {
            "median_step_s": statistics.median(timed),
            "steps_timed": len(timed),
            "peak_mem_bytes": mem,
        }


def run_ours(model: str, work: Path, args: argparse.Namespace) -> dict:
    from reference_models.rlhfv.config import from_dict
    from reference_models.rlhfv.trainer import train

    cfg = from_dict(
        {
            "model": model,
            "data": str(PREFS),
            "output_dir": str(work / "ours"),
            "dtype": "float32",
            "loss": "ddpo-paper",
            "learning_rate": 1e-5,
            "max_steps": args.steps,
            "warmup_ratio": 0.0,
            "lr_scheduler": "constant",
            "global_batch_size": args.batch,
            "per_device_batch_size": args.batch,
            "mixed_precision": "no",
            "prompt_special_tokens": False,
            "ref_cache_dir": str(work / "ref"),
            "tensorboard": False,
            "max_grad_norm": 1.0,
        }
    )
    clock = Clock(args.warmup, args.device)
    train(cfg, on_step=lambda row: clock.begin() if row.get("event") == "begin" else clock.tick())
    return clock.result()


def run_trl(model: str, work: Path, args: argparse.Namespace) -> dict:
    import datasets
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from reference_models.rlhfv.data import load_preferences

    recs = load_preferences(PREFS).records
    n = args.steps * args.batch
    rows = [recs[k % len(recs)] for k in range(n)]
    ds = datasets.Dataset.from_dict(
        {
            "images": [[r.load_image()] for r in rows],
            "prompt": [
                [
                    {
                        "role": "user",
                        "content": [{"type": "image"}, {"type": "text", "text": r.question}],
                    }
                ]
                for r in rows
            ],
            "chosen": [
                [{"role": "assistant", "content": [{"type": "text", "text": r.chosen}]}]
                for r in rows
            ],
            "rejected": [
                [{"role": "assistant", "content": [{"type": "text", "text": r.rejected}]}]
                for r in rows
            ],
        }
    )
    clock = Clock(args.warmup, args.device)

    class Tick(TrainerCallback):
        def on_train_begin(self, *a, **k):
            clock.begin()

        def on_step_end(self, *a, **k):  # after the optimizer step
            clock.tick()

    policy = AutoModelForImageTextToText.from_pretrained(model, dtype=torch.float32)
    cfg = DPOConfig(
        output_dir=str(work / "trl"),
        per_device_train_batch_size=args.batch,
        max_steps=args.steps,
        learning_rate=1e-5,
        lr_scheduler_type="constant",
        beta=0.5,
        use_cpu=args.device == "cpu",
        report_to="none",
        max_length=None,
        logging_steps=10_000,
        save_strategy="no",
        bf16=False,
        gradient_checkpointing=False,
        dataloader_num_workers=0,
        seed=0,
        max_grad_norm=1.0,
    )
    trainer = DPOTrainer(
        model=policy,
        args=cfg,
        train_dataset=ds,
        processing_class=AutoProcessor.from_pretrained(model),
        callbacks=[Tick()],
    )
    trainer.train()
    return clock.result()


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    fn = run_ours if args.contender == "halbench" else run_trl
    res = fn(args.model, work, args)
    print("RESULT " + json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument(
        "--repeats", type=int, default=3, help="alternating runs per contender (median taken)"
    )
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads in each contender")
    ap.add_argument("--contender", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.contender:
        child(args)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from halbench.testing.tiny import build_tiny_llava

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = build_tiny_llava(work / "tiny")
        runs: dict[str, list[dict]] = {"trl": [], "halbench": []}
        for rep in range(args.repeats):
            for name in ("trl", "halbench"):
                cmd = [
                    sys.executable,
                    __file__,
                    "--contender",
                    name,
                    "--model",
                    str(model),
                    "--work",
                    str(work / f"{name}-{rep}"),
                    "--steps",
                    str(args.steps),
                    "--warmup",
                    str(args.warmup),
                    "--batch",
                    str(args.batch),
                    "--device",
                    args.device,
                    "--threads",
                    str(args.threads),
                ]
                env = {**os.environ, "HALBENCH_HOME": str(work / "home")}
                out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
                line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
                if out.returncode or not line:
                    sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
                runs[name].append(json.loads(line[-1][7:]))
    results = {
        name: {
            k: statistics.median(r[k] for r in rs)
            for k in ("median_step_s", "peak_mem_bytes", "steps_timed")
        }
        for name, rs in runs.items()
    }
    base = results["trl"]
    print(
        f"DDPO step, tiny LLaVA, batch {args.batch} pairs ({2 * args.batch} rows), {args.device}, {args.threads} thread(s), median over {args.repeats} runs of the median of {base['steps_timed']:.0f} steps:"
    )
    print(f"{'contender':<30}{'step time':>12}{'vs TRL':>9}{'peak mem':>12}{'vs TRL':>9}")
    for name, label in (
        ("trl", "TRL DPOTrainer (sigmoid)"),
        ("halbench", "halbench DDPO (ddpo-paper)"),
    ):
        r = results[name]
        print(
            f"{label:<30}{r['median_step_s'] * 1000:>10.1f}ms{r['median_step_s'] / base['median_step_s']:>8.2f}x"
            f"{r['peak_mem_bytes'] / 2**20:>10.1f}MB{r['peak_mem_bytes'] / max(1, base['peak_mem_bytes']):>8.2f}x"
        )
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
