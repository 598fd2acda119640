"""The support distance d(y, b) of METHOD.md §3, as a pure array function and a scorer over references.

    d(y, b) = Σ_f ω_f · min( max(0, L_f − x_f, x_f − H_f) / s_f , c ) / Σ_f ω_f

with the band [L_f, H_f] and scale s_f of bucket b's training human responses (see `reference.py`).
Inside the band d = 0; each feature adds at most c·ω_f / Σω, so no single feature can dominate.
It is exact and needs no training, so human and model responses are scored alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from polyalign.data.buckets import BucketKey
from polyalign.reference.features import extract
from polyalign.reference.reference import HumanReference


def support_distance(
    x: np.ndarray, low: np.ndarray, high: np.ndarray, scale: np.ndarray, weights: np.ndarray, clip: float
) -> np.ndarray:
    """x, low, high, scale: (n, F) (band arrays may also be (F,)); weights: (F,). Returns d: (n,)."""
    excess = np.maximum(0.0, np.maximum(low - x, x - high)) / scale  # (n, F), 0 inside the band
    return np.minimum(excess, clip) @ weights / weights.sum()


def feature_contributions(
    x: np.ndarray, low: np.ndarray, high: np.ndarray, scale: np.ndarray, weights: np.ndarray, clip: float
) -> np.ndarray:
    """Each feature's share of d, (n, F); rows sum to d. Shows which feature moved a response off support."""
    excess = np.maximum(0.0, np.maximum(low - x, x - high)) / scale
    return np.minimum(excess, clip) * weights / weights.sum()


class SupportScorer:
    """Scores texts against the human reference of their bucket (or its cell, after back-off)."""

    def __init__(self, reference: HumanReference) -> None:
        self.reference = reference
        self.weights = reference.weight_vector()

    def score_features(self, x: np.ndarray, buckets: Sequence[str]) -> np.ndarray:
        low, high, scale = self.reference.band_arrays([self.reference.resolve(b) for b in buckets])
        return support_distance(x, low, high, scale, self.weights, self.reference.config.clip)

    def score(self, texts: Sequence[str], buckets: Sequence[str]) -> np.ndarray:
        """d(y, b) for each text and its bucket key `language|track|family|length_bin`."""
        languages = [BucketKey.parse(b).language for b in buckets]
        return self.score_features(extract(texts, languages), buckets)
