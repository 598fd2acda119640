from __future__ import annotations

import numpy as np
import pytest

from polyalign.reference.features import FEATURE_INDEX, FEATURE_NAMES
from polyalign.reference.support import feature_contributions, support_distance


def test_distance_by_hand() -> None:
    """Two features, band [0, 1] and [10, 20], scales 1 and 10, weights 1 and 3, clip 5.

    x = (0.5, 15): inside both bands -> d = 0.
    x = (3, 15): feature 0 is 2 above H, 2/1 = 2 -> d = (1*2 + 3*0) / 4 = 0.5.
    x = (-100, 40): feature 0 clipped at 5, feature 1 (40-20)/10 = 2 -> d = (5 + 3*2) / 4 = 2.75.
    """
    low, high = np.array([0.0, 10.0]), np.array([1.0, 20.0])
    scale, weights = np.array([1.0, 10.0]), np.array([1.0, 3.0])
    x = np.array([[0.5, 15.0], [3.0, 15.0], [-100.0, 40.0]])
    d = support_distance(x, low, high, scale, weights, clip=5.0)
    np.testing.assert_allclose(d, [0.0, 0.5, 2.75])
    parts = feature_contributions(x, low, high, scale, weights, clip=5.0)
    np.testing.assert_allclose(parts.sum(axis=1), d)


def test_no_single_feature_can_dominate() -> None:
    """A rare count (band [0, 0], floor 1): one event costs 1/F, a thousand cost at most clip/F."""
    n_features = len(FEATURE_NAMES)
    low, high, scale = np.zeros(n_features), np.zeros(n_features), np.ones(n_features)
    weights = np.ones(n_features)
    q = FEATURE_INDEX["questions"]
    x = np.zeros((3, n_features))
    x[1, q], x[2, q] = 1.0, 1000.0
    d = support_distance(x, low, high, scale, weights, clip=5.0)
    assert d[0] == 0.0
    assert d[1] == pytest.approx(1 / n_features)
    assert d[2] == pytest.approx(5 / n_features)
    assert d[2] < 0.25  # far less than a response off-band on many features


def test_distance_is_finite_for_infinite_features() -> None:
    low, high, scale, weights = np.zeros(2), np.ones(2), np.ones(2), np.ones(2)
    d = support_distance(np.array([[np.inf, -np.inf]]), low, high, scale, weights, clip=5.0)
    assert d.tolist() == [5.0]
