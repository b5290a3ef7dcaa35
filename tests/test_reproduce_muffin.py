"""The Muffin backend's glue, checked on CPU against a stand-in ``muffin`` package.

Muffin (RLHF-V's released models) needs its own package and a GPU. A fake
``muffin.eval.muffin_vqa`` with the functions the runner calls (``init_muffin``,
``wrap_question_with_default_conv``, ``KeywordsStoppingCriteria``) records what it is given:
that checks the prompt (RLHF-V's wrapper with the model's image token count), the image
(through Muffin's own transform, float16), the decoding settings, the ``###`` stop and cut,
the missing-image failure, and that answers flow into records. Not Muffin's model.
"""

from __future__ import annotations

import sys
import types

import pytest

from halbench.errors import HalbenchError
from halbench.run import RunConfig, run
from halbench.runners import BackendOptions, GenerationSettings, Request, make_runner


class _Fake:
    def __init__(self) -> None:
        self.init: list[tuple[str, object]] = []
        self.prompts: list[tuple[str, int]] = []
        self.generate_kwargs: list[dict] = []
        self.stops: list[tuple[list[str], int]] = []

    def install(self, monkeypatch) -> None:
        import torch

        fake = self
        root, ev, vqa = (
            types.ModuleType(n) for n in ("muffin", "muffin.eval", "muffin.eval.muffin_vqa")
        )
        root.__version__ = "0.0-fake"

        class Tokenizer:
            def __call__(self, text):
                return {"input_ids": [len(text) % 97, 5, 6]}

            def decode(self, ids, skip_special_tokens=True):
                assert skip_special_tokens and ids.tolist() == [7, 8]
                return " A red stop sign on a gray pole.###Human: and more"

        class Model(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(1))

            def generate(self, **kw):
                fake.generate_kwargs.append(kw)
                return torch.cat([kw["input_ids"], torch.tensor([[7, 8]])], dim=1)

        def init_muffin(path, device=None):
            fake.init.append((path, device))
            return Model(), lambda img: torch.zeros(3, 4, 4), 128, Tokenizer()

        def wrap(question, image_token_len):
            fake.prompts.append((question, image_token_len))
            return f"USER: {question} <im_patch>x{image_token_len}\n###"

        class KeywordsStoppingCriteria:
            def __init__(self, keywords, tokenizer, input_size):
                fake.stops.append((keywords, input_size))

        vqa.init_muffin = init_muffin
        vqa.wrap_question_with_default_conv = wrap
        vqa.KeywordsStoppingCriteria = KeywordsStoppingCriteria
        for name, mod in (("muffin", root), ("muffin.eval", ev), ("muffin.eval.muffin_vqa", vqa)):
            monkeypatch.setitem(sys.modules, name, mod)


def test_runner_builds_rlhfvs_prompt_and_cuts_at_the_stop(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    fake = _Fake()
    fake.install(monkeypatch)
    from halbench.registry import get_benchmark

    item = get_benchmark("demo").load_items()[0]
    runner = make_runner("Yirany/RLHF-V", "muffin", BackendOptions(device="cpu"))
    assert fake.init == [("Yirany/RLHF-V", "cpu")] and runner.info.backend == "muffin"
    settings = GenerationSettings(max_new_tokens=256, num_beams=3)
    reqs = [Request("a", item.question, item.image), Request("b", "no image", None)]
    out = dict(runner.generate(reqs, settings, batch_size=8))
    assert out == {"a": "A red stop sign on a gray pole."}
    assert "image" in runner.failures["b"]
    assert fake.prompts == [(item.question, 128)]
    kw = fake.generate_kwargs[0]
    assert (kw["num_beams"], kw["max_new_tokens"], kw["do_sample"]) == (3, 256, False)
    assert "temperature" not in kw and kw["images"].dtype.is_floating_point
    assert str(kw["images"].dtype) == "torch.float16" and tuple(kw["images"].shape) == (1, 3, 4, 4)
    assert fake.stops == [(["###"], 3)]


def test_run_records_the_muffin_backend(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    fake = _Fake()
    fake.install(monkeypatch)
    config = RunConfig(model="Yirany/RLHF-V", backend="muffin", benchmarks=["demo"], out=tmp_path)
    [outcome] = run(config)
    assert outcome.generated == 6 and outcome.record.model["backend"] == "muffin"
    assert outcome.record.n_items == 6 and outcome.record.n_unscored == 0


def test_missing_package_names_the_install_step(monkeypatch):
    monkeypatch.setitem(sys.modules, "muffin", None)
    monkeypatch.setitem(sys.modules, "muffin.eval", None)
    monkeypatch.setitem(sys.modules, "muffin.eval.muffin_vqa", None)
    with pytest.raises(HalbenchError, match="https://github.com/RLHF-V/RLHF-V#install"):
        make_runner("Yirany/RLHF-V", "muffin", BackendOptions())


def test_released_preset_end_to_end_with_the_stand_in(monkeypatch, tmp_path):
    """The released preset (no training) runs eval-base, eval-trained and report."""
    import yaml

    from reference_models.rlhfv.reproduce import ReproduceOptions, reproduce
    from reference_models.rlhfv.reproduce_plan import PRESETS_DIR

    pytest.importorskip("torch")
    fake = _Fake()
    fake.install(monkeypatch)
    raw = yaml.safe_load((PRESETS_DIR / "released.yaml").read_text())
    preset = tmp_path / "released-demo.yaml"
    preset.write_text(yaml.safe_dump({**raw, "benchmarks": ["demo"]}))
    result = reproduce(ReproduceOptions(str(preset), tmp_path / "out"))
    assert result.ran == ["eval-base", "eval-trained", "report"]
    assert [i[0] for i in fake.init] == ["Yirany/RLHF-V_v0_SFT", "openbmb/RLHF-V_v0"]
    assert {kw["num_beams"] for kw in fake.generate_kwargs} == {3}
    assert {kw["max_new_tokens"] for kw in fake.generate_kwargs} == {256}
    summary = result.summary
    assert (summary["base"], summary["trained"]) == ("Yirany/RLHF-V_v0_SFT", "openbmb/RLHF-V_v0")
    assert summary["train_record"] is None
    import json

    rec = json.loads((tmp_path / "out" / "records" / "trained" / "demo.json").read_text())
    link = rec["provenance"]["details"]["trained_from"]
    assert link["base_model"] == "Yirany/RLHF-V_v0_SFT" and link["train_record"] is None
    assert rec["model"]["backend"] == "muffin"
    assert (tmp_path / "out" / "leaderboard" / "index.html").exists()
    again = reproduce(ReproduceOptions(str(preset), tmp_path / "out"))
    assert again.skipped == ["eval-base", "eval-trained"]
