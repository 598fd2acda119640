"""Bucket balance (METHOD.md §4): target mass ∝ n_b^τ, realised by sampling or by dataset-level weights.

Owns the *bucket plan* and the bucket sampler. Reads and writes nothing; numpy only.

The plan fixes, once for the whole training set, how much optimisation mass each bucket should get:

    target_b = n_b^τ / Σ_c n_c^τ                    (τ = 1: natural, τ = 0: uniform over buckets)
    r_b      = clip(s · target_b / natural_b, lo, hi),   natural_b = n_b / N,
               s chosen so that Σ_b natural_b · r_b = 1

`r_b` is the factor by which bucket b is over- (or under-) represented relative to the data. It has mean 1
over the data (the paper's `w_b = N / (K · n_b)` is `r_b` at τ = 0 without clipping) and is clipped
(the paper saw w = 83). It is realised either

- by **sampling**: an epoch draws bucket b with probability p_b = natural_b · r_b (the BucketSampler below),
  every example weighs 1; or
- by **weights**: the natural shuffled order, and every example of bucket b weighs w_b = r_b in the loss.

Both are normalised here, over the dataset, never inside a batch; the loss then divides by a count fixed
for the whole optimiser step (see `losses.py`), so the balance holds at any batch size, gradient
accumulation and number of processes. Clipping can make the realised mass differ from the target; the
plan reports both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch.utils.data

BALANCE_MODES = ("sampling", "weights", "none")


@dataclass(frozen=True)
class BucketPlan:
    """Per-bucket counts, target mass, clipped ratio r_b, sampling probability and loss weight."""

    buckets: tuple[str, ...]  # sorted bucket names; index = bucket id
    counts: tuple[int, ...]  # n_b: training examples per bucket
    target: tuple[float, ...]  # ∝ n_b^τ, sums to 1
    ratio: tuple[float, ...]  # r_b, clipped, mean 1 over the data
    probability: tuple[float, ...]  # share of draws per epoch (natural_b · r_b with sampling, else natural_b)
    weight: tuple[float, ...]  # loss weight per example (r_b with weights, else 1)
    balance: str
    temperature: float

    @property
    def expected_mass(self) -> tuple[float, ...]:
        """Share of the loss mass each bucket receives in expectation (per-example normalisation)."""
        mass = np.asarray(self.probability) * np.asarray(self.weight)
        return tuple((mass / mass.sum()).tolist())

    def to_json(self) -> dict[str, dict[str, float]]:
        return {
            bucket: {
                "n": self.counts[i],
                "target_mass": self.target[i],
                "ratio": self.ratio[i],
                "sampling_probability": self.probability[i],
                "weight": self.weight[i],
                "expected_mass": self.expected_mass[i],
            }
            for i, bucket in enumerate(self.buckets)
        }


def target_mass(counts: Sequence[int], temperature: float) -> np.ndarray:
    """Bucket b gets mass ∝ n_b^τ; buckets with no examples get none."""
    n = np.asarray(counts, dtype=float)
    mass = np.where(n > 0, np.power(np.maximum(n, 1.0), temperature), 0.0)
    return mass / mass.sum()


def clipped_ratios(natural: np.ndarray, target: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
    """r = clip(s · target / natural, lo, hi) with the scale s found so that Σ natural · r = 1.

    Σ natural · clip(s · t/n) rises monotonically with s, so bisection (in log s) finds the unique s; with
    lo ≤ 1 ≤ hi a solution exists. Without active clipping, s = 1 and r = target / natural exactly.
    """
    lo, hi = clip
    if not 0 <= lo <= 1 <= hi:
        raise ValueError(f"ratio clip must satisfy 0 <= lo <= 1 <= hi, got {clip}")
    raw = np.divide(target, natural, out=np.zeros_like(target), where=natural > 0)

    def mean_ratio(scale: float) -> float:
        return float(np.sum(natural * np.clip(scale * raw, lo, hi)))

    if abs(mean_ratio(1.0) - 1.0) < 1e-12:
        return np.where(natural > 0, np.clip(raw, lo, hi), 0.0)
    low, high = -60.0, 60.0  # log2 of the scale
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if mean_ratio(2.0**mid) < 1.0 else (low, mid)
    ratio = np.where(natural > 0, np.clip(2.0**high * raw, lo, hi), 0.0)  # empty buckets: no mass
    return ratio / float(np.sum(natural * ratio))  # remove the last bisection residue (≤ 1e-15)


def plan_buckets(
    example_buckets: Sequence[str],
    balance: str = "sampling",
    temperature: float = 0.0,
    clip: tuple[float, float] = (0.1, 10.0),
    extra_buckets: Sequence[str] = (),
) -> BucketPlan:
    """The bucket plan of a training set whose i-th example is in bucket `example_buckets[i]`.

    `extra_buckets` (e.g. buckets seen only in an eval set) get an id, count 0 and no mass.
    """
    if balance not in BALANCE_MODES:
        raise ValueError(f"balance must be one of {BALANCE_MODES}, got {balance!r}")
    counter = Counter(example_buckets)
    if not counter:
        raise ValueError("no training examples to balance")
    buckets = tuple(sorted({*counter, *extra_buckets}))
    counts = np.array([counter.get(b, 0) for b in buckets], dtype=float)
    natural = counts / counts.sum()
    if balance == "none":
        target, ratio = natural, np.where(counts > 0, 1.0, 0.0)
    else:
        target = target_mass(counts, temperature)
        ratio = clipped_ratios(natural, target, clip)
    probability = natural * ratio if balance == "sampling" else natural
    weight = ratio if balance == "weights" else np.ones_like(ratio)
    return BucketPlan(
        buckets=buckets,
        counts=tuple(int(c) for c in counts),
        target=tuple(target.tolist()),
        ratio=tuple(ratio.tolist()),
        probability=tuple((probability / probability.sum()).tolist()),
        weight=tuple(weight.tolist()),
        balance=balance,
        temperature=float(temperature),
    )


def allocate_draws(probability: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Integer draws per bucket summing to `total`, each within 1 of total · p_b (largest remainder).

    Ties in the remainders are broken at random, so no bucket is favoured epoch after epoch.
    """
    exact = probability * total
    draws = np.floor(exact).astype(np.int64)
    short = total - int(draws.sum())
    if short > 0:
        remainder = exact - draws
        order = np.lexsort((rng.random(len(probability)), -remainder))  # largest remainder, random ties
        draws[order[:short]] += 1
    return draws


