"""The vLLM backend's glue, checked on CPU against a stand-in ``vllm`` module.

vLLM itself needs a GPU (``test_run.py::test_vllm_backend_on_gpu`` runs it where one is
lent). Here a fake ``vllm`` module with vLLM's offline API (``LLM(**engine_args)``,
``LLM.generate(prompts, SamplingParams, use_tqdm=...)`` returning ``outputs[0].text``)
generates with the tiny transformers model from exactly the prompt text and image the
runner hands over. That checks what halbench controls: the prompt it builds (it must be
the hf backend's), the image it passes as ``multi_modal_data``, how decoding settings map
to ``SamplingParams``, the engine arguments, and that answers flow into the store and the
records. It does not check vLLM's kernels.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from halbench.errors import HalbenchError
from halbench.run import RunConfig, run
from halbench.runners import BackendOptions, GenerationSettings, Request

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class _FakeVLLM:
    """Records every engine and call; answers by greedy generation with transformers."""

    def __init__(self) -> None:
        self.engines: list[dict] = []
        self.calls: list[tuple[list[dict], dict]] = []

    def module(self) -> types.ModuleType:
        fake = self
        mod = types.ModuleType("vllm")
        mod.__version__ = "0.0-fake"

        class SamplingParams:
            def __init__(self, **kw):
                self.kw = kw

        class LLM:
            def __init__(self, **engine_args):
                import torch
                from transformers import AutoModelForImageTextToText, AutoProcessor

                fake.engines.append(engine_args)
                self.processor = AutoProcessor.from_pretrained(engine_args["model"])
                self.model = AutoModelForImageTextToText.from_pretrained(
                    engine_args["model"], dtype=torch.float32
                ).eval()

            def generate(self, prompts, params, use_tqdm=True):
                import torch

                fake.calls.append((prompts, params.kw))
                assert params.kw["temperature"] == 0.0  # greedy, as the hf default
                outs = []
                for p in prompts:
                    image = p.get("multi_modal_data", {}).get("image")
                    kw = {"text": [p["prompt"]], "return_tensors": "pt"}
                    if image is not None:
                        kw["images"] = [image]
                    inputs = self.processor(**kw)
                    with torch.inference_mode():
                        ids = self.model.generate(
                            **inputs,
                            max_new_tokens=params.kw["max_tokens"],
                            do_sample=False,
                            temperature=None,
                            top_p=None,
                            top_k=None,
                        )
                    new = ids[:, inputs["input_ids"].shape[1] :]
                    text = self.processor.batch_decode(new, skip_special_tokens=True)[0]
                    completion = types.SimpleNamespace(text=" " + text + " ")
                    outs.append(types.SimpleNamespace(outputs=[completion]))
                return outs

        mod.SamplingParams = SamplingParams
        mod.LLM = LLM
        return mod


@pytest.fixture
def fake_vllm(monkeypatch):
    fake = _FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake.module())
    return fake


def test_vllm_backend_matches_hf_backend(tiny_model, tmp_path, fake_vllm):
    opts = BackendOptions(tensor_parallel_size=2, max_model_len=1024, seed=7)
    (v,) = run(
        RunConfig(
            model=str(tiny_model),
            backend="vllm",
            benchmarks=["demo"],
            out=tmp_path / "v",
            backend_options=opts,
        )
    )
    (h,) = run(
        RunConfig(model=str(tiny_model), backend="hf", benchmarks=["demo"], out=tmp_path / "h")
    )
    # same prompts, same images, greedy: the same answers, stripped like the hf backend's
    assert [i["answer"] for i in v.record.items] == [i["answer"] for i in h.record.items]
    assert v.record.metrics == h.record.metrics
    assert v.record.n_scored == 6
    assert v.record.model["backend"] == "vllm"
    assert v.record.model["fingerprint"] == h.record.model["fingerprint"]  # same checkpoint files

    (engine,) = fake_vllm.engines
    assert engine["model"] == str(tiny_model)
    assert engine["tensor_parallel_size"] == 2
    assert engine["max_model_len"] == 1024
    assert engine["trust_remote_code"] is False
    assert engine["limit_mm_per_prompt"] == {"image": 1}
    prompts = [p for batch, _ in fake_vllm.calls for p in batch]
    assert len(prompts) == 6
    assert all(p["prompt"].startswith("USER: <image>\n") for p in prompts)
    assert all(p["prompt"].endswith("\nASSISTANT:") for p in prompts)
    assert all(p["multi_modal_data"]["image"].mode == "RGB" for p in prompts)
    _, params = fake_vllm.calls[0]
    assert params["max_tokens"] == h.record.model["generation"]["max_new_tokens"]


def test_vllm_store_reuse_and_settings_key(tiny_model, tmp_path, fake_vllm):
    out = tmp_path / "v"
    cfg = RunConfig(model=str(tiny_model), backend="vllm", benchmarks=["demo"], out=out)
    (first,) = run(cfg)
    (again,) = run(cfg)
    assert first.generated == 6 and again.generated == 0 and again.reused == 6
    assert len(fake_vllm.calls) == 1  # the second run asked the engine for nothing


def test_vllm_runner_refuses_beam_search(tiny_model, fake_vllm):
    from halbench.runners.vllm import VLLMRunner

    runner = VLLMRunner(str(tiny_model))
    img = Path(__file__).resolve().parents[1] / "benchmarks/demo/images/clock.png"
    with pytest.raises(HalbenchError, match="beam search"):
        list(
            runner.generate(
                [Request("a", "Hi", img)], GenerationSettings(num_beams=3), batch_size=1
            )
        )


def test_vllm_missing_names_the_extra(monkeypatch, tiny_model):
    from halbench.runners.vllm import VLLMRunner

    monkeypatch.setitem(sys.modules, "vllm", None)  # import fails as if not installed
    with pytest.raises(HalbenchError, match=r"halbench\[vllm\]"):
        VLLMRunner(str(tiny_model))
