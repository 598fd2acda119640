"""A sparse bucket borrows its cell's training responses nearest in length, never the whole cell's band.

Built on a cell made in code whose majority answers are short: 60 short, 15 medium, 5 long, no xlong.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polyalign.data.buckets import length_bin, length_units
from polyalign.data.records import Message, Record
from polyalign.errors import PolyAlignError
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.features import extract
from polyalign.reference.reference import (
    REFERENCE_FILE,
    HumanReference,
    bin_ranges,
    build_reference,
    length_window,
)
from polyalign.reference.report import build_reference_report
from polyalign.reference.support import SupportScorer, support_distance

CELL = "en|single|open_chat"
WORDS = ["river", "stone", "garden", "window", "letter", "market", "summer", "paper", "bridge", "candle"]


def answer(words: int, seed: int) -> str:
    """`words` words in sentences of eight, from a seeded draw (plain prose, no marker words)."""
    rng = np.random.default_rng(seed)
    drawn = [WORDS[i] for i in rng.integers(len(WORDS), size=words)]
    sentences = [" ".join(drawn[i : i + 8]).capitalize() + "." for i in range(0, words, 8)]
    return " ".join(sentences)


def train_record(i: int, words: int) -> Record:
    text = answer(words, i)
    units = length_units(text)
    return Record(id=f"r{i}", source="s", language="en", track="single", family="open_chat",
                  messages=(Message("user", "Tell me."), Message("assistant", text)), split="train",
                  length_units=units, length_bin=length_bin(units),
                  bucket=f"{CELL}|{length_bin(units)}")  # fmt: skip


@pytest.fixture(scope="module")
def short_majority() -> list[Record]:
    sizes = [*range(4, 34, 1)] * 2 + list(range(50, 95, 3)) + [110, 130, 150, 170, 190]
    return [train_record(i, words) for i, words in enumerate(sizes)]  # 60 short, 15 medium, 5 long


@pytest.fixture(scope="module")
def reference(short_majority: list[Record]) -> HumanReference:
    return build_reference(short_majority, ReferenceConfig(min_bucket_size=20))


def test_sparse_long_bucket_borrows_length_near_responses_not_the_cell_band(
    short_majority: list[Record], reference: HumanReference
) -> None:
    """5 long answers, 15 more needed: the nearest are medium ones (all shorter than the cell's short
    majority is far), so no short answer enters the long bucket's reference."""
    long = reference.stats[f"{CELL}|long"]
    assert (long.level, long.own, long.n) == ("borrowed", 5, 20)
    longest_short = max(r.length_units or 0 for r in short_majority if r.length_bin == "short")
    assert long.borrowed_range is not None and long.borrowed_range[0] > longest_short
    assert long.borrowed_range[1] == max(r.length_units or 0 for r in short_majority)
    assert reference.resolve(f"{CELL}|long") == f"{CELL}|long"
    short = reference.stats[f"{CELL}|short"]
    assert (short.level, short.own, short.borrowed_range) == ("bucket", 60, None)
    # A long human answer sits inside its borrowed band, far outside the cell's; its first sentence is
    # the other way round: the cell band rewarded the truncation, the borrowed band punishes it.
    text, first = answer(160, 99), answer(160, 99).split(". ")[0] + "."
    scorer = SupportScorer(reference)
    d_long, d_first = scorer.score([text, first], [f"{CELL}|long"] * 2)
    cell = reference.bands[CELL]
    x = extract([text, first], "en")
    d_cell = support_distance(x, cell.low, cell.high, cell.scale, reference.weight_vector(), 5.0)
    assert d_long < d_first and d_cell[0] > d_cell[1]
    assert d_long < d_cell[0]


