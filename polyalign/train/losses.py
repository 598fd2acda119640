"""Pure tensor functions of the SFT (METHOD.md §4) and HDPO (§5) losses. No trainer, config, accelerator or
logging here: each function returns per-example terms, and the caller sums and divides once per step.

The Bucket-SFT loss of one optimiser step, over every micro-batch and every process of the step:

    unit "example":  L = (1 / B_step) · Σ_i w_i · ℓ_i,      ℓ_i = S_i / T_i  (mean token NLL of response i)
    unit "token":    L = (1 / T_step) · Σ_i w_i · S_i       (w ≡ 1: TRL's SFT loss exactly)

with S_i the summed NLL of response i, T_i its number of response tokens, B_step the number of examples
and T_step the number of response tokens in the whole step. The denominators are counts fixed for the
step, never a sum of weights inside a micro-batch: the authors normalised by Σ w inside each micro-batch,
which at batch size 1 cancels the weights exactly. Each micro-batch contributes its share of L, so
summing the micro-batch losses of a step (and averaging gradients over processes that each scaled by
the number of processes) gives L whatever the split.

The *mass* of example i is its coefficient in L written as Σ_i c_i · ℓ_i: c_i = w_i / B_step per
example, c_i = w_i · T_i / T_step per token. Summed per bucket, it is the share of the optimiser's
attention that the bucket received (the "effective bucket mass").
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

LOSS_UNITS = ("example", "token")


def sequence_nll(log_probs: torch.Tensor, label_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed NLL and token count of every sequence.

    Args:
        log_probs: (B, L) log-probability of each next-token label, 0 where the label is ignored.
        label_mask: (B, L) bool, True where the label counts (the response tokens).
    Returns:
        nll_sum (B,) = -Σ_t log p, and n_tokens (B,) = Σ_t mask, in float32 at least (a bf16 count of
        thousands of tokens would not be exact).
    """
    dtype = torch.promote_types(log_probs.dtype, torch.float32)
    nll_sum = -(log_probs.to(dtype) * label_mask).sum(dim=-1)  # (B,); masked positions are exact zeros
    n_tokens = label_mask.sum(dim=-1).to(dtype)  # (B,)
    return nll_sum, n_tokens


def bucket_sft_loss(
    nll_sum: torch.Tensor,
    n_tokens: torch.Tensor,
    weights: torch.Tensor,
    normalizer: torch.Tensor | float,
    unit: str = "example",
) -> tuple[torch.Tensor, torch.Tensor]:
    """This micro-batch's share of the step loss, and the (detached) mass c_i of each example.

    Args:
        nll_sum: (B,) summed response NLL S_i.
        n_tokens: (B,) response tokens T_i (an example with none contributes nothing).
        weights: (B,) dataset-level weights w_i (mean 1 over the data; ones for plain SFT).
        normalizer: B_step (unit "example") or T_step (unit "token"): a count for the whole optimiser step
            over all micro-batches and processes; the caller passes the micro-batch's own count outside
            training, where there is no step.
        unit: "example" (each response counts once) or "token" (each response token counts once).
    Returns:
        loss: scalar, Σ_i w_i · ℓ_i / B_step or Σ_i w_i · S_i / T_step.
        mass: (B,) c_i, detached.
    """
    if unit not in LOSS_UNITS:
        raise ValueError(f"unit must be one of {LOSS_UNITS}, got {unit!r}")
    normalizer = torch.as_tensor(normalizer, dtype=nll_sum.dtype, device=nll_sum.device).clamp(min=1)
    if unit == "token":
        loss = (weights * nll_sum).sum() / normalizer
        mass = weights * n_tokens / normalizer
    else:
        per_example = nll_sum / n_tokens.clamp(min=1)  # (B,) mean token NLL ℓ_i
        loss = (weights * per_example).sum() / normalizer
        mass = torch.where(n_tokens > 0, weights, torch.zeros_like(weights)) / normalizer
    return loss, mass.detach()


