"""The demo corpus of the offline default: imbalanced training buckets, and test rows enough for every
metric in every cell and bucket."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from polyalign.data.buckets import length_bin, length_units
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.fixture.demo import CELLS, EDGES, make_demo_corpus
from polyalign.data.prepare import prepare_stage
from polyalign.errors import ConfigError
from polyalign.evaluate.config import EvalConfig


@pytest.fixture(scope="module")
def corpus():
    return make_demo_corpus(0)


def test_same_seed_same_corpus_other_seed_other_texts(corpus) -> None:
    assert [r.messages for r in make_demo_corpus(0)] == [r.messages for r in corpus]
    assert [r.messages for r in make_demo_corpus(1)] != [r.messages for r in corpus]


def test_every_response_lies_in_its_intended_bin(corpus) -> None:
    for record in corpus:
        assert length_bin(length_units(record.response), EDGES) == record.meta["intended_length_bin"]


def test_test_split_has_the_rows_every_metric_needs(corpus) -> None:
    """C-MAUVE needs its rows per side in each cell; the AUC and the macro-average in each bucket."""
    config = EvalConfig()
    test = [r for r in corpus if r.split == "test"]
    cells = Counter((r.language, r.track, r.family) for r in test)
    buckets = Counter((r.language, r.track, r.family, r.meta["intended_length_bin"]) for r in test)
    assert len(cells) == len(CELLS) and min(cells.values()) >= config.mauve_min_rows
    assert len(buckets) == 2 * len(CELLS)
    assert min(buckets.values()) >= max(config.macro_min_rows, config.auc_min_rows)


def test_training_buckets_are_imbalanced_and_bin_shares_match_across_splits(corpus) -> None:
    """The largest training bucket is at least ten times the smallest (what global training flattens);
    each cell's test bin shares are its training ones (what sampled profile lengths reproduce)."""
    shares: dict[tuple[str, str], Counter[str]] = {}
    for record in corpus:
        key = (record.family, record.split)
        shares.setdefault(key, Counter())[record.meta["intended_length_bin"]] += 1
    train = [n for (_, split), bins in shares.items() if split == "train" for n in bins.values()]
    assert max(train) >= 10 * min(train)
    for cell in CELLS:
        train_bins, test_bins = shares[(cell.family, "train")], shares[(cell.family, "test")]
        assert train_bins["short"] / train_bins.total() == pytest.approx(
            test_bins["short"] / test_bins.total(), abs=0.02
        )


def test_a_dialogue_stays_in_one_split(corpus) -> None:
    splits: dict[str, set[str]] = {}
    for record in corpus:
        if "dialogue" in record.meta:
            splits.setdefault(record.meta["dialogue"], set()).add(record.split)
    assert splits and all(len(s) == 1 for s in splits.values())


def test_prepare_keeps_every_record_in_its_own_split(tmp_path: Path, corpus) -> None:
    config = PrepareConfig(sources=[SourceConfig(demo=0)])
    config.buckets.fixed_edges = [float(e) for e in EDGES]
    prepared = prepare_stage(config, root=tmp_path, progress=False)
    counts = prepared.manifest["counts"]
    assert counts["kept"] == len(corpus) and counts["rejected"] == counts["duplicates"] == 0
    expected = Counter(r.split for r in corpus)
    assert counts["kept_by_split"] == {s: expected[s] for s in counts["kept_by_split"]}
    assert len(prepared.content.report.rows) == 2 * len(CELLS)


def test_one_synthetic_source_of_each_kind() -> None:
    with pytest.raises(ConfigError, match="demo source labels its own records"):
        SourceConfig(demo=0, language="en")
    with pytest.raises(ConfigError, match="exactly one"):
        SourceConfig(demo=0, fixture=0)
