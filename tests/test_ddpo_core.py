"""DDPO core (reference_models/rlhfv): the segment diff, the loss variants, TRL parity, gradients."""

from __future__ import annotations

import math

import pytest

from reference_models.rlhfv.diff import corrected_positions, segment_weights
from reference_models.rlhfv.loss import LN2, VARIANTS, ddpo_loss, get_variant

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------- diff (spec b, g.10)
R = list(range(1, 11))


def test_substitution_weights_both_sides():
    chosen = [1, 2, 3, 4, 50, 51, 6, 7, 8, 9, 10]
    assert corrected_positions(R, chosen) == ([4], [4, 5])
    w_r, w_c = segment_weights(R, chosen, 5.0)
    assert w_r == [1, 1, 1, 1, 5, 1, 1, 1, 1, 1]
    assert w_c == [1, 1, 1, 1, 5, 5, 1, 1, 1, 1, 1]


def test_pure_insertion_and_deletion_get_no_weight():
    inserted = [1, 2, 3, 4, 5, 77, 78, 6, 7, 8, 9, 10]
    assert corrected_positions(R, inserted) == ([], [])
    deleted = [1, 2, 3, 4, 5, 8, 9, 10]
    assert corrected_positions(R, deleted) == ([], [])
    # the option weights one-sided edits too
    assert corrected_positions(R, inserted, edit_policy="all_edits") == ([], [5, 6])
    assert corrected_positions(R, deleted, edit_policy="all_edits") == ([5, 6], [])


def test_short_match_inside_an_edit_is_absorbed():
    rejected = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    chosen = [1, 2, 3, 4, 40, 6, 7, 41, 9, 10, 11]
    assert corrected_positions(rejected, chosen) == ([4, 5, 6, 7], [4, 5, 6, 7])
    # with min_match 2 the 2-token match [6, 7] is kept and splits the edit
    assert corrected_positions(rejected, chosen, min_match=2) == ([4, 7], [4, 7])


def test_identical_disjoint_start_and_end():
    assert corrected_positions(R, R) == ([], [])
    assert corrected_positions([1, 2, 3], [7, 8]) == ([0, 1, 2], [0, 1])
    assert corrected_positions(R, [99, *R[1:]]) == ([0], [0])  # edit at the start
    assert corrected_positions(R, [*R[:-1], 99, 98]) == ([9], [9, 10])  # edit at the end


def test_a_two_token_prefix_match_does_not_count():
    # only [1, 2] matches before the edit: dropped, so the edit starts at 0
    rejected = [1, 2, 30, 31, 5, 6, 7, 8]
    chosen = [1, 2, 40, 5, 6, 7, 8]
    assert corrected_positions(rejected, chosen) == ([0, 1, 2, 3], [0, 1, 2])


# ---------------------------------------------------------------- loss (spec a, g)
def _fixture(dtype=torch.float64):
    # spec (a) worked example: rows [chosen, rejected], 2 unchanged tokens then 1 corrected
    pol = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, -1.0, -2.0]], dtype=dtype)
    ref = torch.tensor([[-1.0, -2.0, -1.5], [-1.0, -1.0, -1.0]], dtype=dtype)
    w = torch.tensor([[1.0, 1.0, 5.0], [1.0, 1.0, 5.0]], dtype=dtype)
    return pol, ref, w


def test_spec_worked_example():
    pol, ref, w = _fixture()
    paper, _ = ddpo_loss(pol, ref, w, n_pairs=1, variant="ddpo-paper", beta=0.5)
    assert paper.item() == pytest.approx(0.3984685, abs=1e-7)
    assert paper.item() == pytest.approx(math.log1p(math.exp(-0.5 * 10 / 7)), rel=1e-12)
    summed, _ = ddpo_loss(pol, ref, w, n_pairs=1, variant="ddpo-sum", beta=0.5)
    assert summed.item() == pytest.approx(0.0067153, abs=1e-7)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_ln2_at_initialisation(variant):
    g = torch.Generator().manual_seed(1)
    lp = -torch.rand((6, 9), generator=g, dtype=torch.float64) * 4
    w = torch.ones_like(lp)
    w[:, :2] = 0  # prompt positions
    w[:, 5] = get_variant(variant).gamma
    loss, m = ddpo_loss(
        lp, lp.clone(), w, n_pairs=3, variant=variant, beta=get_variant(variant).beta
    )
    assert loss.item() == LN2 == math.log(2)
    assert m["rewards/margins"] == 0 and m["rewards/accuracies"] == 0.0  # strict comparison


