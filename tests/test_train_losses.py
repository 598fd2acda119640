"""The SFT loss maths (train/losses.py) against hand-computed values and invariances."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from polyalign.train.losses import bucket_sft_loss, sequence_nll

# Two responses: A has tokens with log-probs log(1/2), log(1/4) (S_A = 3 ln 2, T_A = 2); B has one token
# with log-prob log(1/8) after an ignored prompt position (S_B = 3 ln 2, T_B = 1).
LN2 = torch.log(torch.tensor(2.0)).item()
LOG_PROBS = torch.tensor([[-LN2, -2 * LN2, 0.0], [0.0, 0.0, -3 * LN2]])
MASK = torch.tensor([[True, True, False], [False, False, True]])


def test_sequence_nll_sums_response_tokens_only() -> None:
    """S = (3 ln 2, 3 ln 2), T = (2, 1); a stray value under the mask is ignored."""
    noisy = LOG_PROBS.clone()
    noisy[0, 2] = -100.0  # masked position: must not count
    nll_sum, n_tokens = sequence_nll(noisy, MASK)
    assert_close(nll_sum, torch.tensor([3 * LN2, 3 * LN2]))
    assert_close(n_tokens, torch.tensor([2.0, 1.0]))


def test_example_unit_by_hand() -> None:
    """ℓ_A = 1.5 ln 2, ℓ_B = 3 ln 2; weights (2, 0.5), B_step = 4 (two more examples elsewhere in the step):
    L = (2 · 1.5 ln 2 + 0.5 · 3 ln 2) / 4 = 4.5 ln 2 / 4; mass c = (2/4, 0.5/4)."""
    nll_sum, n_tokens = sequence_nll(LOG_PROBS, MASK)
    loss, mass = bucket_sft_loss(nll_sum, n_tokens, torch.tensor([2.0, 0.5]), 4, "example")
    assert_close(loss, torch.tensor(4.5 * LN2 / 4))
    assert_close(mass, torch.tensor([0.5, 0.125]))


def test_token_unit_by_hand_and_equals_trl_at_unit_weights() -> None:
    """Token unit: L = Σ w S / T_step. Weights 1: (3 ln 2 + 3 ln 2) / 3 = 2 ln 2, TRL's Σ(-log p) / #tok."""
    nll_sum, n_tokens = sequence_nll(LOG_PROBS, MASK)
    loss, mass = bucket_sft_loss(nll_sum, n_tokens, torch.ones(2), 3, "token")
    assert_close(loss, -LOG_PROBS[MASK].sum() / MASK.sum())
    assert_close(loss, torch.tensor(2 * LN2))
    assert_close(mass, torch.tensor([2 / 3, 1 / 3]))
    loss, _ = bucket_sft_loss(nll_sum, n_tokens, torch.tensor([2.0, 1.0]), 3, "token")
    assert_close(loss, torch.tensor((6 * LN2 + 3 * LN2) / 3))


@pytest.mark.parametrize("unit", ["example", "token"])
def test_micro_batch_split_sums_to_the_step_loss(unit: str) -> None:
    """Any split of a step into micro-batches, each divided by the step count, sums to the full loss."""
    generator = torch.Generator().manual_seed(0)
    log_probs = -torch.rand(8, 5, generator=generator) * 3
    mask = torch.rand(8, 5, generator=generator) > 0.3
    mask[:, 0] = True
    weights = torch.rand(8, generator=generator) * 3
    nll_sum, n_tokens = sequence_nll(log_probs, mask)
    normalizer = 8 if unit == "example" else n_tokens.sum()
    full, full_mass = bucket_sft_loss(nll_sum, n_tokens, weights, normalizer, unit)
    for size in (1, 2, 4):
        parts = [
            bucket_sft_loss(
                nll_sum[i : i + size], n_tokens[i : i + size], weights[i : i + size], normalizer, unit
            )
            for i in range(0, 8, size)
        ]
        assert_close(sum(p[0] for p in parts), full)
        assert_close(torch.cat([p[1] for p in parts]), full_mass)


def test_weights_do_not_cancel_at_batch_size_one() -> None:
    """The authors divided by Σ w inside the micro-batch: at batch size 1 that is ℓ_i whatever w_i. Here a
    weight-3 example contributes 3 ℓ_i / B_step: three times a weight-1 example with the same ℓ."""
    nll_sum, n_tokens = torch.tensor([2.0]), torch.tensor([1.0])
    heavy, _ = bucket_sft_loss(nll_sum, n_tokens, torch.tensor([3.0]), 2, "example")
    light, _ = bucket_sft_loss(nll_sum, n_tokens, torch.tensor([1.0]), 2, "example")
    assert_close(heavy, 3 * light)
    authors = (torch.tensor([3.0]) * nll_sum).sum() / torch.tensor([3.0]).sum()
    assert_close(authors, (torch.tensor([1.0]) * nll_sum).sum() / torch.tensor([1.0]).sum())  # the defect


def test_gradient_flows_through_loss_not_mass() -> None:
    log_probs = LOG_PROBS.clone().requires_grad_(True)
    nll_sum, n_tokens = sequence_nll(log_probs, MASK)
    loss, mass = bucket_sft_loss(nll_sum, n_tokens, torch.ones(2), 2, "example")
    loss.backward()
    assert not mass.requires_grad
    # dL/dlog p = -w / (B_step · T_i) on response tokens, 0 elsewhere
    expected = torch.tensor([[-1 / 4, -1 / 4, 0.0], [0.0, 0.0, -1 / 2]])
    assert_close(log_probs.grad, expected)


def test_example_without_tokens_contributes_nothing() -> None:
    nll_sum, n_tokens = torch.tensor([0.0, 4.0]), torch.tensor([0.0, 2.0])
    loss, mass = bucket_sft_loss(nll_sum, n_tokens, torch.ones(2), 2, "example")
    assert_close(loss, torch.tensor(1.0))
    assert_close(mass, torch.tensor([0.0, 0.5]))
    with pytest.raises(ValueError, match="unit"):
        bucket_sft_loss(nll_sum, n_tokens, torch.ones(2), 2, "sequence")
