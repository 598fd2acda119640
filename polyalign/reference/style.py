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
from collections.abc import Callable, Sequence, Set

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
    """The n-grams the reference's responses use (and those only one of them uses), and the human band."""

    def __init__(self, docs: Sequence[Sequence[str]], window: int, band: Sequence[float]) -> None:
        self.window = window
        frequency = Counter(g for words in docs for g in grams(words))  # in how many responses
        self.seen = frozenset(frequency)
        # Leave-one-out: a response's edge n-gram is unseen by the others iff only it uses the n-gram.
        self._single = frozenset(g for g, n in frequency.items() if n == 1)
        human = np.array([self._novelty(words, self._single.intersection) for words in docs])
        self.band = UpperBand.fit(human, band, SHARE_FLOOR)

    def novelty(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        """(n,) mean of the opening's and the closing's share of n-grams no reference response uses."""
        return np.array([self._novelty(words, lambda edge: edge - self.seen) for words in docs])

    def _novelty(self, words: Sequence[str], unseen: Callable[[set[str]], Set[str]]) -> float:
        """Mean unseen share over the non-empty edges (`unseen` picks an edge's unseen n-grams, set
        operations in C); 0 for an empty doc."""
        shares = [len(unseen(edge)) / len(edge) for edge in edge_grams(words, self.window) if edge]
        return sum(shares) / len(shares) if shares else 0.0  # plain floats: np.mean costs µs per call