def _trl_loss(pol, ref, mask, beta, loss_type):
    """TRL 1.16 DPOTrainer._compute_loss on given per-token log-probs (an external reference)."""
    from collections import defaultdict
    from types import SimpleNamespace

    from trl import DPOTrainer

    class Acc:
        device = torch.device("cpu")
        gather = gather_for_metrics = staticmethod(lambda x: x)

    t = DPOTrainer.__new__(DPOTrainer)
    t.__dict__.update(
        model=SimpleNamespace(training=True),
        accelerator=Acc(),
        aux_loss_enabled=False,
        ld_alpha=None,
        precompute_ref_logps=True,
        f_divergence_type="reverse_kl",
        loss_types=[loss_type],
        loss_weights=[1.0],
        beta=beta,
        use_weighting=False,
        _metrics={"train": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
    )
    n = pol.shape[0] // 2
    width = pol.shape[1]
    completion = torch.cat([torch.zeros((2 * n, 1), dtype=torch.long), mask.long()], dim=1)
    out = SimpleNamespace(
        log_probs=pol * mask,
        entropy=torch.zeros_like(pol),
        mean_logits=torch.zeros_like(pol),
        is_top1=torch.zeros_like(pol, dtype=torch.bool),
    )
    ref_sums = (ref * mask).sum(1)
    inputs = {
        "input_ids": torch.zeros((2 * n, width + 1), dtype=torch.long),
        "attention_mask": torch.ones((2 * n, width + 1), dtype=torch.long),
        "completion_mask": completion,
        "ref_chosen_logps": ref_sums[:n],
        "ref_rejected_logps": ref_sums[n:],
    }
    return t._compute_loss(lambda **kw: out, inputs, False), t._metrics["train"]


def _random_batch(seed=0, n=4, width=12):
    g = torch.Generator().manual_seed(seed)
    pol = -torch.rand((2 * n, width), generator=g, dtype=torch.float64) * 3
    ref = -torch.rand((2 * n, width), generator=g, dtype=torch.float64) * 3
    mask = torch.zeros((2 * n, width), dtype=torch.float64)
    for k in range(2 * n):
        lo = int(torch.randint(0, 4, (1,), generator=g))
        hi = int(torch.randint(lo + 2, width + 1, (1,), generator=g))
        mask[k, lo:hi] = 1
    return pol, ref, mask


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ddpo_sum_with_gamma_1_is_trl_dpo(seed):
    pytest.importorskip("trl")
    pol, ref, mask = _random_batch(seed)
    ours, m = ddpo_loss(pol, ref, mask, n_pairs=4, variant="ddpo-sum", beta=0.1)
    theirs, tm = _trl_loss(pol, ref, mask, 0.1, "sigmoid")
    assert theirs.dtype == torch.float64
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12, abs=1e-14)
    assert m["rewards/accuracies"] == tm["rewards/accuracies"][0]
    assert m["rewards/margins"] == pytest.approx(tm["rewards/margins"][0], rel=1e-12)
    dpo, _ = ddpo_loss(pol, ref, mask, n_pairs=4, variant="dpo", beta=0.1)
    assert dpo.item() == ours.item()
    # gamma 1 in the paper variant is length-normalised DPO (TRL sigmoid_norm)
    paper, _ = ddpo_loss(pol, ref, mask, n_pairs=4, variant="ddpo-paper", beta=0.5)
    norm, _ = _trl_loss(pol, ref, mask, 0.5, "sigmoid_norm")
    assert paper.item() == pytest.approx(norm.item(), rel=1e-12)


