"""Hugging Face transformers backend: any ``AutoModelForImageTextToText`` checkpoint.

Needs the ``[hf]`` extra (torch, transformers, pillow). Prompts come from the
processor's chat template (``adapters.py``); batches are left-padded; decoding is
greedy by default; the device is CUDA, then Apple MPS, then CPU, with bfloat16 on a
GPU that supports it and float32 on CPU. ``--device`` is checked before anything is
read (a torch without CUDA says so in one line); ``--device-map`` spreads a model over
several GPUs (accelerate); ``--model-args`` are checked ``from_pretrained`` options
(``model_args.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError
from halbench.io import file_sha256
from halbench.progress import is_enabled, track
from halbench.runners.adapters import adapter_for
from halbench.runners.base import GenerationSettings, ModelInfo, Request
from halbench.runners.model_args import from_pretrained_kwargs

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def require_hf() -> Any:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise HalbenchError(
            f"the 'hf' backend needs torch and transformers ({exc.name} is missing): "
            "pip install 'halbench[hf]'"
        ) from None
    return torch, transformers


def local_fingerprint(directory: Path) -> tuple[str, dict[str, str]]:
    """sha256 over every file of a checkpoint directory (names and contents, memoised)."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    digests = {p.name: file_sha256(p) for p in files}
    h = hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()
    weights = {k: v for k, v in digests.items() if k.endswith(_WEIGHT_SUFFIXES)}
    return h, weights


def pick_device(torch: Any, requested: str | None) -> str:
    if requested:
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(torch: Any, device: str, requested: str | None) -> Any:
    if requested:
        try:
            return getattr(torch, requested)
        except AttributeError:
            raise HalbenchError(
                f"unknown --dtype {requested!r} (try float32, bfloat16, float16)"
            ) from None
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def load_image(path: Path | None) -> Any:
    if path is None:
        return None
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise HalbenchError(f"{path}: cannot read image: {exc}") from None


IMAGE_PREPROCESS = ("processor", "pad-square")