class HDPOTerms(NamedTuple):
    """Per-pair HDPO terms, each (B,). `pref`, `sup` and `anchor` carry the gradient; the rest is detached.

    With s (policy) and r (reference) the summed response log-probs (METHOD.md §5):
        margins h = β[(s_c − r_c) − (s_r − r_r)]
        pref      = w · (−log σ(h))
        sup       = σ(h) · d_c + (1 − σ(h)) · d_r      expected distance of the preferred response
        anchor    = −s_c / |y_c|                       NLL of the human response per token
        chosen_rewards = β(s_c − r_c), rejected_rewards = β(s_r − r_r)
    """

    pref: torch.Tensor
    sup: torch.Tensor
    anchor: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor
    margins: torch.Tensor


def hdpo_terms(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    chosen_tokens: torch.Tensor,
    d_chosen: torch.Tensor,
    d_rejected: torch.Tensor,
    weights: torch.Tensor,
    beta: float,
) -> HDPOTerms:
    """The HDPO terms of each pair; the step loss is Σ_i (pref + λ_sup·sup + γ·anchor)_i / B_step.

    Args:
        policy_chosen_logps, policy_rejected_logps: (B,) summed response log-probs s_c, s_r (with gradient).
        ref_chosen_logps, ref_rejected_logps: (B,) the frozen reference's r_c, r_r (no gradient).
        chosen_tokens: (B,) |y_c|, response tokens of the chosen response (clamped to 1).
        d_chosen, d_rejected: (B,) support distances d(y_c, b), d(y_r, b): constants.
        weights: (B,) dataset-level pair weights w_i (mean 1 over the set; never renormalised per batch).
        beta: β of the implicit reward.
    Returns:
        `HDPOTerms`; with w ≡ 1, `pref` is TRL's sigmoid DPO loss per pair.
    """
    chosen_logratios = policy_chosen_logps - ref_chosen_logps  # (B,)
    rejected_logratios = policy_rejected_logps - ref_rejected_logps  # (B,)
    margins = beta * (chosen_logratios - rejected_logratios)  # (B,) h_i
    pref = weights * -F.logsigmoid(margins)  # (B,) w_i · (−log σ(h_i))
    p_chosen = torch.sigmoid(margins)  # (B,) starts at 0.5 where the policy is the reference
    sup = p_chosen * d_chosen + (1 - p_chosen) * d_rejected  # (B,)
    anchor = -policy_chosen_logps / chosen_tokens.clamp(min=1)  # (B,)
    return HDPOTerms(
        pref=pref,
        sup=sup,
        anchor=anchor,
        chosen_rewards=(beta * chosen_logratios).detach(),
        rejected_rewards=(beta * rejected_logratios).detach(),
        margins=margins.detach(),
    )


def online_terms(
    logp_sum: torch.Tensor, n_tokens: torch.Tensor, distances: torch.Tensor, baselines: torch.Tensor
) -> torch.Tensor:
    """Score-function (REINFORCE) terms of sampled responses ŷ_j ~ π: (d_j − b) · log π(ŷ_j|x_j) / |ŷ_j|.

    Minimising their mean lowers the expected support distance of what the policy samples: the gradient
    of E[d] is E[(d − b) ∇ log π], unbiased for any baseline b that does not depend on ŷ_j.

    Args:
        logp_sum: (N,) summed log-probs of each sampled response under the policy (with gradient).
        n_tokens: (N,) |ŷ_j| (an empty response contributes nothing).
        distances: (N,) d(ŷ_j, b_j), constants from the scorer.
        baselines: (N,) the moving baseline of each sample's bucket, constants.
    Returns:
        (N,) per-sample terms; the caller divides their sum by the samples of the step.
    """
    advantage = (distances - baselines).detach()  # (N,) no gradient through the scorer or the baseline
    return advantage * logp_sum / n_tokens.clamp(min=1)
