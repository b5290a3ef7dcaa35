"""Muffin backend (``--backend muffin``): RLHF-V's released checkpoints and their SFT base.

Muffin (BEiT-3 + Vicuna-13B) does not load with transformers' auto classes. This runner drives
the Muffin package's own inference code, which the user installs as RLHF-V's README says
(https://github.com/RLHF-V/RLHF-V#install, which points to https://github.com/thunlp/muffin#install):

- ``muffin.eval.muffin_vqa.init_muffin(path)`` -> ``(model, image_transform, image_token_len,
  tokenizer)`` (loads the weights, adds the image patch tokens, the eval transform);
- ``wrap_question_with_default_conv(question, image_token_len)``: RLHF-V's eval prompt (the
  question, a line break, the image tokens, in Muffin's ``default`` conversation with ``\\n###``
  separators);
- ``KeywordsStoppingCriteria(["###"], tokenizer, input_len)``, and the answer is cut at the
  first ``###`` and stripped, as RLHF-V's answer files are.

One request at a time (RLHF-V's eval uses batch 1); images in float16 on the model's device.
Decoding settings come from halbench (``--num-beams``, ``--max-new-tokens`` ...): the
``released`` preset of ``halbench reproduce rlhfv`` sets RLHF-V's. Importing halbench never
imports Muffin; only constructing this runner does.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from typing import Any

from halbench.errors import HalbenchError
from halbench.runners.base import GenerationSettings, ModelInfo, Request
from halbench.runners.hf import check_model_reference, load_image, local_fingerprint

INSTALL = (
    "the 'muffin' backend needs the Muffin package (RLHF-V's inference code): install it as "
    "https://github.com/RLHF-V/RLHF-V#install says (https://github.com/thunlp/muffin#install); "
    "it needs a CUDA GPU"
)
STOP = "###"


def _muffin_vqa() -> Any:
    try:
        return importlib.import_module("muffin.eval.muffin_vqa")
    except ImportError as exc:
        if exc.name and not exc.name.startswith("muffin"):  # Muffin is there, its deps are not
            raise HalbenchError(f"{INSTALL}; importing it failed: {exc}") from None
        raise HalbenchError(INSTALL) from None


class MuffinRunner:
    def __init__(self, model: str, *, device: str | None = None, seed: int = 0) -> None:
        vqa = _muffin_vqa()
        local = check_model_reference(model)
        source = str(local) if local else model
        self._vqa = vqa
        self.model, self.transform, self.image_token_len, self.tokenizer = vqa.init_muffin(
            source, device=device
        )
        self.seed = seed
        if local:
            fingerprint, weights = local_fingerprint(local)
            details: dict[str, Any] = {"weights_sha256": weights}
        else:
            fingerprint, details = f"hub:{model}@unknown", {}
        details["muffin_version"] = getattr(importlib.import_module("muffin"), "__version__", None)
        self.info = ModelInfo(
            backend="muffin", model=model, fingerprint=fingerprint, details=details
        )
        self.failures: dict[str, str] = {}

    def _generate_one(self, req: Request, settings: GenerationSettings) -> str:
        import torch

        image = load_image(req.image)
        if image is None:
            raise HalbenchError("Muffin answers questions about an image; this item has none")
        prompt = self._vqa.wrap_question_with_default_conv(req.question, self.image_token_len)
        input_ids = torch.as_tensor([self.tokenizer(prompt)["input_ids"]])
        device = next(self.model.parameters()).device
        pixels = self.transform(image).unsqueeze(0).half().to(device)
        stop = self._vqa.KeywordsStoppingCriteria([STOP], self.tokenizer, input_ids.shape[1])
        sample = settings.temperature > 0
        kwargs: dict[str, Any] = {
            "input_ids": input_ids.to(device),
            "images": pixels,
            "max_new_tokens": settings.max_new_tokens,
            "num_beams": settings.num_beams,
            "do_sample": sample,
            "repetition_penalty": settings.repetition_penalty,
            "stopping_criteria": [stop],
        }
        if sample:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
        torch.manual_seed(settings.seed)
        with torch.inference_mode():
            out = self.model.generate(**kwargs)
        ids = out.sequences if hasattr(out, "sequences") else out
        text = self.tokenizer.decode(ids[0][input_ids.shape[1] :], skip_special_tokens=True)
        return text.split(STOP, 1)[0].strip()

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings, *, batch_size: int
    ) -> Iterator[tuple[str, str]]:
        from halbench import progress

        for req in progress.track(list(requests), desc="generate (muffin)", unit="item"):
            try:
                yield req.key, self._generate_one(req, settings)
            except HalbenchError as exc:
                self.failures[req.key] = str(exc)

    def close(self) -> None:
        self.model = None
