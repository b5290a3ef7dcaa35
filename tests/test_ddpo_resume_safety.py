"""DDPO resume safety: no pickled code runs from a checkpoint, incomplete checkpoints are skipped
(``latest``) or named (explicit), checkpoints are written atomically with the umask's mode."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from halbench.cli import main

PKG = Path(__file__).resolve().parents[1] / "reference_models" / "rlhfv"
TINY = PKG / "configs" / "tiny.yaml"

pytest.importorskip("accelerate")
torch = pytest.importorskip("torch")


def _train(out: Path, model: Path, cache: Path, *extra: str) -> int:
    args = [
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
        *extra,
    ]
    return main(args)


def _log(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tiny_model, tmp_path_factory):
    """An uninterrupted 24-step run saving checkpoints at steps 8 and 16."""
    base = tmp_path_factory.mktemp("ddpo-resume")
    assert _train(base / "full", tiny_model, base / "ref") == 0
    return base / "full", base


class Payload:
    """Unpickling this creates ``marker``: what a crafted checkpoint would do with os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(path: Path, marker: Path, form: str) -> None:
    if form == "raw-pickle":
        path.write_bytes(pickle.dumps(Payload(marker)))
    else:  # a torch.save zip, as accelerate writes, whose data.pkl carries the payload
        torch.save({"state": Payload(marker)}, path)
    assert not marker.exists()


def _fix_manifest(ck: Path) -> None:
    """Re-list the sizes, as an attacker rewriting trainer_state.json would: the refusal must
    come from what the files hold, not from the size check."""
    state_file = ck / "trainer_state.json"
    try:
        state = json.loads(state_file.read_text())
    except (ValueError, UnicodeDecodeError):
        return
    if isinstance(state, dict) and isinstance(state.get("files"), dict):
        state["files"] = {n: (ck / n).stat().st_size for n in state["files"] if (ck / n).exists()}
        state_file.write_text(json.dumps(state))


def _resume(capsys, out: Path, tiny_model: Path, cache: Path, resume: str) -> tuple[object, str]:
    capsys.readouterr()
    try:
        rc = _train(out, tiny_model, cache, "--resume-from", resume)
    except Exception as exc:  # a traceback: reported by the asserts, after the marker check
        rc = f"raised {exc!r}"
    return rc, capsys.readouterr().err


def test_payload_is_live(tmp_path):
    """The test payload really runs when unpickled unsafely (so its absence below means something)."""
    marker = tmp_path / "ran"
    _plant(tmp_path / "p.bin", marker, "torch-zip")
    torch.load(tmp_path / "p.bin", weights_only=False)
    assert marker.exists()


def test_checkpoint_layout_and_modes(run):
    out, _ = run
    cks = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert cks == ["step-16", "step-8"]  # no leftover temporary folder
    ck = out / "checkpoints" / "step-16"
    state = json.loads((ck / "trainer_state.json").read_text())
    assert state["kind"] == "halbench-ddpo-checkpoint/1" and state["step"] == 16
    assert state["scheduler"]["last_epoch"] == 16
    files = sorted(p.relative_to(ck).as_posix() for p in ck.rglob("*") if p.is_file())
    assert sorted(state["files"]) == [f for f in files if f != "trainer_state.json"]
    assert not any(f.startswith("custom_checkpoint") for f in files)  # the scheduler is JSON now
    assert all(state["files"][f] == (ck / f).stat().st_size for f in state["files"])
    umask = os.umask(0)
    os.umask(umask)
    want = 0o666 & ~umask
    written = [ck / f for f in files] + [out / "train_record.json", out / "train_log.jsonl"]
    assert {str(p): oct(p.stat().st_mode & 0o777) for p in written} == {
        str(p): oct(want) for p in written
    }


def _checkpoint_files(out: Path) -> list[str]:
    ck = out / "checkpoints" / "step-16"
    return sorted(p.relative_to(ck).as_posix() for p in ck.rglob("*") if p.is_file())


@pytest.mark.parametrize("form", ["raw-pickle", "torch-zip"])
def test_a_crafted_pickle_in_any_checkpoint_file_runs_nothing(
    form, run, tiny_model, tmp_path, capsys
):
    out, base = run
    # accelerate's pickled custom state (the reported attack) first; then every file there is
    names = ["custom_checkpoint_0.pkl", "scheduler.bin"]
    names += [n for n in _checkpoint_files(out) if n not in names]
    assert {
        "model.safetensors",
        "optimizer.bin",
        "random_states_0.pkl",
        "trainer_state.json",
    } <= set(names)
    for name in names:
        work = tmp_path / name.replace("/", "_")
        shutil.copytree(out, work)
        (work / "model.safetensors").unlink()
        ck = work / "checkpoints" / "step-16"
        marker = tmp_path / f"ran-{name.replace('/', '_')}"
        _plant(ck / name, marker, form)
        _fix_manifest(ck)
        rc, err = _resume(capsys, work, tiny_model, base / "ref", str(ck))
        assert not marker.exists(), name
        assert rc == 1, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("halbench: error:"), (name, err)
        assert "Traceback" not in err
        assert str(ck / name) in lines[0] or str(ck) in lines[0], (name, err)
        assert not (work / "model.safetensors").exists()  # nothing trained