class BucketSampler(torch.utils.data.Sampler[int]):
    """Indices of one epoch: bucket b receives round(num_samples · p_b) draws (stratified), its examples
    taken in fresh random permutations (without replacement until the bucket is exhausted), and the whole
    epoch shuffled.

    The stream depends only on (seed, epoch), so every process yields the same global stream and
    accelerate shards it by batch across ranks: one process with batch 4 and two with batch 2 see the same
    examples in the same optimiser steps. The generator is created per epoch, never stored as
    `generator` (accelerate would then re-seed it from rank 0).
    """

    def __init__(
        self,
        example_buckets: Sequence[int],
        probability: Sequence[float],
        num_samples: int | None = None,
        seed: int = 0,
    ) -> None:
        self.example_buckets = np.asarray(example_buckets, dtype=np.int64)
        self.probability = np.asarray(probability, dtype=float)
        if self.example_buckets.size == 0:
            raise ValueError("BucketSampler needs at least one example")
        present = np.bincount(self.example_buckets, minlength=len(self.probability)) > 0
        if np.any(self.probability[~present] > 0):
            raise ValueError("a bucket with no examples has a positive sampling probability")
        self.members = [np.flatnonzero(self.example_buckets == b) for b in range(len(self.probability))]
        self.num_samples = len(self.example_buckets) if num_samples is None else int(num_samples)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def epoch_indices(self, epoch: int | None = None) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.epoch if epoch is None else epoch])
        draws = allocate_draws(self.probability, self.num_samples, rng)
        chosen = []
        for members, k in zip(self.members, draws, strict=True):
            if k == 0:
                continue
            rounds = -(-k // len(members))  # ceil: how many passes through the bucket this epoch needs
            chosen.append(np.concatenate([rng.permutation(members) for _ in range(rounds)])[:k])
        return rng.permutation(np.concatenate(chosen))

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())
