"""`halbench doctor`'s section on running models: torch's CUDA build and GPUs (with a
stand-in torch), optional packages with their fixes."""

from __future__ import annotations

import sys
import types

from halbench.cli import main


def test_doctor_reports_gpus_from_torch(monkeypatch):
    from halbench.doctor_models import model_lines, torch_lines

    props = types.SimpleNamespace(name="NVIDIA H200", total_memory=141 * 2**30)
    torch = types.SimpleNamespace(
        __version__="2.9.0+cu128",
        version=types.SimpleNamespace(cuda="12.8"),
        cuda=types.SimpleNamespace(
            is_available=lambda: True,
            device_count=lambda: 2,
            get_device_properties=lambda i: props,
        ),
    )
    lines = torch_lines(torch)
    assert lines[0] == "  [ok] torch 2.9.0+cu128 (CUDA 12.8 build)"
    assert lines[1:] == [
        "  [ok] cuda:0 NVIDIA H200, 141.0 GiB",
        "  [ok] cuda:1 NVIDIA H200, 141.0 GiB",
    ]
    torch.cuda.is_available = lambda: False
    assert "no GPU visible" in torch_lines(torch)[1]
    torch.version.cuda = None
    cpu = torch_lines(torch)
    assert "CPU build" in cpu[0] and "pip install --force-reinstall torch" in cpu[2]
    # a missing package names its fix
    import halbench.doctor_models as dm

    real = dm.version_of
    monkeypatch.setattr(dm, "version_of", lambda d: None if d == "vllm" else real(d))
    assert (
        "  [--] vllm: missing (vllm backend, GPU only); fix: pip install 'halbench[hf,vllm]'"
        in (model_lines())
    )
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr(dm, "find_spec", lambda name: None)
    assert "torch: missing" in dm.torch_lines()[0]


def test_doctor_command_shows_the_models_section(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "Models and optional packages" in out
    assert "[ok] torch " in out and "[ok] transformers " in out
