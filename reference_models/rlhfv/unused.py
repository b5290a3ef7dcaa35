"""Parameters that can never receive a gradient from the DDPO loss (found from the autograd graph).

LLaVA-style models read image features from an inner vision layer (``vision_feature_layer: -2``),
so the vision tower's last layer (and its post-layernorm) is computed for nothing: its parameters
get no gradient. A single process and DDP (``find_unused_parameters``) simply never update them
(AdamW skips a parameter whose grad is None, weight decay included). Sharded optimizers are
stricter: FSDP2's state-dict loading refuses a checkpoint without optimizer state for a parameter
that requires grad ("Missing optimizer state for parameter ..."), so resuming fails. Under
FSDP/DeepSpeed the trainer therefore freezes exactly these parameters before building the
optimizer, which leaves the training mathematically unchanged, and lists them in train_record.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def params_off_the_graph(model: Any, forward: Callable[[], Any]) -> list[str]:
    """Names of trainable parameters that ``forward()``'s output does not depend on.

    Walks the autograd graph of one forward (no backward, so no gradient memory); data-independent
    for models whose parameter use does not depend on the input (not for mixture-of-experts)."""
    import torch

    with torch.enable_grad():
        out = forward()
    seen: set[int] = set()
    reached: set[int] = set()
    stack = [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        var = getattr(fn, "variable", None)  # AccumulateGrad: a leaf parameter
        if var is not None:
            reached.add(id(var))
        stack.extend(f for f, _ in fn.next_functions)
    del out
    return [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in reached]