def test_window_widens_until_the_minimum_count_is_met() -> None:
    """Range (120, 240]; own 130 and 200. Distances (log factor of widening): 100 → log 1.2 = 0.18,
    400 → log(400/240) = 0.51, 50 → log 2.4 = 0.88, 20 → log 6 = 1.79, 10 → 2.48."""
    lengths = np.array([10, 20, 50, 100, 130, 200, 400])
    own = np.isin(lengths, [130, 200])
    taken = [lengths[length_window(lengths, own, 120, 240, n)].tolist() for n in (2, 3, 4, 5, 7, 9)]
    assert taken == [[130, 200], [100, 130, 200], [100, 130, 200, 400], [50, 100, 130, 200, 400],
                     lengths.tolist(), lengths.tolist()]  # fmt: skip
    # 30 and 160 are equally far from (40, 120] (a factor 4/3 each): both are taken, whatever the order.
    tied = np.array([160, 30, 500])
    assert length_window(tied, np.zeros(3, bool), 40, 120, 1).tolist() == [0, 1]
    # The open-ended bins widen on one side only.
    assert length_window(np.array([5, 200, 100]), np.zeros(3, bool), 240, np.inf, 1).tolist() == [1]
    assert length_window(np.array([90, 50, 45]), np.zeros(3, bool), 0, 40, 1).tolist() == [2]
    assert bin_ranges([40, 120, 240]) == {"short": (0, 40), "medium": (40, 120), "long": (120, 240),
                                          "xlong": (240, np.inf)}  # fmt: skip


def test_a_bucket_unseen_in_training_resolves_by_length(reference: HumanReference) -> None:
    """No xlong answer in training: the xlong bucket is still known, built from the longest answers."""
    xlong = reference.stats[f"{CELL}|xlong"]
    assert (xlong.level, xlong.own, xlong.n) == ("borrowed", 0, 20)
    assert xlong.borrowed_range is not None and xlong.borrowed_range[1] == max(xlong.lengths)
    assert min(xlong.lengths) == xlong.borrowed_range[0] > reference.stats[f"{CELL}|short"].lengths[-1]
    assert reference.resolve(f"{CELL}|xlong") == f"{CELL}|xlong"
    assert reference.resolve(CELL) == CELL and reference.stats[CELL].level == "cell"
    with pytest.raises(PolyAlignError, match="no human reference"):
        reference.resolve("zh|single|open_chat|short")
    with pytest.raises(PolyAlignError, match="length bin 'huge'"):
        reference.resolve(f"{CELL}|huge")


def test_edges_decide_the_ranges(short_majority: list[Record]) -> None:
    """With edges (10, 20, 30) every answer above 30 units is xlong's own; long (20, 30] borrows."""
    ref = build_reference(short_majority, ReferenceConfig(min_bucket_size=20), edges={"en": [10, 20, 30]})
    assert ref.edges == {"en": [10.0, 20.0, 30.0]}
    long = ref.stats[f"{CELL}|long"]
    assert long.level == "borrowed" and long.lengths[0] > 10
    with pytest.raises(PolyAlignError, match=r"no length-bin edges for language\(s\) \['en'\]"):
        build_reference(short_majority, ReferenceConfig(), edges={"zh": [40, 120, 240]})


def test_report_lists_borrowed_buckets_and_their_range(
    short_majority: list[Record], reference: HumanReference
) -> None:
    buckets = sorted({str(r.bucket) for r in short_majority})
    report = build_reference_report(reference, buckets, {"test": []})
    rows = {row.bucket: row for row in report.rows}
    long = reference.stats[f"{CELL}|long"]
    assert rows[f"{CELL}|long"].borrowed_range == long.borrowed_range and rows[f"{CELL}|long"].own == 5
    assert rows[f"{CELL}|short"].borrowed_range is None
    low, high = long.borrowed_range or (0, 0)
    assert f"borrowed (own 5): lengths {low}–{high}" in report.to_markdown()


def test_save_and_load_keep_the_borrowing(reference: HumanReference, tmp_path: Path) -> None:
    reference.save(tmp_path)
    loaded = HumanReference.load(tmp_path)
    assert loaded.stats == reference.stats and loaded.edges == reference.edges
    assert loaded.stats[f"{CELL}|xlong"].borrowed_range == reference.stats[f"{CELL}|xlong"].borrowed_range
    data = json.loads((tmp_path / REFERENCE_FILE).read_text(encoding="utf-8"))
    del data["format"]  # a reference written before borrowing: it judged sparse buckets by the cell band
    (tmp_path / REFERENCE_FILE).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PolyAlignError, match=r"reference format 1.*rebuild the reference"):
        HumanReference.load(tmp_path)
