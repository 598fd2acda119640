"""Buckets `language|track|family|length_bin` (METHOD.md §1).

Owns the script-aware length unit (each Latin word, digit run, CJK character and punctuation mark counts
1), the length bins (fixed paper edges or per-language quantile edges fitted on train), family mapping and
coarsening, and the sparse-bucket back-off to the parent cell. Pure functions; reads and writes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from polyalign.data.scripts import CJK
from polyalign.errors import PolyAlignError

LENGTH_BINS = ("short", "medium", "long", "xlong")
PAPER_EDGES = (40, 120, 240)
TRACKS = ("single", "multi")
FAMILIES = ("open_chat", "assistant_like", "longform_qa", "qa_search", "task_dialogue")
# The paper code's coarse 3-way family (assistant / qa / dialogue), offered as a ready coarsening.
PAPER_COARSE_FAMILIES = {
    "assistant_like": "assistant",
    "longform_qa": "qa",
    "qa_search": "qa",
    "open_chat": "dialogue",
    "task_dialogue": "dialogue",
}

# Han ideographs (with extensions and compatibility forms) and Japanese kana count one unit per character.
_LETTER = rf"(?:(?![{CJK}])[^\W\d_])"
# A word may carry ASCII apostrophes inside ("haven't" is one unit); a typographic ’ splits, as in the corpus.
_UNIT = re.compile(rf"[{CJK}]|\d+|{_LETTER}+(?:'{_LETTER}+)*|[^\w\s]")


def length_units(text: str) -> int:
    """Script-aware response length: Latin words, digit runs, CJK characters and punctuation marks."""
    return len(_UNIT.findall(text))


def length_bin(units: int, edges: Sequence[float] = PAPER_EDGES) -> str:
    """`short` ≤ e0 < `medium` ≤ e1 < `long` ≤ e2 < `xlong` (edges are inclusive upper bounds)."""
    for name, edge in zip(LENGTH_BINS, edges, strict=False):
        if units <= edge:
            return name
    return LENGTH_BINS[len(edges)]


def fit_quantile_edges(
    units_by_language: Mapping[str, Iterable[int]], quantiles: Sequence[float] = (0.25, 0.5, 0.75)
) -> dict[str, tuple[float, ...]]:
    """Per-language edges at the given quantiles of train lengths, so each language fills its bins evenly."""
    if len(quantiles) != len(LENGTH_BINS) - 1:
        raise ValueError(
            f"need {len(LENGTH_BINS) - 1} quantiles for {len(LENGTH_BINS)} bins, got {quantiles}"
        )
    edges = {}
    for language, units in units_by_language.items():
        values = np.fromiter(units, dtype=float)
        if values.size == 0:
            continue
        edges[language] = tuple(float(q) for q in np.quantile(values, quantiles))
    return edges


@dataclass(frozen=True)
class BucketKey:
    """A bucket `language|track|family|length_bin`, or a whole context cell when `length_bin` is None.

    Buckets travel as strings in records, JSON and logs; this type is how code reads and builds them, so
    the separator and the field order live here only.
    """

    language: str
    track: str
    family: str
    length_bin: str | None = None

    SEPARATOR: ClassVar[str] = "|"

    @classmethod
    def parse(cls, text: str) -> BucketKey:
        """`en|single|open_chat|short` (a bucket) or `en|single|open_chat` (a cell)."""
        parts = str(text).split(cls.SEPARATOR)
        if len(parts) not in (3, 4) or not all(parts):
            raise PolyAlignError(
                f"{text!r} is neither a bucket 'language|track|family|length_bin' "
                "nor a cell 'language|track|family'"
            )
        return cls(*parts)

    def __str__(self) -> str:
        parts = (self.language, self.track, self.family, self.length_bin)
        return self.SEPARATOR.join(p for p in parts if p is not None)

    @property
    def is_cell(self) -> bool:
        return self.length_bin is None

    @property
    def cell(self) -> BucketKey:
        """The context cell (language, track, family): what is known from the prompt alone."""
        return BucketKey(self.language, self.track, self.family)

    def with_bin(self, length_bin: str) -> BucketKey:
        return BucketKey(self.language, self.track, self.family, length_bin)

    @classmethod
    def sort_key_of(cls, text: str) -> tuple[str, str, str, int]:
        """`sorted(buckets, key=BucketKey.sort_key_of)` for buckets held as strings."""
        return cls.parse(text).sort_key()

    def sort_key(self) -> tuple[str, str, str, int]:
        """Cells alphabetically, then length bins from short to xlong (a cell before its buckets)."""
        rank = -1 if self.length_bin is None else _bin_rank(self.length_bin)
        return self.language, self.track, self.family, rank


def _bin_rank(name: str) -> int:
    return LENGTH_BINS.index(name) if name in LENGTH_BINS else len(LENGTH_BINS)


def track_from_turns(n_user_turns: int) -> str:
    return "single" if n_user_turns <= 1 else "multi"


@dataclass(frozen=True)
class BackOff:
    """Which reference each bucket uses: itself when it has ≥ min_size train responses, else its cell."""

    min_size: int
    train_counts: dict[str, int]
    reference: dict[str, str]

    @property
    def backed_off(self) -> list[str]:
        return sorted(b for b, ref in self.reference.items() if ref != b)

    @property
    def sparse_cells(self) -> list[str]:
        """Cells that stay below min_size even pooled: reported, since there is no further parent."""
        cell_counts: Counter[str] = Counter()
        for bucket, n in self.train_counts.items():
            cell_counts[str(BucketKey.parse(bucket).cell)] += n
        cells = {str(BucketKey.parse(b).cell) for b in self.reference}
        return sorted(c for c in cells if cell_counts[c] < self.min_size)


def plan_back_off(train_buckets: Iterable[str], all_buckets: Iterable[str], min_size: int) -> BackOff:
    """Map every bucket (train, val or test) to its reference bucket from train counts only."""
    counts = Counter(train_buckets)
    reference = {
        b: (b if counts[b] >= min_size else str(BucketKey.parse(b).cell)) for b in {*counts, *all_buckets}
    }
    return BackOff(min_size=min_size, train_counts=dict(counts), reference=reference)
