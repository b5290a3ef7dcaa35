"""The DDPO training loop (accelerate): single process on CPU, or DDP/FSDP/DeepSpeed under
``accelerate launch``. Deterministic data order (a seeded permutation per epoch, so a
resumed run sees exactly the batches it would have seen), one concatenated forward per
micro-batch, cached reference log-probs, per-step logs, resumable checkpoints, and at the
end a checkpoint directory ``halbench run --model`` loads plus ``train_record.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from halbench import progress
from halbench.errors import HalbenchError
from reference_models.rlhfv import checkpoint
from reference_models.rlhfv.config import TrainConfig
from reference_models.rlhfv.data import load_preferences
from reference_models.rlhfv.fidelity import freeze_parts, save_lora_merged, stored_reference
from reference_models.rlhfv.inputs import DiffSettings, Encoder, EncodeSettings, token_logps
from reference_models.rlhfv.loss import ddpo_loss
from reference_models.rlhfv.run_record import distributed_name, whole_model_load, write_record

_METRICS = (
    "loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
    "logps/ref_chosen",
    "logps/ref_rejected",
)


def require_train() -> None:
    missing = []
    for mod in ("torch", "transformers", "accelerate", "safetensors", "yaml"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise HalbenchError(
            f"DDPO training needs {', '.join(missing)}: pip install 'halbench[train]'"
        )


def model_fingerprint(model: str) -> str:
    path = Path(model)
    if path.is_dir():
        from halbench.runners.hf import local_fingerprint

        return "sha256:" + local_fingerprint(path)[0]
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(model)
    return f"hub:{model}@{getattr(cfg, '_commit_hash', None) or 'unknown'}"


def lr_lambda(kind: str, warmup: int, total: int) -> Any:
    def f(step: int) -> float:
        if warmup and step < warmup:
            return step / warmup  # as transformers' schedules: 0 at step 0
        if kind == "constant":
            return 1.0
        progress_ = (step - warmup) / max(1, total - warmup)
        if kind == "linear":
            return max(0.0, 1.0 - progress_)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress_)))

    return f


def _disable_dropout(model: Any) -> None:
    import torch

    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0


def _mixed_precision(cfg: TrainConfig) -> str:
    import torch

    if cfg.mixed_precision != "auto":
        return cfg.mixed_precision
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def _load_dtype(cfg: TrainConfig) -> Any:
    import torch

    return getattr(torch, cfg.dtype)


class JsonlLogger:
    def __init__(self, path: Path, resume_step: int, enabled: bool, tensorboard: bool) -> None:
        self.path, self.enabled, self.tb = path, enabled, None
        if not enabled:
            return
        if resume_step and path.exists():  # drop lines after the checkpoint we resume from
            keep = [
                x for x in path.read_text().splitlines() if json.loads(x)["step"] <= resume_step
            ]
            path.write_text("".join(k + "\n" for k in keep))
        elif path.exists():
            path.unlink()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(path.parent / "tensorboard"))
            except ImportError:
                self.tb = None

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for k, v in row.items():
                if isinstance(v, (int, float)) and k != "step":
                    self.tb.add_scalar(k, v, row["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def train(
    cfg: TrainConfig,
    *,
    command: list[str] | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Train; return the output directory (final checkpoint + train_record.json).

    ``on_step`` (optional) is called with ``{"step": n, "event": "begin"}`` just before the first
    step and then with each step's log row right after its optimizer step (perf/bench_ddpo.py
    times steps and samples memory with it)."""
    require_train()
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import AutoModelForImageTextToText, AutoProcessor

    t_start = time.perf_counter()
    if not progress.is_enabled():  # keep transformers' own bars quiet too (-q, tests)
        import transformers

        transformers.utils.logging.disable_progress_bar()
    beta, gamma = cfg.resolved()
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    # PartialState() alone ignores ACCELERATE_USE_CPU (only AcceleratorState reads it): without
    # it, CPU processes started by torchrun / accelerate's multi-process launcher get no gloo group
    world = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU")).num_processes
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and world == 1:  # e.g. FSDP/DeepSpeed asked for on CPU: accelerate falls back
        raise HalbenchError(
            f"launched as {launched} processes but accelerate set up no distributed training (distributed_type NO): each process would train alone and overwrite the same output. Without CUDA, set ACCELERATE_USE_CPU=true for gloo DDP; accelerate selects FSDP and DeepSpeed only on an accelerator"
        )
    launched_mp = os.environ.get("ACCELERATE_MIXED_PRECISION")  # set by accelerate launch
    if launched_mp and launched_mp != _mixed_precision(cfg):
        raise HalbenchError(
            f"accelerate launch asked for mixed_precision {launched_mp}, the DDPO config resolves to {_mixed_precision(cfg)!r}: make them agree (accelerate launch --mixed_precision {_mixed_precision(cfg)}, or --set mixed_precision={launched_mp})"
        )
    if cfg.global_batch_size % (cfg.per_device_batch_size * world):
        raise HalbenchError(
            f"global_batch_size {cfg.global_batch_size} is not a multiple of per_device_batch_size x processes ({cfg.per_device_batch_size} x {world})"
        )
    grad_acc = cfg.global_batch_size // (cfg.per_device_batch_size * world)
    from accelerate.utils import DistributedDataParallelKwargs

    # DDP only: LLaVA never uses its vision tower's last layer (vision_feature_layer -2), so those
    # parameters get no gradient; a lone process skips them in AdamW, DDP must be told
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    accelerator = Accelerator(
        mixed_precision=_mixed_precision(cfg),
        gradient_accumulation_steps=grad_acc,
        kwargs_handlers=[ddp],
    )
    rank, main = accelerator.process_index, accelerator.is_main_process
    if cfg.lora and distributed_name(accelerator).startswith("FSDP"):  # seen hanging on CPU
        raise HalbenchError(
            "lora: true under FSDP is not supported (a 2-process CPU run hung; merging sharded adapters is untested): use DDP or DeepSpeed"
        )
    out = Path(cfg.output_dir)
    held = [
        n for n in ("train_record.json", "train_log.jsonl", "checkpoints") if (out / n).exists()
    ]
    if held and not cfg.resume_from and not cfg.overwrite_output_dir:
        raise HalbenchError(
            f"{out} already holds a run ({', '.join(held)}): resume it (--resume-from latest), choose another --output-dir, or set overwrite_output_dir: true"
        )
    set_seed(cfg.seed)

    model_path = Path(cfg.model)
    if cfg.build_tiny_if_missing and not model_path.exists():
        if main:
            from halbench.testing.tiny import build_tiny_llava

            build_tiny_llava(model_path)
        accelerator.wait_for_everyone()
    data = load_preferences(
        cfg.data, fmt=cfg.data_format, bad_records=cfg.bad_records, data_filter=cfg.data_filter
    )
    processor = AutoProcessor.from_pretrained(cfg.model, trust_remote_code=cfg.trust_remote_code)
    enc_settings = EncodeSettings(
        cfg.max_length, cfg.append_eos, cfg.prompt_special_tokens, cfg.image_preprocess
    )
    encoder = Encoder(
        processor,
        enc_settings,
        DiffSettings(cfg.min_match, cfg.autojunk, cfg.edit_policy, cfg.diff_scope),
    )
    records = data.records
    pairs = [
        encoder.encode_pair(r) for r in progress.track(records, desc="tokenize + diff", unit="pair")
    ]
    fingerprint = model_fingerprint(cfg.model)

    kwargs: dict[str, Any] = {"dtype": _load_dtype(cfg), "trust_remote_code": cfg.trust_remote_code}
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    with whole_model_load(accelerator):
        model = AutoModelForImageTextToText.from_pretrained(cfg.model, **kwargs)
    _disable_dropout(model)
    model.config.use_cache = False

    # -- reference log-probs: once, with the frozen initial model, cached on disk
    from halbench import __version__
    from halbench.paths import cache_dir
    from reference_models.rlhfv import refcache

    meta = {
        "model_fingerprint": fingerprint,
        "data_checksum": data.checksum,
        "encode": enc_settings.as_dict(),
        "dtype": str(kwargs["dtype"]),
        "attn_implementation": cfg.attn_implementation or "default",
        "mixed_precision": _mixed_precision(cfg),
        "halbench_version": __version__,
    }
    ref_dir = Path(cfg.ref_cache_dir) if cfg.ref_cache_dir else cache_dir() / "ddpo-ref"
    ref_dir = ref_dir / refcache.cache_key(meta)
    device = accelerator.device
    model.to(device)

    def compute(lo: int, hi: int) -> tuple[list[list[float]], list[list[float]]]:
        model.eval()
        ch: list[list[float]] = []
        rj: list[list[float]] = []
        for b in range(lo, hi, cfg.ref_batch_size):
            idx = list(range(b, min(hi, b + cfg.ref_batch_size)))
            batch = encoder.collate([records[i] for i in idx], [pairs[i] for i in idx], 1.0)
            batch["model_inputs"] = {k: v.to(device) for k, v in batch["model_inputs"].items()}
            with torch.no_grad(), accelerator.autocast():
                lp = token_logps(model, batch).cpu()
            rows = [lp[k, f : f + n].tolist() for k, (f, n) in enumerate(batch["rows"])]
            ch += rows[: len(idx)]
            rj += rows[len(idx) :]
        return ch, rj

    stored = stored_reference(records, pairs, cfg.model_is_muffin)
    if isinstance(stored, tuple):
        ref_c, ref_r = stored
        ref_stats: dict[str, Any] = {"source": "stored in the data (Muffin's)"}
    else:
        ref_c, ref_r, ref_stats = refcache.load_or_compute(
            ref_dir,
            meta,
            pairs,
            compute,
            rank=rank,
            world=world,
            barrier=accelerator.wait_for_everyone,
            track=lambda x: progress.track(x, desc="reference log-probs", unit="shard"),
        )
        ref_stats["source"] = stored or "computed with the base model"

    # -- policy
    if cfg.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=cfg.lora_r,
                lora_alpha=cfg.lora_alpha,
                lora_dropout=cfg.lora_dropout,
                target_modules=cfg.lora_target_modules,
                bias="none",
            ),
        )
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    frozen_parts = freeze_parts(model, list(cfg.freeze))
    frozen: list[str] = []
    if str(accelerator.distributed_type).rsplit(".", 1)[-1] in ("FSDP", "DEEPSPEED"):
        from reference_models.rlhfv.unused import params_off_the_graph

        probe = encoder.collate(
            records[: cfg.per_device_batch_size], pairs[: cfg.per_device_batch_size], gamma
        )
        probe["model_inputs"] = {k: v.to(device) for k, v in probe["model_inputs"].items()}
        with accelerator.autocast():
            frozen = params_off_the_graph(model, lambda: token_logps(model, probe))
        for name, p in model.named_parameters():
            if name in frozen:
                p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=cfg.learning_rate,
        betas=(cfg.adam_beta1, cfg.adam_beta2),
        eps=cfg.adam_epsilon,
        weight_decay=cfg.weight_decay,
    )
    steps_per_epoch = len(records) // cfg.global_batch_size  # incomplete last batch dropped
    if steps_per_epoch == 0:
        raise HalbenchError(
            f"{len(records)} pairs are fewer than global_batch_size {cfg.global_batch_size}"
        )
    total = cfg.max_steps or steps_per_epoch * cfg.epochs
    warmup = int(math.ceil(cfg.warmup_ratio * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(cfg.lr_scheduler, warmup, total)
    )
    ds_plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if ds_plugin is not None:  # no dataloader is prepared: tell DeepSpeed the batch geometry
        ds_plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = cfg.per_device_batch_size
        ds_plugin.deepspeed_config["gradient_accumulation_steps"] = grad_acc
        ds_plugin.deepspeed_config["gradient_clipping"] = cfg.max_grad_norm or 0.0
    model, optimizer = accelerator.prepare(model, optimizer)

    # the scheduler (stepped by us, once per optimizer step) is saved as JSON, not registered with
    # accelerate (whose custom state is a pickle loaded with weights_only=False)
    resume = checkpoint.find_resume(cfg.resume_from, out, verbose=main)
    step = checkpoint.load(accelerator, resume, scheduler) if resume is not None else 0
    out.mkdir(parents=True, exist_ok=True)
    logger = JsonlLogger(out / "train_log.jsonl", step, main, cfg.tensorboard)
    if data.bad and main and step == 0:
        logger.log(
            {
                "step": 0,
                "event": "skipped_bad_records",
                "records": [dataclasses.asdict(b) for b in data.bad],
            }
        )

    def order(epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        return torch.randperm(len(records), generator=g).tolist()

    first_step = step
    if on_step is not None:
        on_step({"step": first_step, "event": "begin"})
    bar = progress.Bar(total - first_step, desc="DDPO", unit="step")
    for step in range(first_step, total):
        epoch, pos = divmod(step, steps_per_epoch)
        batch_idx = order(epoch)[pos * cfg.global_batch_size : (pos + 1) * cfg.global_batch_size]
        mine = batch_idx[rank::world]
        micros = [
            mine[k : k + cfg.per_device_batch_size]
            for k in range(0, len(mine), cfg.per_device_batch_size)
        ]
        sums = torch.zeros(len(_METRICS), dtype=torch.float64)
        lr = scheduler.get_last_lr()[0]
        for idx in micros:
            batch = encoder.collate([records[i] for i in idx], [pairs[i] for i in idx], gamma)
            batch["model_inputs"] = {k: v.to(device) for k, v in batch["model_inputs"].items()}
            ref = encoder.ref_tensor(batch, [ref_c[i] for i in idx] + [ref_r[i] for i in idx]).to(
                device
            )
            with accelerator.accumulate(model):
                with accelerator.autocast():
                    lp = token_logps(model, batch)
                    loss, metrics = ddpo_loss(
                        lp,
                        ref,
                        batch["weights"].to(device),
                        n_pairs=len(idx),
                        variant=cfg.loss,
                        beta=beta,
                        sft_weight=cfg.sft_weight,
                    )
                accelerator.backward(loss)  # accelerate divides by the accumulation steps
                if accelerator.sync_gradients and cfg.max_grad_norm is not None:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            metrics["loss"] = loss.item()
            sums += torch.tensor([metrics[k] for k in _METRICS], dtype=torch.float64)
        scheduler.step()
        sums = accelerator.reduce(sums.to(device), reduction="mean").cpu() / len(micros)
        row = {"step": step + 1, "epoch": epoch + (pos + 1) / steps_per_epoch, "lr": lr}
        row.update({k: float(sums[i]) for i, k in enumerate(_METRICS)})
        if on_step is not None:
            on_step(row)
        bar.update(
            1, loss=row["loss"], acc=row["rewards/accuracies"], margin=row["rewards/margins"], lr=lr
        )
        if (step + 1) % cfg.logging_steps == 0 or step + 1 == total:
            logger.log(row)
        if cfg.save_steps and (step + 1) % cfg.save_steps == 0 and step + 1 < total:
            checkpoint.save(accelerator, out, step + 1, scheduler, cfg.save_total_limit)
    bar.close()
    logger.close()

    # -- final checkpoint: model + processor, loadable by `halbench run --model`
    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    state = accelerator.get_state_dict(model)
    if main:
        if cfg.lora:  # merged from the gathered state: ZeRO-3's modules hold only shards
            save_lora_merged(unwrapped, state, out)
        else:
            unwrapped.config.use_cache = True
            unwrapped.save_pretrained(out, state_dict=state, safe_serialization=True)
        processor.save_pretrained(out)
        checkpoint.fix_modes(list(out.glob("*.safetensors")))  # written through mkstemp (0600)
        geometry = {
            "mixed_precision": _mixed_precision(cfg),
            "processes": world,
            "gradient_accumulation_steps": grad_acc,
            "steps": total,
            "distributed_type": distributed_name(accelerator),
            "frozen_unused_parameters": frozen,
        }
        write_record(
            cfg,
            out,
            data,
            fingerprint,
            beta,
            gamma,
            ref_dir,
            ref_stats,
            resume,
            command,
            time.perf_counter() - t_start,
            geometry,
            recipe={
                "image_preprocess": cfg.image_preprocess,
                "frozen_parts": frozen_parts,
                "data_filter": cfg.data_filter,
                "reference_logps": ref_stats["source"],
            },
        )
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return out
