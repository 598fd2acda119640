"""Bootstrap, intervals, paired differences and the small statistics the metrics share."""

from __future__ import annotations

import numpy as np
import pytest

from polyalign.evaluate.engine import aggregate, bootstrap_rows, item_values
from polyalign.evaluate.results import MACRO
from polyalign.evaluate.stats import (
    bootstrap_positions,
    bucket_rng,
    centred_ci,
    js_divergence,
    macro_average,
    paired_difference,
    percentile_ci,
    rank_auc,
    wasserstein_equal,
)


def test_draws_depend_only_on_seed_and_bucket():
    """Two runs on the same records get the same draws: that is what makes the stored draws paired."""
    a = bootstrap_positions(7, 20, bucket_rng(0, "en|single|open_chat|short"))
    b = bootstrap_positions(7, 20, bucket_rng(0, "en|single|open_chat|short"))
    c = bootstrap_positions(7, 20, bucket_rng(0, "en|single|open_chat|long"))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_centred_interval_is_centred_on_the_point():
    draws = np.linspace(0.0, 1.0, 101) + 5.0  # median 5.5
    low, high = centred_ci(1.0, draws, 0.9)
    assert low < 1.0 < high and (low + high) / 2 == pytest.approx(1.0)
    assert np.isnan(percentile_ci(np.array([np.nan]), 0.95)[0])


def test_centred_interval_stays_inside_the_metric_bounds():
    """A share near 1 whose biased draws sit lower: shifted up, the interval would pass 1; it is cut there."""
    draws = np.linspace(0.90, 0.96, 61)  # median 0.93, 90% interval [0.903, 0.957]
    low, high = centred_ci(0.99, draws, 0.9, bounds=(0.0, 1.0))
    assert low == pytest.approx(0.963) and high == 1.0
    from polyalign.evaluate.registry import get_metric

    assert get_metric("distinct_2").bounds == (0.0, 1.0) and get_metric("bng").bounds[0] == 0.0


def test_paired_difference_of_identical_draws_is_exactly_zero():
    draws = np.random.default_rng(0).normal(size=100)
    result = paired_difference(0.3, 0.3, draws, draws, 0.95)
    assert result["diff"] == 0 and result["low"] == 0 and result["high"] == 0


def test_macro_average_weights_buckets_equally_not_records():
    """Bucket a: 4 records (1, 1, 1, 5), mean 2; bucket b: 2 records (10, 10), mean 10. Per record the mean
    would be 28/6 ≈ 4.67; per bucket it is (2 + 10) / 2 = 6, and each macro draw is (draw of a + 10) / 2."""
    scores = np.array([1.0, 1.0, 1.0, 5.0, 10.0, 10.0])
    a, b = "en|single|open_chat|short", "zh|single|open_chat|short"
    rows, positions = bootstrap_rows([a, a, a, a, b, b], 0, 50)
    buckets, macro, draws = aggregate(item_values({"model": scores}), rows, positions, 0.9, na_reason=str)
    assert buckets[a]["value"] == 2.0 and buckets[b]["value"] == 10.0 and buckets[b]["n"] == 2
    assert macro["value"] == 6.0 and macro["n_buckets"] == 2
    a_draws = np.array(draws[a])
    assert np.allclose(draws[MACRO], (a_draws + 10.0) / 2) and a_draws.std() > 0
    assert macro["low"] < 6.0 < macro["high"]


def test_a_bucket_without_draws_contributes_its_point_to_every_draw():
    """a has draws (0, 2, 4), b only its point 3: macro draws (0+3)/2, (2+3)/2, (4+3)/2; value (1+3)/2."""
    value, draws = macro_average({"a": 1.0, "b": 3.0}, {"a": np.array([0.0, 2.0, 4.0])})
    assert value == 2.0 and np.allclose(draws, [1.5, 2.5, 3.5])