@pytest.mark.parametrize(
    "variant,gamma", [("ddpo-paper", 5.0), ("ddpo-sum", 1.1), ("ddpo-sum", 3.0)]
)
def test_corrected_token_gets_gamma_times_the_gradient(variant, gamma):
    pol, ref, mask = _random_batch(3, n=2)
    w = mask.clone()
    for k in range(4):
        cols = mask[k].nonzero().flatten()
        w[k, cols[-1]] = gamma  # last completion token corrected, the others unchanged
    pol.requires_grad_(True)
    loss, _ = ddpo_loss(pol, ref, w, n_pairs=2, variant=variant, beta=0.5)
    loss.backward()
    grad = pol.grad
    for k in range(4):
        cols = mask[k].nonzero().flatten()
        unchanged = grad[k, cols[:-1]]
        assert torch.allclose(unchanged, unchanged[0].expand_as(unchanged), rtol=1e-12)
        assert grad[k, cols[-1]].item() == pytest.approx(gamma * unchanged[0].item(), rel=1e-12)
        assert (grad[k][mask[k] == 0] == 0).all()  # prompt / padding: zero gradient
        sign = -1 if k < 2 else 1  # descent raises chosen, lowers rejected log-probs
        assert (sign * grad[k, cols] > 0).all()


def test_identical_pair_and_swap_symmetry():
    pol, ref, mask = _random_batch(4, n=2)
    pol.requires_grad_(True)
    same = torch.cat([pol[:2], pol[:2]])
    ref_same = torch.cat([ref[:2], ref[:2]])
    m2 = torch.cat([mask[:2], mask[:2]])
    loss, _ = ddpo_loss(same, ref_same, m2, n_pairs=2, variant="ddpo-sum", beta=0.1)
    assert loss.item() == pytest.approx(LN2, abs=1e-15)
    loss.backward()
    assert pol.grad.abs().max().item() == pytest.approx(0.0, abs=1e-15)
    # swapping chosen and rejected: per pair, L(swapped) - L = beta * delta
    p, r = pol.detach()[:, :], ref
    one = lambda a, b, m: ddpo_loss(a, b, m, n_pairs=1, variant="ddpo-paper", beta=0.5)[0].item()  # noqa: E731
    idx, sw = [0, 2], [2, 0]
    orig, swapped = one(p[idx], r[idx], mask[idx]), one(p[sw], r[sw], mask[sw])
    s = lambda x, m: (x * m).sum() / m.sum()  # noqa: E731
    delta = (s(p[0], mask[0]) - s(r[0], mask[0])) - (s(p[2], mask[2]) - s(r[2], mask[2]))
    assert swapped - orig == pytest.approx(0.5 * delta.item(), rel=1e-10)


def test_empty_completion_is_an_error_not_nan():
    pol, ref, mask = _random_batch(5, n=1)
    mask[1] = 0
    with pytest.raises(ValueError, match="no scored tokens"):
        ddpo_loss(pol, ref, mask, n_pairs=1, variant="ddpo-paper", beta=0.5)


def test_scale_invariance_of_the_paper_variant():
    pol, ref, w = _fixture()
    a, _ = ddpo_loss(pol, ref, w, n_pairs=1, variant="ddpo-paper", beta=0.5)
    b, _ = ddpo_loss(pol, ref, w * 3.7, n_pairs=1, variant="ddpo-paper", beta=0.5)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


def test_optional_sft_term_uses_the_same_score():
    pol, ref, w = _fixture()
    base, _ = ddpo_loss(pol, ref, w, n_pairs=1, variant="ddpo-paper", beta=0.5)
    with_sft, _ = ddpo_loss(pol, ref, w, n_pairs=1, variant="ddpo-paper", beta=0.5, sft_weight=0.3)
    assert with_sft.item() == pytest.approx(base.item() - 0.3 * (-5.5 / 7), rel=1e-12)


def test_params_off_the_graph_finds_exactly_the_unused_ones():
    torch = pytest.importorskip("torch")
    from reference_models.rlhfv.unused import params_off_the_graph

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused, self.frozen = (torch.nn.Linear(3, 3) for _ in range(3))
            self.frozen.requires_grad_(False)

        def forward(self, x):
            self.unused(x)  # computed, result dropped (as LLaVA's last vision layer)
            return self.frozen(self.used(x)).sum()

    m = M()
    assert params_off_the_graph(m, lambda: m(torch.ones(2, 3))) == ["unused.weight", "unused.bias"]
    assert all(p.grad is None for p in m.parameters())  # no backward was run
