"""The comparison reads every metric's direction off the registry."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from polyalign.evaluate import registry
from polyalign.evaluate.compare import Run, comparison, goodness
from polyalign.evaluate.registry import METRICS, get_metric
from polyalign.evaluate.suite import MACRO

BUCKET = "en|single|qa"


def _run(name: str, metric: str, value: float, draws: list[float], human: float | None = None) -> Run:
    results = {
        "metrics": {metric: {"macro": {"value": value, "human": human}, "buckets": {}}},
        "buckets": {BUCKET: {"ids_sha256": "same records"}},
    }
    return Run(name, Path(name), results, {"metrics": {metric: {MACRO: draws}}})


def test_comparison_takes_every_direction_from_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """bng falling from 1.0 to 0.8 is better; registered as higher-is-better, the same runs read worse."""
    base = _run("base", "bng", 1.0, [1.0] * 5)
    run = _run("run", "bng", 0.8, [0.6, 0.7, 0.8, 0.9, 1.0])
    assert comparison([base, run], level=0.5)["runs"]["run"]["bng"]["macro"]["verdict"] == "better"
    assert goodness(get_metric("bng"), 0.8, None) > goodness(get_metric("bng"), 1.0, None)
    monkeypatch.setitem(registry.METRICS, "bng", dataclasses.replace(METRICS["bng"], direction="higher"))
    assert comparison([base, run], level=0.5)["runs"]["run"]["bng"]["macro"]["verdict"] == "worse"
    assert goodness(get_metric("bng"), 0.8, None) < goodness(get_metric("bng"), 1.0, None)


@pytest.mark.parametrize("name", list(METRICS))
def test_heatmap_orientation_agrees_with_the_registry(name: str) -> None:
    """goodness(a) > goodness(b) exactly when the registry's `Metric.better(a, b)` says a is better."""
    metric, human = METRICS[name], 0.45
    grid = [0.0, 0.2, 0.45, 0.5, 0.7, 1.0]
    for a, b in itertools.permutations(grid, 2):
        assert (goodness(metric, a, human) > goodness(metric, b, human)) == metric.better(a, b, human), (a, b)
