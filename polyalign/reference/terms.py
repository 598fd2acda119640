"""Bands for the support terms that are a single number per response (length, neighbours, style).

Such a term x (a distance to the nearest humans, a share of unseen n-grams) is only off-support when it is
too *high*, so it gets the upper half of METHOD.md §3's band: H = the bucket's human q90 of x, computed
leave-one-out on the reference responses (each scored against the others, as a new response would be), and
s = max(q90 − q10, IQR, floor). The term is min(max(0, x − H) / s, c): 0 for ~90% of humans, like a feature
inside its band, and at most c, so every term lives in [0, c] and a weighted mean of terms does too.
The length term is two-sided, on log length units (length is a scale: halving and doubling are equally
far). The bands read length too, but in raw units scaled by the bucket's q90 − q10, where halving a long
answer moves a fraction of a unit. Its band is the bucket's own length bin (its length class, by which its
humans were chosen) widened to the reference humans' [q10, q90] (a borrowed reference's reach past the bin),
so every human of the bucket scores 0; the scale is the humans' log spread, from the stored quantiles (log is
monotone: log q10(L) bounds the very humans q10(log L) would). Owns: `UpperBand`, `LengthBand`.
Reads and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TERMS = ("bands", "length", "neighbours", "style")  # the terms of d(y, b); `bands` is METHOD.md §3's bands
# Log-length scale floor: a factor 2 past the band costs 1, as one extra event does for a count feature.
# Factor 2 is the narrowest paper length bin (120-240 units): that far out, a response changed length class.
LENGTH_FLOOR = float(np.log(2.0))


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


@dataclass(frozen=True)
class LengthBand:
    low: float  # log length units; 0 and inf at the open ends of the shortest and longest bins
    high: float
    scale: float

    @classmethod
    def fit(cls, quantiles: Sequence[float], bin_range: tuple[float, float] | None) -> LengthBand:
        """quantiles: band low, band high, q25, q75 of the reference's length units; bin_range: the bucket's
        (lower, upper] in units (None for a whole cell: the band alone). A length under 1 counts as 1."""
        low, high, q25, q75 = np.log(np.maximum(quantiles, 1.0))
        lower, upper = np.log(np.maximum(bin_range, 1.0)) if bin_range else (low, high)
        return cls(
            float(min(low, lower)), float(max(high, upper)), float(max(high - low, q75 - q25, LENGTH_FLOOR))
        )
