"""Reference log-probs, computed once with the frozen reference model and cached on disk.

Per pair and per completion token (chosen and rejected), float32, in safetensors shards
(never pickle) under ``<cache_dir>/<key>/shard-NNNNN.safetensors``. The key is a hash of the
reference model's fingerprint, the data checksum and the tokenization settings; gamma and
the diff settings are NOT part of it, because scores are re-weighted from the per-token
values at training time. Each shard stores the completion token ids and its metadata, and
is validated on load (a mismatch names the file, the row and the field). Shards are written
atomically one by one, so a killed precompute resumes; under several processes each rank
computes its own shards.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from halbench.errors import InputError
from reference_models.rlhfv.inputs import EncodedPair

FORMAT = "halbench-ddpo-ref-logps/1"


def cache_key(meta: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:20]


def _flat(seqs: Sequence[Sequence[float]], dtype: Any) -> tuple[Any, Any]:
    import torch

    offsets = [0]
    for s in seqs:
        offsets.append(offsets[-1] + len(s))
    flat = [x for s in seqs for x in s]
    return torch.tensor(flat, dtype=dtype), torch.tensor(offsets, dtype=torch.int64)


def _split(flat: Any, offsets: Any) -> list[list[float]]:
    o = offsets.tolist()
    return [flat[o[k] : o[k + 1]].tolist() for k in range(len(o) - 1)]


def write_shard(
    path: Path,
    meta: dict[str, Any],
    pairs: Sequence[EncodedPair],
    chosen: Sequence[Sequence[float]],
    rejected: Sequence[Sequence[float]],
) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {}
    for side, ids, vals in (
        ("chosen", [p.chosen_ids for p in pairs], chosen),
        ("rejected", [p.rejected_ids for p in pairs], rejected),
    ):
        tensors[f"{side}_ids"], tensors[f"{side}_offsets"] = _flat(ids, torch.int32)
        tensors[f"{side}_logps"], _ = _flat(vals, torch.float32)
    tmp = path.with_suffix(".tmp")
    save_file(
        tensors,
        str(tmp),
        metadata={"halbench": json.dumps({"format": FORMAT, **meta}, sort_keys=True)},
    )
    os.replace(tmp, path)


def read_shard(
    path: Path, meta: dict[str, Any], pairs: Sequence[EncodedPair], first_row: int
) -> tuple[list[list[float]], list[list[float]]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        stored = json.loads((f.metadata() or {}).get("halbench", "{}"))
        if stored.pop("format", None) != FORMAT:
            raise InputError(str(path), f"not a {FORMAT} file")
        for k in sorted(set(meta) | set(stored)):
            if stored.get(k) != meta.get(k):
                raise InputError(
                    str(path),
                    f"reference cache made with {k}={stored.get(k)!r}, now {meta.get(k)!r}",
                    field=k,
                )
        t = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    out = []
    for side in ("chosen", "rejected"):
        ids = _split(t[f"{side}_ids"], t[f"{side}_offsets"])
        if len(ids) != len(pairs):
            raise InputError(str(path), f"holds {len(ids)} rows, expected {len(pairs)}")
        for k, (got, pair) in enumerate(zip(ids, pairs, strict=True)):
            if got != getattr(pair, f"{side}_ids"):
                raise InputError(
                    str(path),
                    f"row {first_row + k}: cached {side} token ids differ from the data",
                    field=f"{side}_ids",
                )
        out.append(_split(t[f"{side}_logps"], t[f"{side}_offsets"]))
    return out[0], out[1]


def load_or_compute(
    directory: Path,
    meta: dict[str, Any],
    pairs: Sequence[EncodedPair],
    compute: Callable[[int, int], tuple[list[list[float]], list[list[float]]]],
    *,
    shard_size: int = 512,
    rank: int = 0,
    world: int = 1,
    barrier: Callable[[], None] = lambda: None,
    track: Callable[[Any], Any] = lambda x: x,
) -> tuple[list[list[float]], list[list[float]], dict[str, int]]:
    """Per-token reference log-probs for every pair; ``compute(lo, hi)`` fills missing shards."""
    directory.mkdir(parents=True, exist_ok=True)
    n_shards = max(1, -(-len(pairs) // shard_size))
    stats = {"shards": n_shards, "computed": 0, "reused": 0}
    mine = [s for s in range(n_shards) if s % world == rank]
    for s in track(mine):
        path = directory / f"shard-{s:05d}.safetensors"
        lo, hi = s * shard_size, min(len(pairs), (s + 1) * shard_size)
        if path.exists():
            read_shard(path, meta, pairs[lo:hi], lo)  # validates; raises on mismatch
            stats["reused"] += 1
            continue
        chosen, rejected = compute(lo, hi)
        write_shard(path, meta, pairs[lo:hi], chosen, rejected)
        stats["computed"] += 1
    barrier()
    all_c: list[list[float]] = []
    all_r: list[list[float]] = []
    for s in range(n_shards):
        lo, hi = s * shard_size, min(len(pairs), (s + 1) * shard_size)
        c, r = read_shard(directory / f"shard-{s:05d}.safetensors", meta, pairs[lo:hi], lo)
        all_c += c
        all_r += r
    if rank == 0:
        (directory / "meta.json").write_text(
            json.dumps({"format": FORMAT, **meta}, indent=1, sort_keys=True)
        )
    return all_c, all_r, stats