def test_latest_refuses_a_crafted_newest_checkpoint_rather_than_skipping_it(
    run, tiny_model, tmp_path, capsys
):
    out, base = run
    work = tmp_path / "w"
    shutil.copytree(out, work)
    ck = work / "checkpoints" / "step-16"
    marker = tmp_path / "ran"
    _plant(ck / "optimizer.bin", marker, "torch-zip")  # complete-looking, but a foreign pickle
    _fix_manifest(ck)
    rc, err = _resume(capsys, work, tiny_model, base / "ref", "latest")
    assert rc == 1 and not marker.exists()
    assert err.strip() == err.strip().splitlines()[0]
    assert f"{ck / 'optimizer.bin'}: refused" in err and "io.open" in err


def test_every_torch_load_is_forced_to_weights_only(tmp_path):
    from halbench.errors import HalbenchError
    from reference_models.rlhfv.checkpoint import weights_only_torch_load

    marker = tmp_path / "ran"
    _plant(tmp_path / "custom_checkpoint_0.pkl", marker, "torch-zip")
    refused: list[str] = []
    with weights_only_torch_load(refused), pytest.raises(HalbenchError, match="refused"):
        # what accelerate's load_custom_state and DeepSpeed do
        torch.load(tmp_path / "custom_checkpoint_0.pkl", weights_only=False)
    assert not marker.exists() and len(refused) == 1
    with weights_only_torch_load([]):  # plain states still load
        torch.save({"a": torch.ones(2), "b": [1, 2.5, None]}, tmp_path / "ok.bin")
        assert torch.load(tmp_path / "ok.bin", weights_only=False)["b"] == [1, 2.5, None]
    assert torch.load is not None and torch.load.__name__ == "load"  # restored


def _truncate(ck: Path) -> None:
    p = ck / "model.safetensors"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _drop_state(ck: Path) -> None:
    (ck / "trainer_state.json").unlink()


def _killed_save(ck: Path) -> None:
    """A save of step 16 killed before it finished: only the temporary folder, half written."""
    tmp = ck.parent / ".incomplete-step-16"
    ck.rename(tmp)
    (tmp / "trainer_state.json").unlink()
    _truncate(tmp)


DAMAGE = {
    "truncated-safetensors": _truncate,
    "missing-state": _drop_state,
    "killed-save": _killed_save,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_latest_skips_an_incomplete_newest_checkpoint_and_matches_the_full_run(
    damage, run, tiny_model, tmp_path, capsys
):
    from safetensors.torch import load_file

    out, base = run
    work = tmp_path / "w"
    shutil.copytree(out, work)
    (work / "model.safetensors").unlink()
    ck = work / "checkpoints" / "step-16"
    DAMAGE[damage](ck)
    rc, err = _resume(capsys, work, tiny_model, base / "ref", "latest")
    assert rc == 0, err
    assert "note:" in err and ("step-16" in err)
    rec = json.loads((work / "train_record.json").read_text())
    assert rec["resumed_from"] == str(work / "checkpoints" / "step-8")
    a, b = load_file(out / "model.safetensors"), load_file(work / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _log(work) == _log(out)
    # step 16 was saved again, complete; the killed save's leftovers are gone
    assert sorted(p.name for p in (work / "checkpoints").iterdir()) == ["step-16", "step-8"]
    state = json.loads((ck / "trainer_state.json").read_text())
    assert state["step"] == 16
    assert (
        state["files"]
        == json.loads((out / "checkpoints" / "step-16" / "trainer_state.json").read_text())["files"]
    )


@pytest.mark.parametrize("damage", ["truncated-safetensors", "missing-state"])
def test_a_damaged_checkpoint_named_explicitly_is_a_one_line_error(
    damage, run, tiny_model, tmp_path, capsys
):
    out, base = run
    work = tmp_path / "w"
    shutil.copytree(out, work)
    ck = work / "checkpoints" / "step-16"
    DAMAGE[damage](ck)
    rc, err = _resume(capsys, work, tiny_model, base / "ref", str(ck))
    assert rc == 1 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    named = ck / ("model.safetensors" if damage == "truncated-safetensors" else "")
    assert line.startswith("halbench: error: cannot resume: ") and str(named).rstrip("/") in line


def test_latest_with_no_complete_checkpoint_is_an_error(run, tiny_model, tmp_path, capsys):
    out, base = run
    work = tmp_path / "w"
    shutil.copytree(out, work)
    for ck in (work / "checkpoints").glob("step-*"):
        _drop_state(ck)
    rc, err = _resume(capsys, work, tiny_model, base / "ref", "latest")
    assert rc == 1 and "none of the 2 checkpoint(s)" in err and "Traceback" not in err
