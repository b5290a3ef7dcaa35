"""The DDPO objective and its variants (spec section a).

A response's score is S(y) = sum_t w_t * logp_t (``ddpo-sum``, the released script) or
sum_t w_t * logp_t / sum_t w_t (``ddpo-paper``, Eq. 5), with w_t = gamma on corrected tokens
and 1 elsewhere (0 on prompt, image and padding positions). ``dpo`` is standard DPO: gamma
is fixed at 1 and the score is the plain sum. The pair loss is
softplus(-beta * ([S_pi(y_w) - S_ref(y_w)] - [S_pi(y_l) - S_ref(y_l)])), averaged over pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Variant:
    name: str
    weighted: bool  # per-token weights from the diff
    average: bool  # divide by the sum of weights (a weighted mean)
    beta: float  # default beta
    gamma: float  # default gamma
    source: str


VARIANTS: dict[str, Variant] = {
    "ddpo-paper": Variant("ddpo-paper", True, True, 0.5, 5.0, "paper Eq. 5, section 4.1"),
    "ddpo-sum": Variant("ddpo-sum", True, False, 0.1, 1.1, "released RLHF-V script (Feb 2024)"),
    "dpo": Variant("dpo", False, False, 0.1, 1.0, "standard DPO (sum of log-probs)"),
}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(VARIANTS)}") from None


def sequence_scores(token_logps: Any, weights: Any, *, average: bool) -> Any:
    """Scores S(y) per row from per-token log-probs and weights (0 = not scored).

    ``token_logps`` and ``weights`` have the same shape (rows, positions). Raises
    ``ValueError`` for a row with no scored token rather than returning NaN.
    """
    total = (token_logps * weights).sum(-1)
    if not average:
        return total
    norm = weights.sum(-1)
    if bool((norm <= 0).any()):
        raise ValueError("a response has no scored tokens (empty completion)")
    return total / norm


def preference_loss(
    policy_chosen: Any,
    policy_rejected: Any,
    ref_chosen: Any,
    ref_rejected: Any,
    *,
    beta: float,
) -> tuple[Any, dict[str, Any]]:
    """Mean DPO sigmoid loss over pairs on scores, and the per-step metrics (detached)."""
    import torch.nn.functional as F

    chosen_reward = policy_chosen - ref_chosen
    rejected_reward = policy_rejected - ref_rejected
    delta = chosen_reward - rejected_reward
    losses = F.softplus(-beta * delta)
    rc = (beta * chosen_reward).detach()
    rr = (beta * rejected_reward).detach()
    metrics = {
        "rewards/chosen": rc.mean().item(),
        "rewards/rejected": rr.mean().item(),
        "rewards/accuracies": (rc > rr).float().mean().item(),  # strict, as Muffin/TRL
        "rewards/margins": (rc - rr).mean().item(),
        "logps/chosen": policy_chosen.detach().mean().item(),
        "logps/rejected": policy_rejected.detach().mean().item(),
        "logps/ref_chosen": ref_chosen.detach().mean().item(),
        "logps/ref_rejected": ref_rejected.detach().mean().item(),
    }
    return losses.mean(), metrics


def ddpo_loss(
    policy_logps: Any,
    ref_logps: Any,
    weights: Any,
    *,
    n_pairs: int,
    variant: str,
    beta: float,
    sft_weight: float = 0.0,
) -> tuple[Any, dict[str, Any]]:
    """Loss over a concatenated batch: rows [0, n_pairs) chosen, [n_pairs, 2*n_pairs) rejected.

    ``weights`` already holds gamma / 1 / 0 per position (use ``weights > 0`` as the mask
    for ``dpo``). The optional SFT term (off by default, as in the released code) subtracts
    ``sft_weight * mean(S_pi(y_w))`` with the same score.
    """
    v = get_variant(variant)
    w = weights if v.weighted else (weights > 0).to(policy_logps.dtype)
    pol = sequence_scores(policy_logps, w, average=v.average)
    ref = sequence_scores(ref_logps, w, average=v.average)
    loss, metrics = preference_loss(
        pol[:n_pairs], pol[n_pairs:], ref[:n_pairs], ref[n_pairs:], beta=beta
    )
    if sft_weight:
        loss = loss - sft_weight * pol[:n_pairs].mean()
    return loss, metrics