def test_rank_auc_by_hand():
    """Positives (1, 3) vs negatives (2, 2): pairs 1>2 no, 1>2 no, 3>2 yes, 3>2 yes → 0.5; ties count ½."""
    assert rank_auc(np.array([[2.0, 2.0]]), np.array([[1.0, 3.0]]))[0] == 0.5
    assert rank_auc(np.array([[0.0, 1.0]]), np.array([[2.0, 3.0]]))[0] == 1.0
    assert rank_auc(np.array([[1.0]]), np.array([[1.0]]))[0] == 0.5


def test_js_divergence_and_wasserstein():
    assert js_divergence(np.array([1.0, 1.0]), np.array([2.0, 2.0])) == pytest.approx(0.0)
    assert js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    a, b = np.array([[0.0], [1.0]]), np.array([[3.0], [2.0]])  # sorted: (0,1) vs (2,3): mean gap 2
    assert wasserstein_equal(a, b)[0] == pytest.approx(2.0)


def test_macro_leaves_out_small_buckets_and_the_weighted_mean_counts_records():
    """Bucket a: 4 records (1, 1, 1, 5), mean 2, human (0, 0, 0, 0); bucket b: 2 records (10, 10), human
    (1, 1). With macro_min_rows 3 the macro is a's alone: 2 (human 0), b left out; the record-weighted
    mean is (4·2 + 2·10) / 6 = 14/3 (human 2/6), each of its draws (4·draw of a + 2·10) / 6. With 5 no
    bucket qualifies: the macro is n/a, the weighted mean stays."""
    scores = np.array([1.0, 1.0, 1.0, 5.0, 10.0, 10.0])
    human = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    a, b = "en|single|open_chat|short", "zh|single|open_chat|short"
    rows, positions = bootstrap_rows([a, a, a, a, b, b], 0, 50)
    values = item_values({"model": scores, "human": human})
    _, macro, draws = aggregate(values, rows, positions, 0.9, macro_min_rows=3, na_reason=str)
    assert (macro["value"], macro["human"], macro["n_buckets"], macro["left_out"]) == (2.0, 0.0, 1, 1)
    assert np.allclose(draws[MACRO], draws[a])
    weighted = macro["weighted"]
    assert weighted["value"] == pytest.approx(14 / 3) and weighted["human"] == pytest.approx(1 / 3)
    assert (weighted["n"], weighted["n_buckets"]) == (6, 2)
    weighted_draws = macro_average({a: 2.0, b: 10.0}, {a: np.array(draws[a])}, {a: 4, b: 2})[1]
    assert np.allclose(weighted_draws, (4 * np.array(draws[a]) + 20) / 6)
    _, none, _ = aggregate(values, rows, positions, 0.9, macro_min_rows=5, na_reason=str)
    assert none["value"] is None and "no bucket has >= 5 records" in none["na"]
    assert none["weighted"]["value"] == pytest.approx(14 / 3)


def test_each_cell_gets_the_record_weighted_mean_of_its_buckets():
    """Cell en|single|open_chat: short (1, 1, 1, 5) mean 2 and medium (10, 10) mean 10: (4·2 + 2·10) / 6
    = 14/3 over 6 records, its interval around it; cell zh|single|open_chat: its one bucket (3, 3)."""
    a, b, c = "en|single|open_chat|short", "en|single|open_chat|medium", "zh|single|open_chat|short"
    scores = np.array([1.0, 1.0, 1.0, 5.0, 10.0, 10.0, 3.0, 3.0])
    rows, positions = bootstrap_rows([a, a, a, a, b, b, c, c], 0, 50)
    _, macro, _ = aggregate(item_values({"model": scores}), rows, positions, 0.9, na_reason=str)
    en, zh = macro["by_cell"]["en|single|open_chat"], macro["by_cell"]["zh|single|open_chat"]
    assert en["value"] == pytest.approx(14 / 3) and (en["n"], en["n_buckets"]) == (6, 2)
    assert en["low"] <= 14 / 3 <= en["high"] and en["low"] < en["high"]
    assert (zh["value"], zh["n"], zh["low"], zh["high"]) == (3.0, 2, 3.0, 3.0)
