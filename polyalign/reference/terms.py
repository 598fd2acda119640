"""One-sided bands for the support terms that are a single number per response (neighbours, style).

Such a term x (a distance to the nearest humans, a share of unseen n-grams) is only off-support when it is
too *high*, so it gets the upper half of METHOD.md §3's band: H = the bucket's human q90 of x, computed
leave-one-out on the reference responses (each scored against the others, as a new response would be), and
s = max(q90 − q10, IQR, floor). The term is min(max(0, x − H) / s, c): 0 for ~90% of humans, like a feature
inside its band, and at most c, so every term lives in [0, c] and a weighted mean of terms does too.
Owns: `UpperBand`. Reads and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TERMS = ("bands", "neighbours", "style")  # the terms of d(y, b); `bands` is METHOD.md §3's feature bands


@dataclass(frozen=True)
class UpperBand:
    high: float
    scale: float

    @classmethod
    def fit(cls, human: np.ndarray, band: Sequence[float], floor: float) -> UpperBand:
        """From leave-one-out values of the reference's human responses, with the config's band quantiles."""
        low, high, q25, q75 = np.quantile(human, [band[0], band[1], 0.25, 0.75])
        return cls(float(high), float(max(high - low, q75 - q25, floor)))

    def excess(self, x: np.ndarray, clip: float) -> np.ndarray:
        """(n,) → (n,): min(max(0, x − H) / s, c)."""
        return np.minimum(np.maximum(0.0, x - self.high) / self.scale, clip)
