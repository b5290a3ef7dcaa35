"""Recipe options that bring DDPO training closer to the published recipes.

* ``freeze_parts``: ``freeze: [vision_tower, projector]`` (RLAIF-V's recipe trains the language
  model only): the parameters under those modules get ``requires_grad=False``, so they get no
  gradient, and the trainer builds AdamW over trainable parameters only (no optimizer state).
* ``stored_reference``: the paper's TSV carries Muffin's reference log-probs; they are used only
  for a model declared Muffin (``model_is_muffin``), otherwise recomputed; either way the
  choice is written to train_record.json.
"""

from __future__ import annotations

from typing import Any

from halbench.errors import HalbenchError

# parameter-name fragments per part: LLaVA (transformers >= 4.52 and older), Qwen-VL, Idefics
PARTS: dict[str, tuple[str, ...]] = {
    "vision_tower": ("vision_tower.", "visual.", "vision_model."),
    "projector": ("multi_modal_projector.", "mm_projector.", "visual.merger.", "connector."),
}


def freeze_parts(model: Any, parts: list[str]) -> dict[str, int]:
    """Freeze the named parts; the number of parameter tensors frozen per part (an error when a
    part matches nothing, so a typo or an unknown architecture cannot train everything)."""
    counts = {}
    for part in parts:
        frags = PARTS[part]
        n = 0
        for name, p in model.named_parameters():
            if any(f in name for f in frags):
                p.requires_grad_(False)
                n += 1
        if n == 0:
            raise HalbenchError(
                f"freeze: no parameter of this model belongs to {part!r} (looked for names containing {', '.join(frags)})"
            )
        counts[part] = n
    return counts


def stored_reference(
    records: list[Any], pairs: list[Any], is_muffin: bool
) -> tuple[list[list[float]], list[list[float]]] | None | str:
    """Muffin's stored per-token log-probs aligned to the completions, when the model is declared
    Muffin and every pair has them; a note (str) when they exist but are not used; None when
    there are none. Muffin's per-token list covers the whole sequence after its first token, so
    the completion's values are its last ``len(completion)`` entries."""
    have = [r.meta.get("stored_logps") for r in records]
    if not any(have):
        return None
    if not is_muffin:
        return "recomputed: the data's stored log-probs are Muffin's and the model is not declared Muffin (model_is_muffin: false)"
    if not all(have):
        missing = sum(1 for h in have if not h)
        raise HalbenchError(
            f"model_is_muffin: {missing} pair(s) have no stored log-probs: recompute them all (model_is_muffin: false)"
        )
    ch: list[list[float]] = []
    rj: list[list[float]] = []
    for rec, pair, stored in zip(records, pairs, have, strict=True):
        for side, out in (("chosen", ch), ("rejected", rj)):
            vals = stored[side]["per_token"]
            n = len(getattr(pair, f"{side}_ids"))
            if len(vals) < n:
                raise HalbenchError(
                    f"pair {rec.id}: {len(vals)} stored {side} log-probs for {n} completion tokens: the tokenizer is not Muffin's (set model_is_muffin: false to recompute)"
                )
            out.append([float(v) for v in vals[len(vals) - n :]])
    return ch, rj


def merge_lora_state(state: dict[str, Any], peft_model: Any) -> dict[str, Any]:
    """The merged plain-model state dict from a PEFT model's full (gathered) state dict: for each
    LoRA layer W + scaling * (B @ A) (computed in float32, stored in W's dtype), keys renamed to
    the base model's (no ``base_model.model.`` prefix, no ``.base_layer``), adapter tensors
    dropped. Under ZeRO-3 the modules' own tensors are partitioned on every rank, so PEFT's
    ``merge_and_unload`` (which merges the modules' tensors) cannot be used; the state dict that
    ``accelerator.get_state_dict`` gathers is whole."""
    import torch

    scaling: dict[str, float] = {}
    for name, mod in peft_model.named_modules():
        adapters = getattr(mod, "lora_A", None)
        if adapters is not None and hasattr(adapters, "keys") and "default" in adapters:
            if getattr(mod, "fan_in_fan_out", False) or getattr(mod, "use_dora", {}).get(
                "default", False
            ):
                raise HalbenchError(f"{name}: only plain LoRA linear layers can be merged here")
            scaling[name] = float(mod.scaling["default"])
    merged: dict[str, Any] = {}
    for key, value in state.items():
        if ".lora_" in key:
            continue
        if key.endswith(".base_layer.weight") and key[: -len(".base_layer.weight")] in scaling:
            mod = key[: -len(".base_layer.weight")]
            a = state[f"{mod}.lora_A.default.weight"].to(torch.float32)
            b = state[f"{mod}.lora_B.default.weight"].to(torch.float32)
            value = (value.to(torch.float32) + scaling[mod] * (b @ a)).to(value.dtype)
        merged[key.removeprefix("base_model.model.").replace(".base_layer.", ".")] = value
    return merged


def save_lora_merged(peft_model: Any, state: dict[str, Any], out: Any) -> None:
    """Save the merged checkpoint from the gathered state dict (every backend: one code path, the
    one ZeRO-3 needs, tested against PEFT's ``merge_and_unload`` on one process)."""
    base = peft_model.get_base_model()
    base.config.use_cache = True
    base.save_pretrained(
        out, state_dict=merge_lora_state(state, peft_model), safe_serialization=True
    )
