"""The neighbour term: how far a response lies from the nearest human responses of its reference.

Per-feature bands judge each feature alone, so in a heterogeneous bucket a response can sit inside every
band and still resemble no human response (a first sentence of an essay among one-liners and essays; a
response from another cell). Here a response is a bag of its words (sublinear tf 1 + log n, L2-normalised
over all its words, so words no human used lower every similarity) and x = mean cosine distance to its k
nearest reference responses. Exact, deterministic, no training: a sparse product per reference.
Owns: `NeighbourIndex`. Reads and writes nothing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix

from polyalign.reference.terms import UpperBand

DISTANCE_FLOOR = 0.05  # cosine-distance scale floor: a shift of 0.05 is the least that costs 1


def bag_of_words(docs: Sequence[Sequence[str]], vocabulary: dict[str, int]) -> csr_matrix:
    """(n, V) rows of sublinear term frequencies over `vocabulary`, each divided by the norm of all of
    the doc's words (known or not); an empty doc is a zero row. Vectorised over the batch: the only
    per-word Python work is counting and one dictionary lookup."""
    counters = [Counter(words) for words in docs]
    sizes = np.fromiter(map(len, counters), dtype=np.intp, count=len(docs))
    total = int(sizes.sum())
    counts = np.fromiter(itertools.chain.from_iterable(c.values() for c in counters), float, total)
    words = itertools.chain.from_iterable(counters)  # each doc's distinct words, in `counts` order
    columns = np.fromiter(map(vocabulary.get, words, itertools.repeat(-1)), np.intp, total)  # -1: unseen
    rows = np.repeat(np.arange(len(docs)), sizes)  # (total,) the doc of each distinct word
    weights = 1.0 + np.log(counts)
    norm = np.sqrt(np.bincount(rows, weights * weights, minlength=len(docs)))  # (n,)
    known = columns >= 0
    values = weights[known] / norm[rows[known]]
    return csr_matrix((values, (rows[known], columns[known])), shape=(len(docs), len(vocabulary)))


class NeighbourIndex:
    """The reference's responses as bags of words, and the human band of the k-nearest distance."""

    def __init__(self, docs: Sequence[Sequence[str]], k: int, band: Sequence[float]) -> None:
        self.vocabulary: dict[str, int] = {}
        for words in docs:
            for word in words:
                self.vocabulary.setdefault(word, len(self.vocabulary))
        self.matrix = bag_of_words(docs, self.vocabulary)  # (m, V)
        self._columns = self.matrix.T.tocsr()  # (V, m), transposed once rather than per call
        self.k = max(1, min(k, len(docs) - 1))  # leave-one-out needs one other response
        similarity = (self.matrix @ self._columns).toarray()  # (m, m)
        np.fill_diagonal(similarity, -np.inf)  # leave one out: never one's own neighbour
        self.band = UpperBand.fit(self._distance(similarity), band, DISTANCE_FLOOR)

    def distance(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        """(n,) mean cosine distance of each doc to its k nearest reference responses."""
        return self._distance((bag_of_words(docs, self.vocabulary) @ self._columns).toarray())

    def _distance(self, similarity: np.ndarray) -> np.ndarray:
        k = min(self.k, similarity.shape[1])
        nearest = np.partition(similarity, -k, axis=1)[:, -k:]  # (n, k) the k largest similarities
        return 1.0 - nearest.mean(axis=1)
