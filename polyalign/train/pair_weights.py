"""HDPO pair weights (METHOD.md §5), computed once over the whole pair set, never per batch.

    g_b   = log r_b,   r_b = N / (K · n_b)            (n_b pairs in bucket b, N pairs, K buckets)
    raw_i = clip(1 + α · g_b + γ · max(0, d_r − d_c), lo, hi)      (paper: α = 0.5, γ = 1, [0.5, 3])
    w_i   = clip(s · raw_i, lo, hi),  s such that mean_i w_i = 1

r_b is the Bucket-SFT over-representation factor at τ = 0 (`sampling.plan_buckets`, unclipped): the mean
of r over the pairs is 1. Its log makes g_b symmetric (a bucket twice the average share gets −log 2, half
the average +log 2) and keeps the order among small buckets that `r_b − 1` would push straight into the
clip (a bucket of a tenth of the average share: r − 1 = 9, weight 5.5 → 3; log r = 2.3, weight 2.15).
The scale s is found as Bucket-SFT finds its ratio scale (`sampling.clipped_ratios`), so the final
weights have mean 1 and lie within [lo, hi]. Reads and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from polyalign.train.sampling import clipped_ratios, plan_buckets


def bucket_balance(buckets: Sequence[str]) -> np.ndarray:
    """g_b of each pair, (n,): log of its bucket's τ = 0 over-representation factor N / (K · n_b)."""
    plan = plan_buckets(buckets, balance="weights", temperature=0.0, clip=(0.0, np.inf))
    ratio = dict(zip(plan.buckets, plan.ratio, strict=True))
    return np.log(np.array([ratio[b] for b in buckets]))


def raw_weights(
    balance: np.ndarray,
    d_chosen: np.ndarray,
    d_rejected: np.ndarray,
    bucket_coef: float,
    gap_coef: float,
    clip: tuple[float, float],
) -> np.ndarray:
    """The paper's per-pair weight before normalisation; all arrays (n,)."""
    gap = np.maximum(0.0, d_rejected - d_chosen)  # only a rejected response further from support counts
    return np.clip(1.0 + bucket_coef * balance + gap_coef * gap, *clip)


def normalise(raw: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
    """clip(s · raw, lo, hi) with s chosen so that the mean is 1 (needs lo <= 1 <= hi); (n,) → (n,)."""
    uniform = np.full(len(raw), 1.0 / len(raw))  # every pair counts once in the mean
    return clipped_ratios(uniform, raw * uniform, clip)


def pair_weights(
    buckets: Sequence[str],
    d_chosen: np.ndarray,
    d_rejected: np.ndarray,
    bucket_coef: float = 0.5,
    gap_coef: float = 1.0,
    clip: tuple[float, float] = (0.5, 3.0),
) -> np.ndarray:
    """w_i of every pair of the set (mean 1, within `clip`); raises ValueError on an empty set."""
    if len(buckets) == 0:
        raise ValueError("no pairs to weight")
    raw = raw_weights(bucket_balance(buckets), d_chosen, d_rejected, bucket_coef, gap_coef, clip)
    return normalise(raw, clip)
