"""The support distance d(y, b) of METHOD.md §3, as a pure array function and a scorer over references.

    bands(y, b) = Σ_f ω_f · min( max(0, L_f − x_f, x_f − H_f) / s_f , c ) / Σ_f ω_f

with the band [L_f, H_f] and scale s_f of bucket b's training human responses (see `reference.py`).
Inside the band it is 0; each feature adds at most c·ω_f / Σω, so no single feature can dominate.
Per-feature bands cannot see a response that fits every band yet resembles no human response (the
neighbours and style terms read the reference's own responses for that), nor a length-only change (length
is one feature of many, in raw units), so d mixes terms (`reference.support_terms`, weights w_t):

    d(y, b) = Σ_t w_t · term_t(y, b) / Σ_t w_t    (terms: bands, length, neighbours.py, style.py)

where `length` is the formula above for log length units alone, with the band of terms.LengthBand: 0 inside
the bucket's length bin, so it charges only a response that left its bucket's length class;
each term is in [0, c] and 0 for a typical human response, so d stays in [0, c]; {bands: 1} is exactly §3's d.
It is exact and needs no training, so human and model responses are scored alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from polyalign.data.buckets import BucketKey
from polyalign.errors import PolyAlignError
from polyalign.reference.features import extract, tokenize
from polyalign.reference.neighbours import NeighbourIndex
from polyalign.reference.reference import HumanReference, ReferenceStats, bin_ranges
from polyalign.reference.style import StyleProfile
from polyalign.reference.terms import LengthBand


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
    """Scores texts against the human reference of their bucket (or its cell, after back-off).

    The neighbour index and style profile of a reference are built from its stored response sample on
    first use and kept, so scoring many batches pays for each once.
    """

    def __init__(self, reference: HumanReference) -> None:
        config = reference.config
        self.reference = reference
        self.weights = reference.weight_vector()
        self.term_weights = {t: w for t, w in config.support_terms.items() if w > 0}
        if config.needs_texts and reference.support_texts is None:
            raise PolyAlignError(
                f"reference.support_terms {config.support_terms} need the reference's response sample, "
                "which this reference does not hold: rebuild it with this polyalign"
            )
        self._indexes: dict[str, tuple[NeighbourIndex | None, StyleProfile | None]] = {}
        self._length = reference.feature_names.index("length_units")
        self.length_bands = {key: self._length_band(key, stats) for key, stats in reference.stats.items()}

    def terms(
        self, texts: Sequence[str], buckets: Sequence[str], features: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Each weighted term of d, (n,) each: shows which one moved a response off support.

        `features`: the texts' feature matrix when the caller already extracted it (evaluation does), so
        it is not extracted twice; the text terms then only tokenize."""
        languages = [BucketKey.parse(b).language for b in buckets]
        text_terms = "neighbours" in self.term_weights or "style" in self.term_weights
        words: list[list[str]] = []
        if features is None:
            x = extract(texts, languages, words=words)
        else:
            x = features
            if text_terms:
                words = [tokenize(t, lang) for t, lang in zip(texts, languages, strict=True)]
        ref_keys = [self.reference.resolve(b) for b in buckets]
        low, high, scale = self.reference.band_arrays(ref_keys)
        out = {"bands": support_distance(x, low, high, scale, self.weights, self.reference.config.clip)}
        if "length" in self.term_weights:
            out["length"] = self.length_term(x[:, self._length], ref_keys)
        if text_terms:
            out |= self._text_terms(words, ref_keys)
        return {t: out[t] for t in self.term_weights}

    def length_term(self, units: np.ndarray, ref_keys: Sequence[str]) -> np.ndarray:
        """units: (n,) length units; ref_keys: resolved reference keys. §3's band formula on log length."""
        unique, rows = np.unique(np.asarray(ref_keys, dtype=str), return_inverse=True)
        bands = np.array([[b.low, b.high, b.scale] for b in map(self.length_bands.get, unique)])  # (k, 3)
        low, high, scale = bands.reshape(-1, 3)[rows].T[:, :, None]  # each (n, 1)
        x = np.log(np.maximum(units, 1.0))[:, None]  # (n, 1)
        return support_distance(x, low, high, scale, np.ones(1), self.reference.config.clip)

    def score(
        self, texts: Sequence[str], buckets: Sequence[str], features: np.ndarray | None = None
    ) -> np.ndarray:
        """d(y, b) for each text and its bucket key `language|track|family|length_bin` (`features`: see
        `terms`)."""
        terms = self.terms(texts, buckets, features)
        total = sum(self.term_weights.values())
        return sum(w * terms[t] for t, w in self.term_weights.items()) / total

    def _text_terms(self, words: list[list[str]], ref_keys: list[str]) -> dict[str, np.ndarray]:
        """Neighbour and style terms, one reference at a time (each with its own vocabulary)."""
        clip = self.reference.config.clip
        out = {"neighbours": np.zeros(len(words)), "style": np.zeros(len(words))}
        rows: dict[str, list[int]] = {}
        for i, key in enumerate(ref_keys):
            rows.setdefault(key, []).append(i)
        for key, idx in rows.items():
            neighbours, style = self._index(key)
            docs = [words[i] for i in idx]
            if neighbours is not None:
                out["neighbours"][idx] = neighbours.band.excess(neighbours.distance(docs), clip)
            if style is not None:
                out["style"][idx] = style.band.excess(style.novelty(docs), clip)
        return out

    def _length_band(self, key: str, stats: ReferenceStats) -> LengthBand:
        j, bucket = self._length, BucketKey.parse(key)
        quantiles = (stats.low[j], stats.high[j], stats.quantiles["q25"][j], stats.quantiles["q75"][j])
        if bucket.length_bin is None:
            return LengthBand.fit(quantiles, None)
        return LengthBand.fit(quantiles, bin_ranges(self.reference.edges[bucket.language])[bucket.length_bin])

    def _index(self, key: str) -> tuple[NeighbourIndex | None, StyleProfile | None]:
        """The reference's neighbour index and style profile, each only when its term is on."""
        if key not in self._indexes:
            config, texts = self.reference.config, self.reference.support_texts or {}
            language = BucketKey.parse(key).language
            docs = [tokenize(t, language) for t in texts[key]]
            self._indexes[key] = (
                NeighbourIndex(docs, config.neighbours_k, config.band)
                if "neighbours" in self.term_weights
                else None,
                StyleProfile(docs, config.style_window, config.band)
                if "style" in self.term_weights
                else None,
            )
        return self._indexes[key]
