"""GPU check: DDPO steps on a real-size LLaVA-1.5-7B (random weights, nothing downloaded) under
FSDP2 and ZeRO-3, bf16 mixed precision, gradient checkpointing; prints step time and peak memory.

The model is LLaVA-1.5-7B's architecture (CLIP ViT-L/14-336 vision tower, 2-layer GELU
projector, Llama-2-7B-sized language model: 4096 hidden, 32 layers, 32 heads, 11008 MLP, 32064
vocabulary), initialised at random and saved once in bfloat16 under --work (about 14 GB). The
processor is halbench's tiny offline tokenizer and chat template with CLIP's 336-px image
processor (576 image tokens per image, as LLaVA-1.5). The data are the 24 toy pairs in
reference_models/rlhfv/data/tiny_prefs. Each backend runs ``halbench train ddpo`` under
``accelerate launch`` (the shipped fsdp.yaml / zero3.yaml, --num_processes = visible GPUs) with
float32 master weights, mixed_precision bf16, gradient_checkpointing, image_preprocess pad-square,
and reports, per step after the first: wall time; and torch.cuda.max_memory_allocated on rank 0.
Runs: the reference pass over 24 pairs, --steps optimizer steps, and the final save of the full
checkpoint (not timed; under --work).

Usage (one GPU or more; not run on the project's CPU machines):

    python perf/gpu_ddpo_7b.py --work /tmp/gpu7b --steps 4 [--backends fsdp,zero3] [--layers 32]

--layers N shrinks the language model to N decoder layers (a quick smoke run: --layers 2).
ZeRO-3 needs `deepspeed`; without it that backend is reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ACC = ROOT / "reference_models" / "rlhfv" / "configs" / "accelerate"
PREFS = ROOT / "reference_models" / "rlhfv" / "data" / "tiny_prefs" / "prefs.jsonl"


def build_model(directory: Path, layers: int) -> Path:
    """LLaVA-1.5-7B's config with random weights, saved in bf16, plus a 336-px processor."""
    if (directory / "config.json").exists():
        return directory
    import torch
    from transformers import (
        AutoProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    from halbench.testing.tiny import build_tiny_llava

    try:
        from transformers import CLIPImageProcessorPil as CLIPImageProcessor  # transformers >= 5
    except ImportError:  # pragma: no cover - older transformers
        from transformers import CLIPImageProcessor

    tiny = build_tiny_llava(directory.parent / "tiny-processor-source")
    small = AutoProcessor.from_pretrained(tiny)
    tok = small.tokenizer
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 336},
        crop_size={"height": 336, "width": 336},
        do_center_crop=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=small.chat_template,
        image_token="<image>",
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=1024,
            intermediate_size=4096,
            num_hidden_layers=24,
            num_attention_heads=16,
            image_size=336,
            patch_size=14,
            projection_dim=768,
            hidden_act="quick_gelu",
        ),
        text_config=LlamaConfig(
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=layers,
            num_attention_heads=32,
            num_key_value_heads=32,
            vocab_size=32064,
            max_position_embeddings=4096,
            rms_norm_eps=1e-5,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        ),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        projector_hidden_act="gelu",
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
    )
    torch.manual_seed(0)
    t = time.perf_counter()
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlavaForConditionalGeneration(config).to(torch.bfloat16)
    n = sum(p.numel() for p in model.parameters())
    model.save_pretrained(directory, safe_serialization=True)
    processor.save_pretrained(directory)
    print(f"built {n / 1e9:.2f}B parameters in {time.perf_counter() - t:.0f} s: {directory}")
    return directory


def worker(args: argparse.Namespace) -> None:
    """Inside accelerate launch: train, time steps, report rank 0's peak memory."""
    import torch

    from reference_models.rlhfv.config import from_dict
    from reference_models.rlhfv.trainer import train

    world = int(os.environ.get("WORLD_SIZE", "1"))
    cfg = from_dict(
        {
            "model": str(args.model_dir),
            "data": str(PREFS),
            "dtype": "float32",
            "mixed_precision": "bf16",
            "gradient_checkpointing": True,
            "image_preprocess": "pad-square",
            "per_device_batch_size": 1,
            "global_batch_size": world,
            "max_steps": args.steps,
            "learning_rate": 5e-7,
            "ref_batch_size": 2,
            "output_dir": str(args.out),
            "ref_cache_dir": str(args.out / "ref"),
            "overwrite_output_dir": True,
            "tensorboard": False,
            "save_steps": 0,
        }
    )
    marks: list[float] = []

    def on_step(row: dict) -> None:
        torch.cuda.synchronize()
        if row.get("event") == "begin":
            torch.cuda.reset_peak_memory_stats()
        marks.append(time.perf_counter())

    train(cfg, on_step=on_step)
    if int(os.environ.get("RANK", "0")) == 0:
        steps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
        report = {
            "step_s": steps,
            "median_step_s_after_first": sorted(steps[1:])[len(steps[1:]) // 2]
            if len(steps) > 1
            else None,
            "peak_allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
            "processes": world,
        }
        args.report.write_text(json.dumps(report))


def launch(backend: str, model_dir: Path, work: Path, steps: int) -> dict:
    import torch

    gpus = max(1, torch.cuda.device_count())
    yaml = {"fsdp": ACC / "fsdp.yaml", "zero3": ACC / "zero3.yaml"}[backend]
    out, report = work / f"run-{backend}", work / f"{backend}.json"
    report.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(yaml),
        "--num_processes",
        str(gpus),
        "--mixed_precision",
        "bf16",
        __file__,
        "--worker",
        "--model-dir",
        str(model_dir),
        "--out",
        str(out),
        "--report",
        str(report),
        "--steps",
        str(steps),
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0 or not report.exists():
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        return {"backend": backend, "error": f"exit {proc.returncode}", "tail": tail}
    return {"backend": backend, "wall_s": round(wall, 1), **json.loads(report.read_text())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/halbench-gpu7b"))
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--layers", type=int, default=32, help="language-model decoder layers")
    ap.add_argument("--backends", default="fsdp,zero3")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.worker:
        worker(args)
        return
    import torch

    if not torch.cuda.is_available():
        sys.exit("perf/gpu_ddpo_7b.py needs a CUDA GPU")
    args.work.mkdir(parents=True, exist_ok=True)
    model_dir = build_model(args.work / f"llava15-7b-random-{args.layers}l", args.layers)
    torch.cuda.empty_cache()
    print(f"GPU: {torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}")
    for backend in args.backends.split(","):
        if backend == "zero3":
            try:
                import deepspeed  # noqa: F401
            except ImportError:
                print(json.dumps({"backend": "zero3", "skipped": "deepspeed not installed"}))
                continue
        print(json.dumps(launch(backend, model_dir, args.work, args.steps)), flush=True)


if __name__ == "__main__":
    main()
