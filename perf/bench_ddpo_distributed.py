"""DDPO on 2 CPU processes (gloo) under DDP, FSDP2, ZeRO-2, ZeRO-3 against one process.

The tiny offline LLaVA (built here), configs/tiny.yaml (24 pairs, 24 steps, global batch 8,
float32, mixed precision off), the shipped accelerate configs with --num_processes 2. One
process runs 2 micro-batches of 4 pairs per step; two processes run 1 each. FSDP and DeepSpeed
go through tests/cpu_dist_launch.py (accelerate sets neither up without an accelerator; see
docs/ddpo.md). Reported per backend: max |loss difference| over the 24 logged steps, max
|weight difference| of the saved checkpoint, and wall time of the whole run (start-up,
reference log-probs and saving included) over the one-process run's. ZeRO rows are skipped
when deepspeed is not installed.

Usage: python perf/bench_ddpo_distributed.py [--backends ddp,fsdp,zero2,zero3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "reference_models" / "rlhfv" / "configs" / "tiny.yaml"
ACC = ROOT / "reference_models" / "rlhfv" / "configs" / "accelerate"
SHIM = ROOT / "tests" / "cpu_dist_launch.py"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(backend: str, out: Path, model: Path, cache: Path) -> float:
    train = [
        "-q",
        "train",
        "ddpo",
        "--config",
        str(TINY),
        "--out",
        str(out),
        "--set",
        f"model={model}",
        "--set",
        f"ref_cache_dir={cache}",
        "--set",
        "tensorboard=false",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    if backend == "one":
        cmd = [sys.executable, "-m", "halbench", *train]
    else:
        launch = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(_port()),
        ]
        if backend == "ddp":
            cmd = [*launch, "--multi_gpu", "-m", "halbench", *train]
        else:
            cmd = [*launch, "--config_file", str(ACC / f"{backend}.yaml"), str(SHIM), *train]
        env["ACCELERATE_USE_CPU"] = "false" if backend.startswith("zero") else "true"
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        raise SystemExit(f"{backend} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="ddp,fsdp,zero2,zero3")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from safetensors.torch import load_file

    from halbench.testing.tiny import build_tiny_llava

    tmp = Path(tempfile.mkdtemp(prefix="bench-ddpo-dist-"))
    model = build_tiny_llava(tmp / "tiny", max_new_tokens=24)
    base_t = _run("one", tmp / "one", model, tmp / "ref-one")

    def loss(d: Path) -> list[float]:
        return [json.loads(x)["loss"] for x in (d / "train_log.jsonl").read_text().splitlines()]

    a = load_file(tmp / "one" / "model.safetensors")
    print(f"one process: {base_t:.1f} s (2 micro-batches of 4 pairs per step, 24 steps)")
    print("| backend | max abs loss diff | max abs weight diff | wall time vs 1 process |")
    print("| --- | ---: | ---: | ---: |")
    for backend in args.backends.split(","):
        if backend.startswith("zero") and importlib.util.find_spec("deepspeed") is None:
            print(f"| {backend} | skipped: deepspeed not installed | | |")
            continue
        t = _run(backend, tmp / backend, model, tmp / f"ref-{backend}")
        b = load_file(tmp / backend / "model.safetensors")
        dl = max(abs(x - y) for x, y in zip(loss(tmp / "one"), loss(tmp / backend), strict=True))
        dw = max((a[k] - b[k]).abs().max().item() for k in a)
        print(f"| {backend} | {dl:.1e} | {dw:.1e} | {t / base_t:.2f}x ({t:.1f} s) |")


if __name__ == "__main__":
    main()