def pad_to_square(image: Any, processor: Any) -> Any:
    """LLaVA-1.5's ``expand2square``: centre the image on a square of the processor's mean
    colour (so a centre crop to a square removes nothing); a square image is returned as is."""
    from PIL import Image

    width, height = image.size
    if width == height:
        return image
    ip = getattr(processor, "image_processor", processor)
    mean = getattr(ip, "image_mean", None) or (0.0, 0.0, 0.0)
    colour = tuple(int(x * 255) for x in mean)
    side = max(width, height)
    out = Image.new(image.mode, (side, side), colour)
    out.paste(image, ((side - width) // 2, (side - height) // 2))
    return out


def check_model_reference(model: str) -> Path | None:
    """A local directory, or None for a hub id; a path that does not exist is an error."""
    p = Path(model).expanduser()
    if p.exists():
        if not p.is_dir():
            raise HalbenchError(
                f"{model}: is a file; --model needs a checkpoint directory or a hub id"
            )
        if not (p / "config.json").exists():
            raise HalbenchError(f"{model}: no config.json: not a Hugging Face checkpoint directory")
        return p
    looks_local = model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model
    if looks_local:
        raise HalbenchError(f"{model}: model directory does not exist")
    return None


def check_device(torch: Any, requested: str | None) -> None:
    """A ``--device`` this torch cannot use fails here, in one line (before any loading)."""
    if not requested:
        return
    kind, _, index = requested.partition(":")
    if kind == "cuda":
        if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
            raise HalbenchError(
                f"--device {requested}: this torch ({torch.__version__}) is built without CUDA; "
                "install a CUDA build (pip install --force-reinstall torch, from the default "
                "index: README, 'Install on a GPU machine')"
            )
        if not torch.cuda.is_available():
            raise HalbenchError(
                f"--device {requested}: torch {torch.__version__} (CUDA {torch.version.cuda}) "
                "sees no GPU: check the driver (nvidia-smi) and CUDA_VISIBLE_DEVICES"
            )
        count = torch.cuda.device_count()
        if index and (not index.isdigit() or int(index) >= count):
            raise HalbenchError(f"--device {requested}: there are {count} CUDA device(s)")
    elif kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise HalbenchError(f"--device {requested}: Apple MPS is not available here")


DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")


class HFRunner:
    """Generate with transformers.

    ``__init__`` reads the config and checks everything (device, options, model type) and
    sets ``info``; ``load()`` loads the weights (``load=True``, the default, does it at
    once). ``halbench run`` loads only when some answer is not in the store.
    """

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        device_map: str | None = None,
        model_args: dict[str, Any] | None = None,
        load: bool = True,
        image_preprocess: str = "processor",
    ) -> None:
        if image_preprocess not in IMAGE_PREPROCESS:
            raise HalbenchError(
                f"unknown --image-preprocess {image_preprocess!r} (try {', '.join(IMAGE_PREPROCESS)})"
            )
        self.image_preprocess = image_preprocess
        torch, transformers = require_hf()
        from transformers import AutoConfig, AutoModelForImageTextToText

        if not is_enabled():
            transformers.utils.logging.disable_progress_bar()
        model_args = dict(model_args or {})
        check_device(torch, device)
        if device_map is not None:
            if device_map not in DEVICE_MAPS:
                raise HalbenchError(
                    f"--device-map {device_map!r}: choose one of {', '.join(DEVICE_MAPS)}"
                )
            if device:
                raise HalbenchError("give --device or --device-map, not both")
        if model_args.get("revision") and revision and model_args["revision"] != revision:
            raise HalbenchError("--revision and --model-args revision=... differ: give one")
        if model_args.get("dtype") and dtype:
            raise HalbenchError("--dtype and --model-args dtype=... both given: give one")
        revision = revision or model_args.get("revision")
        dtype = dtype or model_args.get("dtype")
        local = check_model_reference(model)
        source = str(local) if local else model
        kw: dict[str, Any] = {"trust_remote_code": trust_remote_code}
        if revision:
            kw["revision"] = revision
        try:
            config = AutoConfig.from_pretrained(source, **kw)
        except ValueError as exc:
            if "trust_remote_code" in str(exc) or "custom code" in str(exc):
                raise HalbenchError(
                    f"{model}: this checkpoint needs its own code from the model repository; "
                    "re-run with --trust-remote-code if you trust it"
                ) from None
            raise HalbenchError(f"{model}: cannot read the model config: {exc}") from None
        except OSError as exc:
            first = (str(exc).strip().splitlines() or ["?"])[0]
            raise HalbenchError(
                f"{model}: not a local directory, and not loadable from the hub: {first}"
            ) from None
        mapping = AutoModelForImageTextToText._model_mapping  # noqa: SLF001 - public classes, private map
        if not trust_remote_code and type(config) not in mapping:
            raise HalbenchError(
                f"{model}: model type '{config.model_type}' is not an image-text-to-text model "
                "(AutoModelForImageTextToText cannot load it)"
            )
        self.device = pick_device(torch, device)
        self.dtype: Any = "auto" if dtype == "auto" else pick_dtype(torch, self.device, dtype)
        self.device_map = device_map
        self.adapter = adapter_for(config.model_type)
        self._torch = torch
        self._source, self._kw = source, kw
        self._model_args = model_args
        if local:
            fingerprint, weights = local_fingerprint(local)
            details: dict[str, Any] = {"weights_sha256": weights}
        else:
            commit = getattr(config, "_commit_hash", None) or revision or "unknown"
            fingerprint = f"hub:{model}@{commit}"
            details = {"hub_revision": commit}
        if model_args:  # they can change the answers: part of the store key
            fingerprint += (
                "+args:"
                + hashlib.sha256(json.dumps(model_args, sort_keys=True).encode()).hexdigest()[:12]
            )
        if image_preprocess != "processor":  # part of the answer store's key
            fingerprint += f"+image_preprocess={image_preprocess}"
        details.update(
            image_preprocess=image_preprocess,
            model_type=config.model_type,
            device=self.device,
            dtype=str(self.dtype).removeprefix("torch."),
            adapter=self.adapter.name,
            trust_remote_code=trust_remote_code,
            transformers=transformers.__version__,
            torch=torch.__version__,
        )
        if device_map:
            details["device_map"] = device_map
        if model_args:
            details["model_args"] = model_args
        self.info = ModelInfo(backend="hf", model=model, fingerprint=fingerprint, details=details)
        self.failures: dict[str, str] = {}
        self.model: Any = None
        if load:
            self.load()

    def load(self) -> None:
        """Load the processor and the weights (errors name the model)."""
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if self.model is not None:
            return
        load_kw = from_pretrained_kwargs(self._model_args, self._torch)
        kw = dict(self._kw)
        if self.device_map:
            try:
                import accelerate  # noqa: F401
            except ImportError:
                raise HalbenchError(
                    "--device-map needs accelerate: pip install 'halbench[hf]'"
                ) from None
            kw["device_map"] = self.device_map
        elif "quantization_config" in load_kw:  # quantized weights cannot be moved with .to()
            kw["device_map"] = {"": self.device}
        try:
            self.processor = AutoProcessor.from_pretrained(self._source, **self._kw)
            net = AutoModelForImageTextToText.from_pretrained(
                self._source, dtype=self.dtype, **kw, **load_kw
            )
        except (ValueError, ImportError) as exc:
            raise HalbenchError(f"{self.info.model}: cannot load: {exc}") from None
        placed = bool(self.device_map) or "quantization_config" in load_kw
        if not placed:
            net = net.to(self.device)
        self.model = net.eval()
        if placed:
            self.device = str(self.model.device)  # inputs go where the first layers are
        if self.dtype == "auto":
            self.dtype = self.model.dtype
        tok = getattr(self.processor, "tokenizer", None)
        if tok is not None:
            tok.padding_side = "left"
            if tok.pad_token is None and tok.eos_token is not None:
                tok.pad_token = tok.eos_token

    def generate(
        self, requests: Sequence[Request], settings: GenerationSettings, *, batch_size: int
    ) -> Iterator[tuple[str, str]]:
        torch = self._torch
        torch.manual_seed(settings.seed)
        kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "num_beams": settings.num_beams,
            "repetition_penalty": settings.repetition_penalty,
        }
        if settings.temperature > 0:
            kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        batches = [requests[i : i + batch_size] for i in range(0, len(requests), batch_size)]
        for batch in track(batches, total=len(batches), desc="generating", unit="batch"):
            images = [load_image(r.image) for r in batch]
            if self.image_preprocess == "pad-square":
                images = [im if im is None else pad_to_square(im, self.processor) for im in images]
            inputs = self.adapter.inputs(self.processor, [r.question for r in batch], images)
            inputs = inputs.to(self.device)
            if "pixel_values" in inputs and self.dtype != torch.float32:
                inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
            with torch.inference_mode():
                out = self.model.generate(**inputs, **kwargs)
            texts = self.adapter.decode(self.processor, out, inputs["input_ids"].shape[1])
            yield from zip([r.key for r in batch], texts, strict=True)

    def close(self) -> None:
        self.model = None
