"""Bucket plan and sampler (train/sampling.py): equal mass at τ = 0, natural at τ = 1, clipped ratios."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from polyalign.train.sampling import BucketSampler, allocate_draws, clipped_ratios, plan_buckets, target_mass

# Sizes 2, 4, 6, 12 (N = 24, K = 4).
EXAMPLES = ["a"] * 2 + ["b"] * 4 + ["c"] * 6 + ["d"] * 12


def test_target_mass_by_hand() -> None:
    """n = (2, 4, 6, 12): τ = 0 → 1/4 each; τ = 1 → n / 24; τ = 0.5 → √n / Σ √n."""
    n = [2, 4, 6, 12]
    np.testing.assert_allclose(target_mass(n, 0.0), [0.25] * 4)
    np.testing.assert_allclose(target_mass(n, 1.0), np.array(n) / 24)
    np.testing.assert_allclose(target_mass(n, 0.5), np.sqrt(n) / np.sqrt(n).sum())


def test_paper_weights_without_clipping() -> None:
    """At τ = 0 the ratio is the paper's w_b = N / (K n_b) = 24 / (4 n_b) = (3, 1.5, 1, 0.5): mean 1."""
    plan = plan_buckets(EXAMPLES, "weights", 0.0, (0.0, 100.0))
    np.testing.assert_allclose(plan.weight, [3.0, 1.5, 1.0, 0.5])
    np.testing.assert_allclose(np.dot(plan.counts, plan.weight) / 24, 1.0)
    np.testing.assert_allclose(plan.expected_mass, [0.25] * 4)
    assert plan.probability == pytest.approx([2 / 24, 4 / 24, 6 / 24, 12 / 24])  # natural order


def test_clipped_ratios_keep_mean_one_and_bounds() -> None:
    """Clip at 2: raw (3, 1.5, 1, 0.5) → a is capped and the others scaled up so Σ natural · r = 1 again."""
    natural = np.array([2, 4, 6, 12]) / 24
    ratio = clipped_ratios(natural, np.full(4, 0.25), (0.1, 2.0))
    assert ratio.max() <= 2.0 + 1e-12 and ratio.min() >= 0.1
    np.testing.assert_allclose(np.dot(natural, ratio), 1.0)
    assert ratio[0] == pytest.approx(2.0)
    # the unclipped buckets keep their relative sizes
    np.testing.assert_allclose(ratio[1:] / ratio[1], np.array([1.5, 1.0, 0.5]) / 1.5)
    with pytest.raises(ValueError, match="lo <= 1 <= hi"):
        clipped_ratios(natural, np.full(4, 0.25), (0.1, 0.9))


def test_plain_plan_is_natural_with_unit_weights() -> None:
    plan = plan_buckets(EXAMPLES, "none", extra_buckets=["e"])
    assert plan.buckets == ("a", "b", "c", "d", "e") and plan.counts[-1] == 0
    assert plan.weight[:4] == (1.0, 1.0, 1.0, 1.0)
    np.testing.assert_allclose(plan.expected_mass, [2 / 24, 4 / 24, 6 / 24, 12 / 24, 0.0])
    weighted = plan_buckets(EXAMPLES, "weights", 0.0, extra_buckets=["e"])  # an eval-only bucket
    assert weighted.ratio[-1] == 0.0 and weighted.probability[-1] == 0.0
    np.testing.assert_allclose(weighted.expected_mass, [0.25] * 4 + [0.0])


def epoch_counts(sampler: BucketSampler, epoch: int) -> Counter:
    sampler.set_epoch(epoch)
    return Counter(EXAMPLES[i] for i in sampler)


@pytest.mark.parametrize("temperature,expected", [(0.0, [6, 6, 6, 6]), (1.0, [2, 4, 6, 12])])
def test_sampler_epoch_gives_each_bucket_its_mass(temperature: float, expected: list[int]) -> None:
    """τ = 0: each of the 4 buckets gets 24 / 4 = 6 draws per epoch; τ = 1: n_b draws (natural)."""
    plan = plan_buckets(EXAMPLES, "sampling", temperature, (0.0, 100.0))
    ids = [plan.buckets.index(b) for b in EXAMPLES]
    sampler = BucketSampler(ids, plan.probability, seed=3)
    for epoch in range(3):
        counts = epoch_counts(sampler, epoch)
        assert [counts[b] for b in "abcd"] == expected
        assert len(list(sampler)) == len(sampler) == 24


def test_sampler_is_seeded_by_seed_and_epoch_and_covers_buckets() -> None:
    plan = plan_buckets(EXAMPLES, "sampling", 0.0, (0.0, 100.0))
    ids = [plan.buckets.index(b) for b in EXAMPLES]
    one, two = BucketSampler(ids, plan.probability, seed=3), BucketSampler(ids, plan.probability, seed=3)
    assert list(one) == list(two)  # same seed and epoch: same stream on every process
    one.set_epoch(1)
    assert list(one) != list(two)
    # bucket "c" (6 examples, 6 draws) is drawn without replacement: every example exactly once
    assert sorted(i for i in one if EXAMPLES[i] == "c") == [6, 7, 8, 9, 10, 11]
    # bucket "a" (2 examples, 6 draws): each example 3 times
    assert Counter(i for i in one if EXAMPLES[i] == "a") == {0: 3, 1: 3}


def test_uneven_allocation_stays_within_one_and_rotates_ties() -> None:
    """25 draws over 4 equal buckets: 6.25 each → one bucket gets 7; which one varies by epoch."""
    probability = np.full(4, 0.25)
    winners = set()
    for epoch in range(20):
        draws = allocate_draws(probability, 25, np.random.default_rng([0, epoch]))
        assert draws.sum() == 25 and set(draws.tolist()) == {6, 7}
        winners.add(int(np.argmax(draws)))
    assert len(winners) > 1


def test_sampler_refuses_mass_on_empty_bucket() -> None:
    with pytest.raises(ValueError, match="no examples"):
        BucketSampler([0, 0], [0.5, 0.5])
