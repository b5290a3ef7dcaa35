"""Resumable DDPO checkpoints, written atomically and read without running pickled code.

Layout: ``<output_dir>/checkpoints/step-N/`` holds what ``accelerator.save_state`` writes (model
as safetensors; optimizer and RNG states as ``torch.save`` zip files; under FSDP/DeepSpeed their
own files) and ``trainer_state.json``: the step, the learning-rate scheduler's state (JSON, not
accelerate's pickled custom state) and a manifest of every file with its size, written last.
A checkpoint is written into ``checkpoints/.incomplete-step-N`` and renamed when complete.

Resuming reads only: JSON, safetensors (header checked against the file size) and torch zip
files loaded with ``weights_only=True`` (every ``torch.load`` that ``load_state`` makes, including
accelerate's and DeepSpeed's, is forced to it), after a static scan of each pickle for globals
outside torch's weights-only set and the numpy types of the RNG state. Anything else is refused
with a one-line :class:`HalbenchError` naming the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import struct
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError

STATE = "trainer_state.json"
KIND = "halbench-ddpo-checkpoint/1"
TMP_PREFIX = ".incomplete-step-"
_TORCH_SUFFIXES = (".bin", ".pkl", ".pt", ".pth")
# written by DeepSpeed's save_checkpoint, never read when resuming (accelerate passes the tag)
_NOT_READ = ("latest", "zero_to_fp32.py", "zero_to_torch.py")


def checkpoints_dir(out: Path) -> Path:
    return out / "checkpoints"


def _step_of(path: Path) -> int | None:
    name = path.name
    if not name.startswith("step-") or not name[5:].isdigit():
        return None
    return int(name[5:])


def _sorted_checkpoints(out: Path) -> list[Path]:
    root = checkpoints_dir(out)
    cks = [p for p in root.glob("step-*") if p.is_dir() and _step_of(p) is not None]
    return sorted(cks, key=lambda p: _step_of(p) or 0)


def write_text(path: Path, text: str) -> None:
    """Write and fsync ``text`` (mode from the umask, unlike mkstemp's 0600)."""
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def write_text_atomic(path: Path, text: str) -> None:
    """Atomic replace through ``.<name>.tmp`` in the same folder; the umask decides the mode."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write_text(tmp, text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def umask_mode() -> int:
    """The mode a plain ``open`` gives a new file (0o666 less the umask)."""
    with contextlib.suppress(OSError, ValueError):  # Linux: read it without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def fix_modes(paths: Iterator[Path] | list[Path]) -> None:
    """Give files that a library wrote through mkstemp (0600: safetensors) the umask's mode."""
    want = umask_mode()
    for p in paths:
        if p.is_file() and not p.is_symlink() and p.stat().st_mode & 0o777 == 0o600 != want:
            p.chmod(want)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _manifest(ck: Path) -> dict[str, int]:
    files = {}
    for p in sorted(ck.rglob("*")):
        if p.is_file() and p.name != STATE:
            with p.open("rb") as f:  # flush what every rank wrote before the rename
                os.fsync(f.fileno())
            fix_modes([p])
            files[p.relative_to(ck).as_posix()] = p.stat().st_size
    return files


def scheduler_state(scheduler: Any) -> dict[str, Any]:
    state = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    json.dumps(state)  # fails loudly if a scheduler ever holds something JSON cannot
    return state


def save(accelerator: Any, out: Path, step: int, scheduler: Any, limit: int | None) -> Path:
    """Write ``checkpoints/step-<step>`` atomically (all processes call this)."""
    root = checkpoints_dir(out)
    final, tmp = root / f"step-{step}", root / f"{TMP_PREFIX}{step}"
    if accelerator.is_main_process:
        if tmp.exists():  # left by a save that was killed
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        state = {
            "kind": KIND,
            "step": step,
            "scheduler": scheduler_state(scheduler),
            "files": _manifest(tmp),
        }
        write_text(tmp / STATE, json.dumps(state, indent=1) + "\n")
        _fsync_dir(tmp)
        if final.exists():  # a resumed run saving a step it had saved before
            old = root / f".replaced-step-{step}"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(root)
        if limit:
            for stale in _sorted_checkpoints(out)[:-limit]:
                shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


# -- reading ------------------------------------------------------------------------------------


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"{path}: truncated or not a safetensors file ({size} bytes)"
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            return (
                f"{path}: truncated or not a safetensors file (header length {n}, file size {size})"
            )
        try:
            header = json.loads(f.read(n))
            end = max(
                (v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0
            )
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return f"{path}: not a valid safetensors file (unreadable header)"
    if 8 + n + end != size:
        return f"{path}: truncated or damaged safetensors file ({size} bytes, its header describes {8 + n + end})"
    return None


def read_state(ck: Path) -> dict[str, Any]:
    """``trainer_state.json`` of a checkpoint, checked; a one-line error naming the file if not."""
    path = ck / STATE
    if not path.is_file():
        raise HalbenchError(f"{ck}: incomplete DDPO checkpoint (no {STATE})")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise HalbenchError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(state, dict) or "files" not in state or state.get("kind") != KIND:
        raise HalbenchError(
            f"{path}: written by an older halbench (no file manifest; its scheduler state was a pickle): it cannot be resumed safely, start the run again"
        )
    step, files, sched = state.get("step"), state.get("files"), state.get("scheduler")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise HalbenchError(f"{path}: field 'step' must be a non-negative integer")
    if not isinstance(files, dict) or not all(isinstance(v, int) for v in files.values()):
        raise HalbenchError(f"{path}: field 'files' must map file names to sizes")
    if not isinstance(sched, dict):
        raise HalbenchError(f"{path}: field 'scheduler' must be an object")
    return state


def problem(ck: Path) -> str | None:
    """Why ``ck`` is not a complete checkpoint (one line naming the file), or None."""
    try:
        state = read_state(ck)
    except HalbenchError as exc:
        return str(exc)
    for name, size in state["files"].items():
        p = ck / name
        if ck.resolve() not in p.resolve().parents:
            return f"{ck / STATE}: file {name!r} lies outside the checkpoint"
        if not p.is_file():
            return f"{p}: missing (listed in {STATE})"
        if p.stat().st_size != size:
            return f"{p}: truncated or changed ({p.stat().st_size} bytes, {STATE} says {size})"
        if p.suffix == ".safetensors" and (why := _safetensors_problem(p)):
            return why
        if p.suffix in _TORCH_SUFFIXES and not zipfile.is_zipfile(p):
            return f"{p}: not a complete torch zip file (truncated, or not written by torch.save)"
    return None


# DeepSpeed's ZeRO optimizer state pickles these plain-data classes (checked with DeepSpeed
# 0.19.8, ZeRO-2 and ZeRO-3): allowed only when DeepSpeed is already loaded, i.e. a DeepSpeed run
_DEEPSPEED_GLOBALS = (
    ("deepspeed.runtime.fp16.loss_scaler", "LossScaler"),
    ("deepspeed.runtime.fp16.loss_scaler", "DynamicLossScaler"),
    ("deepspeed.runtime.zero.config", "ZeroStageEnum"),
    ("deepspeed.utils.tensor_fragment", "fragment_address"),
)


def allowed_globals() -> list[Any]:
    """Globals a weights-only load may reconstruct beyond torch's own set: numpy's, for the RNG
    state (accelerate's list), and DeepSpeed's few state classes in a DeepSpeed run."""
    import importlib

    from accelerate.utils.other import TORCH_SAFE_GLOBALS

    allowed = list(TORCH_SAFE_GLOBALS)
    if "deepspeed" in sys.modules:
        for module, name in _DEEPSPEED_GLOBALS:
            with contextlib.suppress(ImportError, AttributeError):
                allowed.append(getattr(importlib.import_module(module), name))
    return allowed


def check_safe(ck: Path) -> None:
    """Refuse any file the resume could read that is not JSON, safetensors or a torch zip whose
    pickle names only allowed globals (a static scan: nothing is unpickled here)."""
    import torch

    for p in sorted(ck.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(ck).as_posix()
        if p.suffix in (".json", ".safetensors") or rel in _NOT_READ:
            continue
        if p.suffix not in _TORCH_SUFFIXES:
            raise HalbenchError(
                f"{p}: unexpected file in a DDPO checkpoint (resuming reads only JSON, safetensors and weights-only torch files)"
            )
        with torch.serialization.safe_globals(allowed_globals()):
            try:
                unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(p))
            except Exception as exc:  # not a zip, no data.pkl, an undecodable pickle
                raise HalbenchError(
                    f"{p}: refused: not a torch zip file that loads with weights_only=True ({_line(exc)})"
                ) from None
        if unsafe:
            raise HalbenchError(
                f"{p}: refused: the pickle names {', '.join(sorted(unsafe))}, outside what a weights-only load allows (a crafted or foreign file?)"
            )


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@contextlib.contextmanager
def weights_only_torch_load(refused: list[str]) -> Iterator[None]:
    """Force ``weights_only=True`` on every ``torch.load`` inside (accelerate's custom state and
    DeepSpeed pass ``weights_only=False``); refusals are collected, since accelerate swallows
    errors loading the RNG state."""
    import torch

    original = torch.load

    def guarded(f: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["weights_only"] = True
        try:
            with torch.serialization.safe_globals(allowed_globals()):
                return original(f, *args, **kwargs)
        except pickle.UnpicklingError as exc:
            msg = f"{f}: refused by the weights-only loader ({_line(exc)})"
            refused.append(msg)
            raise HalbenchError(msg) from None

    torch.load = guarded
    try:
        yield
    finally:
        torch.load = original


def find_resume(resume_from: str | None, out: Path, *, verbose: bool) -> Path | None:
    """The checkpoint to resume from: an explicit directory (must be complete), or for
    ``latest`` the newest complete one under ``out/checkpoints`` (incomplete ones are skipped
    with a note; None when there is none at all)."""
    if not resume_from:
        return None
    if resume_from != "latest":
        ck = Path(resume_from)
        if not ck.is_dir():
            raise HalbenchError(f"{ck}: no such checkpoint directory")
        if why := problem(ck):
            raise HalbenchError(f"cannot resume: {why}")
        return ck
    notes = [
        f"{p}: left by an interrupted save, ignored"
        for p in sorted(checkpoints_dir(out).glob(f"{TMP_PREFIX}*"))
    ]
    found = None
    candidates = _sorted_checkpoints(out)
    for ck in reversed(candidates):
        why = problem(ck)
        if why is None:
            found = ck
            break
        notes.append(f"skipping incomplete checkpoint: {why}")
    if verbose:
        for n in notes:
            print(f"halbench: note: {n}", file=sys.stderr)
    if candidates and found is None:
        raise HalbenchError(
            f"--resume-from latest: none of the {len(candidates)} checkpoint(s) under {checkpoints_dir(out)} is complete (newest: {problem(candidates[-1])})"
        )
    return found


def load(accelerator: Any, ck: Path, scheduler: Any) -> int:
    """Restore model, optimizer, RNG (accelerate) and scheduler (JSON) state; return the step."""
    state = read_state(ck)
    check_safe(ck)
    fresh = scheduler_state(scheduler)
    sched = state["scheduler"]
    if set(sched) != set(fresh) or not all(_plain(v) for v in sched.values()):
        raise HalbenchError(
            f"{ck / STATE}: field 'scheduler' does not match this run's scheduler (keys {sorted(fresh)})"
        )
    refused: list[str] = []
    with weights_only_torch_load(refused):
        try:
            accelerator.load_state(str(ck))
        except HalbenchError:
            raise
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise HalbenchError(
                f"{ck}: cannot resume from this checkpoint ({_line(exc)})"
            ) from None
    if refused:  # e.g. the RNG state, whose errors accelerate only logs
        raise HalbenchError(refused[0])
    scheduler.load_state_dict({**sched, "lr_lambdas": [None] * len(scheduler.lr_lambdas)})
    return state["step"]


def _plain(v: Any) -> bool:
    if isinstance(v, list):
        return all(isinstance(x, (int, float)) for x in v)
    return v is None or isinstance(v, (bool, int, float))
