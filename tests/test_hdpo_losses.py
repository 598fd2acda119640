"""The HDPO maths (train/losses.py, METHOD.md §5) against hand-computed values and the authors' defects."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.testing import assert_close

from polyalign.train.losses import hdpo_terms, online_terms

BETA = 0.1
# Three pairs built so that h = β[(s_c − r_c) − (s_r − r_r)] = 0, 1, 2:
#   pair 0: s_c = r_c = −10, s_r = r_r = −12                       → h = 0.1 · (0 − 0)    = 0
#   pair 1: s_c = −5, r_c = −10 (+5);  s_r = −12, r_r = −7  (−5)   → h = 0.1 · (5 + 5)    = 1
#   pair 2: s_c = −8, r_c = −18 (+10); s_r = −20, r_r = −10 (−10)  → h = 0.1 · (10 + 10)  = 2
S_C, S_R = torch.tensor([-10.0, -5.0, -8.0]), torch.tensor([-12.0, -12.0, -20.0])
R_C, R_R = torch.tensor([-10.0, -10.0, -18.0]), torch.tensor([-12.0, -7.0, -10.0])
TOKENS_C = torch.tensor([5.0, 2.0, 4.0])
D_C, D_R = torch.tensor([0.2, 0.0, 1.0]), torch.tensor([0.8, 1.0, 0.0])
WEIGHTS = torch.tensor([1.0, 2.0, 0.5])


def terms(
    s_c: torch.Tensor = S_C, s_r: torch.Tensor = S_R, weights: torch.Tensor = WEIGHTS, beta: float = BETA
):
    return hdpo_terms(s_c, s_r, R_C, R_R, TOKENS_C, D_C, D_R, weights, beta)


def test_each_term_by_hand() -> None:
    """h = (0, 1, 2); σ(h) = (0.5, 0.731059, 0.880797); −log σ(h) = (ln 2, log(1 + e⁻¹), log(1 + e⁻²)).
    pref   = w · (−log σ(h)) = (1 · 0.693147, 2 · 0.313262, 0.5 · 0.126928) = (0.693147, 0.626523, 0.063464)
    sup    = σ(h) d_c + (1 − σ(h)) d_r = (0.5·0.2 + 0.5·0.8, 0.268941·1, 0.880797·1)
           = (0.5, 0.268941, 0.880797)
    anchor = −s_c / |y_c| = (10/5, 5/2, 8/4) = (2, 2.5, 2)
    rewards: chosen β(s_c − r_c) = (0, 0.5, 1), rejected β(s_r − r_r) = (0, −0.5, −1)."""
    t = terms()
    assert_close(t.margins, torch.tensor([0.0, 1.0, 2.0]))
    assert_close(t.pref, torch.tensor([0.693147, 0.626523, 0.063464]), atol=1e-6, rtol=0)
    assert_close(t.sup, torch.tensor([0.5, 0.268941, 0.880797]), atol=1e-6, rtol=0)
    assert_close(t.anchor, torch.tensor([2.0, 2.5, 2.0]))
    assert_close(t.chosen_rewards, torch.tensor([0.0, 0.5, 1.0]))
    assert_close(t.rejected_rewards, torch.tensor([0.0, -0.5, -1.0]))
    # the step loss L = (1/B) Σ (pref + λ_sup sup + γ anchor), paper λ_sup = 0.1, γ = 0.05
    step = (t.pref + 0.1 * t.sup + 0.05 * t.anchor).sum() / 3
    expected = (0.693147 + 0.626523 + 0.063464 + 0.1 * (0.5 + 0.268941 + 0.880797) + 0.05 * 6.5) / 3
    assert math.isclose(float(step), expected, abs_tol=1e-6)


def test_unit_weights_and_no_regularisers_is_sigmoid_dpo() -> None:
    t = terms(weights=torch.ones(3))
    dpo = -F.logsigmoid(BETA * ((S_C - R_C) - (S_R - R_R)))  # TRL's sigmoid loss per pair
    assert_close(t.pref, dpo)


def test_support_gradient_at_initialisation_is_the_closed_form() -> None:
    """At h = 0 (policy = reference), ∂sup/∂s_c = β σ'(h) (d_c − d_r) = 0.1 · 0.25 · (0.2 − 0.8) = −0.015:
    raising the chosen log-prob lowers the expected distance when d_c < d_r; ∂sup/∂s_r = +0.015."""
    s_c, s_r = S_C.clone().requires_grad_(True), S_R.clone().requires_grad_(True)
    t = terms(s_c, s_r)
    grad_c, grad_r = torch.autograd.grad(t.sup[0], (s_c, s_r), retain_graph=True)
    assert_close(grad_c[0], torch.tensor(-0.015))
    assert_close(grad_r[0], torch.tensor(0.015))
    h = t.margins
    closed = BETA * torch.sigmoid(h) * (1 - torch.sigmoid(h)) * (D_C - D_R)  # every pair
    grad_c = torch.autograd.grad(t.sup.sum(), s_c)[0]
    assert_close(grad_c, closed)
    assert not t.margins.requires_grad and not t.chosen_rewards.requires_grad


def test_authors_regulariser_saturates_ours_does_not() -> None:
    """The authors used σ(β(s_c − s_r)) without the reference. A human response ~100 nats less likely
    than the sampled one gives σ(−10) ≈ 4.5e-5, so its gradient is ~5,000× smaller than ours at h = 0."""
    s_c, s_r = torch.tensor([-150.0], requires_grad=True), torch.tensor([-50.0], requires_grad=True)
    d_c, d_r = torch.tensor([0.2]), torch.tensor([0.8])
    p = torch.sigmoid(BETA * (s_c - s_r))
    authors = torch.autograd.grad(p * d_c + (1 - p) * d_r, s_c)[0].abs()
    ours = hdpo_terms(s_c, s_r, s_c.detach(), s_r.detach(), torch.ones(1), d_c, d_r, torch.ones(1), BETA)
    ours_grad = torch.autograd.grad(ours.sup.sum(), s_c)[0].abs()
    assert float(authors) < 3e-6
    assert_close(ours_grad, torch.tensor([0.015]))
    assert float(authors) < 1e-3 * float(ours_grad)


def test_online_term_by_hand_and_carries_the_gradient() -> None:
    """terms = (d − b) · logp / |ŷ| = (0.3 · −6/3, −0.3 · −4/2) = (−0.6, 0.6); ∂/∂logp = (d − b)/|ŷ| =
    (0.1, −0.15): the low-distance sample is pushed up. The authors scored greedy decodes with a no-grad
    critic: a constant, whose gradient w.r.t. the policy is zero."""
    logp = torch.tensor([-6.0, -4.0], requires_grad=True)
    d = torch.tensor([0.9, 0.3], requires_grad=True)
    b = torch.tensor([0.6, 0.6])
    out = online_terms(logp, torch.tensor([3.0, 2.0]), d, b)
    assert_close(out, torch.tensor([-0.6, 0.6]))
    grad_logp, grad_d = torch.autograd.grad(out.sum(), (logp, d), allow_unused=True)
    assert_close(grad_logp, torch.tensor([0.1, -0.15]))
    assert grad_d is None  # no gradient through the scorer
    with torch.no_grad():
        authors = 0.05 * d.mean()  # critic score of a greedy decode
    assert not authors.requires_grad


def test_pair_weights_are_not_cancelled_at_batch_size_one() -> None:
    """One pair per micro-batch: ours gives a weight-2 pair twice the loss of a weight-1 pair; the authors'
    Σ w_i ℓ_i / Σ w_i inside the micro-batch gives both the same."""
    one = slice(1, 2)
    heavy, light = (
        hdpo_terms(S_C[one], S_R[one], R_C[one], R_R[one], TOKENS_C[one], D_C[one], D_R[one], w, BETA).pref
        for w in (torch.tensor([2.0]), torch.tensor([1.0]))
    )
    assert_close(heavy, 2 * light)
    assert_close(heavy.sum() / 2.0, light.sum() / 1.0)  # the authors' normalisation: the weight is gone
