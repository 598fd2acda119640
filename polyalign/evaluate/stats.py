"""Bootstrap confidence intervals, macro-averages and paired differences between runs.

The resampling unit is the record: a draw picks record ids of a bucket with replacement and takes the
human and the model response of each, so human-side and model-side values move together. Draws are
seeded by (seed, bucket key) and index the bucket's records sorted by id, so two runs evaluated on the
same test set with the same seed get *the same* draws: the difference of their stored draws is a paired
bootstrap of the difference, which `report` computes without recomputing any metric.
Pure functions over NumPy arrays; reads and writes nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np


def bucket_rng(seed: int, key: str) -> np.random.Generator:
    """The generator of one bucket's draws: depends only on the seed and the bucket key."""
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def bootstrap_positions(n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, n) positions in 0..n-1, sampled with replacement."""
    return rng.integers(0, n, size=(draws, n))


def percentile_ci(draws: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of the finite draws; (nan, nan) when there are fewer than two."""
    finite = draws[np.isfinite(draws)]
    if finite.size < 2:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def centred_ci(
    point: float, draws: np.ndarray, level: float, bounds: tuple[float, float] = (-np.inf, np.inf)
) -> tuple[float, float]:
    """Percentile interval shifted so its centre (the draws' median) sits on the point estimate.

    Used for set-level statistics (distinct-n, Wasserstein gaps, JS divergence, AUC): resampling with
    replacement duplicates responses and biases their draws (fewer distinct n-grams, smaller gaps), which
    would leave the point estimate outside a plain percentile interval; the width is kept as it is, except
    that the interval never leaves the metric's `bounds` (a share stays within [0, 1]).
    """
    low, high = percentile_ci(draws, level)
    if not np.isfinite(low):
        return low, high
    shift = point - float(np.median(draws[np.isfinite(draws)]))
    return max(low + shift, bounds[0]), min(high + shift, bounds[1])


def macro_average(
    values: Mapping[str, float], draws: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None
) -> tuple[float, np.ndarray]:
    """Mean over buckets of the point values, and of the draws (draw b of every bucket): unweighted (the
    macro), or weighted by `weights` (records per bucket: the record-weighted mean).

    A bucket without draws (one record) contributes its point value to every draw.
    """
    keys = [k for k, v in values.items() if np.isfinite(v)]
    if not keys:
        return float("nan"), np.array([])
    w = np.array([1.0 if weights is None else float(weights[k]) for k in keys])
    size = max((len(draws[k]) for k in keys if k in draws and len(draws[k])), default=0)
    stacked = [draws[k] if k in draws and len(draws[k]) == size else np.full(size, values[k]) for k in keys]
    macro_draws = np.array([])
    if size:
        matrix = np.vstack(stacked)  # (buckets, draws)
        finite = np.isfinite(matrix)
        with np.errstate(invalid="ignore"):
            macro_draws = (np.where(finite, matrix, 0.0) * w[:, None]).sum(0) / (finite * w[:, None]).sum(0)
    return float(np.average([values[k] for k in keys], weights=w)), macro_draws


def paired_difference(
    point_a: float, point_b: float, draws_a: np.ndarray, draws_b: np.ndarray, level: float
) -> dict[str, float | None]:
    """b − a with a paired bootstrap interval from identically indexed draws, and the share of draws ≤ 0."""
    diff = point_b - point_a
    if len(draws_a) != len(draws_b) or not len(draws_a):
        return {"diff": diff, "low": None, "high": None, "share_le_0": None}
    d = np.asarray(draws_b) - np.asarray(draws_a)
    low, high = centred_ci(diff, d, level)
    finite = d[np.isfinite(d)]
    return {
        "diff": diff,
        "low": low if np.isfinite(low) else None,
        "high": high if np.isfinite(high) else None,
        "share_le_0": float(np.mean(finite <= 0)) if finite.size else None,
    }


def rank_auc(negative: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUC = P(positive > negative) + ½·P(tie) for each row: (k, n) and (k, m) scores → (k,)."""
    greater = (positive[:, :, None] > negative[:, None, :]).mean(axis=(1, 2))
    ties = (positive[:, :, None] == negative[:, None, :]).mean(axis=(1, 2))
    return greater + 0.5 * ties


def wasserstein_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """W1 between equal-size samples along axis -2: mean |sort(a) − sort(b)|. (..., n, F) → (..., F)."""
    return np.abs(np.sort(a, axis=-2) - np.sort(b, axis=-2)).mean(axis=-2)


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between count vectors along the last axis."""
    p = p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-12)
    q = q / np.maximum(q.sum(axis=-1, keepdims=True), 1e-12)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(x > 0, x * np.log2(x / np.where(m > 0, m, 1)), 0.0)
        return terms.sum(axis=-1)

    return np.clip((kl(p) + kl(q)) / 2, 0.0, 1.0)
