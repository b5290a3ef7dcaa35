"""Data-parallel ``halbench run`` under ``accelerate launch`` or ``torchrun``.

Every rank loads the whole model (data parallel, not model parallel) and generates its
share of each benchmark's missing answers; rank 0 scores and writes the records.

- **Ranks** come from the environment the launchers set (``WORLD_SIZE``, ``RANK``,
  ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``). Without them (or with one process) the
  run is the plain one-process run and torch is not imported here.
- **Coordination** uses a gloo process group of our own (CPU sockets: it works on CPU-only
  machines and takes no GPU memory), so a rank that crashes makes the others fail at once
  ("connection closed") and a rank that hangs makes them fail after ``timeout_s`` with a
  message naming the wait, never hang forever.
- **Split**: rank 0 reads the store and broadcasts the ids still missing, in benchmark
  order; they are cut into batches of ``--batch-size`` exactly as one process would cut
  them, and batch ``b`` goes to rank ``b % world_size``. So each item is generated exactly
  once, and every batch holds the same prompts (the same padding) as in a one-process run.
- **Store**: SQLite's WAL needs every writer on one host (shared memory), which a multi-node
  run on a shared filesystem does not give. So rank 0 writes ``OUT/answers.sqlite`` and rank
  ``k > 0`` writes ``OUT/answers.rank<k>.sqlite`` (one writer per file, each answer committed
  at once); a rank closes its file before it reports back, and rank 0 then merges every
  ``answers.rank*.sqlite`` into the store and deletes it. Files left by a killed run are
  merged by the next run, whatever its number of processes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from halbench.errors import HalbenchError
from halbench.store import AnswerStore

T = TypeVar("T")

#: How long a rank waits for the others at a meeting point during generation (seconds).
DEFAULT_TIMEOUT_S = 1800.0
#: How long the other ranks wait for rank 0 to score (LLM judges can take hours).
SCORING_TIMEOUT_S = 24 * 3600.0

RANK_STORE_GLOB = "answers.rank*.sqlite"


def rank_store_path(out: Path, rank: int) -> Path:
    return out / f"answers.rank{rank}.sqlite"


def merge_rank_stores(store: AnswerStore, out: Path) -> int:
    """Move the answers of every ``OUT/answers.rank*.sqlite`` into ``store``; return how many."""
    moved = 0
    for path in sorted(out.glob(RANK_STORE_GLOB)):
        moved += store.merge(path)
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
    return moved


def shard(items: Sequence[T], batch_size: int, rank: int, world_size: int) -> list[T]:
    """Rank ``rank``'s items: batches of ``batch_size`` in order, batch ``b`` to rank ``b % world``."""
    mine: list[T] = []
    for b, start in enumerate(range(0, len(items), batch_size)):
        if b % world_size == rank:
            mine.extend(items[start : start + batch_size])
    return mine


def env_world() -> tuple[int, int, int]:
    """(rank, local rank, world size) from the launcher's environment; (0, 0, 1) without one."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise HalbenchError(
            "WORLD_SIZE, RANK and LOCAL_RANK must be integers (set by accelerate launch / torchrun)"
        ) from None
    if world < 1 or not 0 <= rank < world:
        raise HalbenchError(f"RANK={rank} is not within WORLD_SIZE={world}")
    return rank, local, world


class Ranks:
    """This process's place in a data-parallel run and the few collectives it needs."""

    def __init__(self, timeout_s: float | None = None) -> None:
        self.rank, self.local_rank, self.world_size = env_world()
        self.timeout_s = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
        self._dist: Any = None
        self._scoring_group: Any = None
        self._owns_group = False
        if self.world_size > 1:
            self._init()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def _init(self) -> None:
        try:
            import torch.distributed as dist
        except ImportError:
            raise HalbenchError(
                f"WORLD_SIZE={self.world_size}: a data-parallel run needs torch "
                "(pip install 'halbench[hf]')"
            ) from None
        if not dist.is_initialized():
            try:
                dist.init_process_group(
                    "gloo",
                    timeout=timedelta(seconds=self.timeout_s),
                    rank=self.rank,
                    world_size=self.world_size,
                )
            except (RuntimeError, ValueError) as exc:
                raise HalbenchError(
                    f"rank {self.rank}: cannot join the other {self.world_size - 1} processes "
                    f"(MASTER_ADDR/MASTER_PORT from the launcher): {_first_line(exc)}"
                ) from None
            self._owns_group = True
        self._dist = dist
        self._group = dist.new_group(backend="gloo", timeout=timedelta(seconds=self.timeout_s))
        self._scoring_group = dist.new_group(
            backend="gloo", timeout=timedelta(seconds=max(SCORING_TIMEOUT_S, self.timeout_s))
        )

    def device(self, requested: str | None) -> str | None:
        """This rank's device when CUDA is the choice: ``cuda:LOCAL_RANK`` (modulo the GPU count:
        more processes than GPUs share them)."""
        if not self.active or requested not in (None, "cuda"):
            return requested
        import torch

        if not torch.cuda.is_available():
            return requested
        return f"cuda:{self.local_rank % torch.cuda.device_count()}"

    def broadcast(self, obj: Any, what: str) -> Any:
        """Rank 0's ``obj`` on every rank."""
        box = [obj]
        self._collective(lambda: self._dist.broadcast_object_list(box, 0, group=self._group), what)
        return box[0]

    def all_gather(self, obj: Any, what: str) -> list[Any]:
        """Every rank's ``obj``, by rank, on every rank (also a barrier)."""
        box: list[Any] = [None] * self.world_size
        self._collective(lambda: self._dist.all_gather_object(box, obj, group=self._group), what)
        return box

    def wait_for_scoring(self, obj: Any) -> Any:
        """Rank 0's ``obj`` (its outcomes) on every rank, once rank 0 has scored and written."""
        box = [obj]
        self._collective(
            lambda: self._dist.broadcast_object_list(box, 0, group=self._scoring_group),
            "rank 0's scoring",
            SCORING_TIMEOUT_S,
        )
        return box[0]

    def _collective(self, call: Any, what: str, timeout_s: float | None = None) -> None:
        try:
            call()
        except RuntimeError as exc:
            self.close()
            waited = timeout_s or self.timeout_s
            reason = (
                f"another rank did not arrive within {waited:.0f} s (hung, or much slower)"
                if "timed out" in str(exc).lower() or "timeout" in str(exc).lower()
                else "another rank stopped (crashed or was killed)"
            )
            raise HalbenchError(
                f"rank {self.rank} of {self.world_size}: waiting for the other ranks at "
                f"{what}: {reason}; see the other ranks' messages. Answers stored so far "
                f"are kept: run the same command again to resume ({_first_line(exc)})"
            ) from None

    def close(self) -> None:
        if self._owns_group and self._dist is not None and self._dist.is_initialized():
            self._dist.destroy_process_group()
        self._owns_group = False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
