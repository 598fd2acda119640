"""The style term: how much of a response's opening and closing its reference's humans never write.

Templates live at the edges of a response (an opening formula, a closing offer). The hand-written formula
lists of `features` only know the phrases someone wrote down; this term learns from the reference's own
human responses instead: the profile is the set of word 1- and 2-grams they use anywhere, and x = the share
of a response's edge n-grams (those within its first and last `window` words, opening and closing weighted
equally) outside the profile. Human values are leave-one-out (a response's own n-grams do not count as
seen), so the band says how novel a new human opening usually is in this bucket.
Owns: `StyleProfile`, `edge_grams`. Reads and writes nothing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

import numpy as np

from polyalign.reference.terms import UpperBand

SHARE_FLOOR = 0.05  # like the `share` features: 5 points of novelty is the least that costs 1


def grams(words: Sequence[str]) -> set[str]:
    """Distinct word 1- and 2-grams (a bigram joined by a space, which no token contains)."""
    return {*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))}


def edge_grams(words: Sequence[str], window: int) -> tuple[set[str], set[str]]:
    """The n-grams of the first and of the last `window` words."""
    return grams(words[:window]), grams(words[-window:])


class StyleProfile:
    """Document frequency of every n-gram in the reference's responses, and the human novelty band."""

    def __init__(self, docs: Sequence[Sequence[str]], window: int, band: Sequence[float]) -> None:
        self.window = window
        own = [grams(words) for words in docs]
        self.frequency = Counter(g for doc in own for g in doc)
        human = np.array([self._novelty(words, seen) for words, seen in zip(docs, own, strict=True)])
        self.band = UpperBand.fit(human, band, SHARE_FLOOR)

    def novelty(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        """(n,) mean of the opening's and the closing's share of n-grams no reference response uses."""
        return np.array([self._novelty(words, set()) for words in docs])

    def _novelty(self, words: Sequence[str], own: set[str]) -> float:
        """Unseen share, not counting the doc's own occurrence (`own`) as seen; 0 for an empty doc."""
        shares = []
        for edge in edge_grams(words, self.window):
            if edge:
                unseen = sum(1 for g in edge if self.frequency.get(g, 0) - (g in own) <= 0)
                shares.append(unseen / len(edge))
        return sum(shares) / len(shares) if shares else 0.0  # plain floats: np.mean costs µs per call
