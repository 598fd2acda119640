"""Pure tensor functions of the SFT losses (METHOD.md §4). No trainer, config, accelerator or logging here.

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

import torch

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
