"""The comparison's verdicts, worked by hand: direction × target × interval, all read off the registry.

Every case compares two runs on one metric at the macro scope with five bootstrap draws and level 0.5,
so the interval is the 25th-75th percentile of the paired draw differences: with five sorted values that
is exactly the 2nd and the 4th (NumPy's linear interpolation lands on them), and the interval is centred
on the point difference (shifted by point − median; the draws below make that shift 0).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import pytest

from polyalign.evaluate import registry
from polyalign.evaluate.compare import (
    Run,
    by_design,
    cell_difference,
    comparison,
    goodness,
    like_for_like,
    paired,
)
from polyalign.evaluate.registry import METRICS, get_metric
from polyalign.evaluate.results import MACRO

BUCKET = "en|single|qa"


def _run(name: str, metric: str, value: float, draws: list[float], human: float | None = None) -> Run:
    results = {
        "metrics": {metric: {"macro": {"value": value, "human": human}, "buckets": {}}},
        "buckets": {BUCKET: {"ids_sha256": "same records"}},
    }
    return Run(name, Path(name), results, {"metrics": {metric: {MACRO: draws}}})


V, D, EVEN = "value", "distance to target", "no clear difference"
CASES = [
    # em, higher is better, raw values. d = [0, .1, .2, .3, .4]: interval [.1, .3] excludes 0, run higher.
    ("em", 0.5, [0.5] * 5, 0.7, [0.5, 0.6, 0.7, 0.8, 0.9], None, 0.2, (0.1, 0.3), V, "better"),
    # the same two runs swapped: d = [0, -.1, -.2, -.3, -.4], interval [-.3, -.1]: run lower, worse.
    ("em", 0.7, [0.5, 0.6, 0.7, 0.8, 0.9], 0.5, [0.5] * 5, None, -0.2, (-0.3, -0.1), V, "worse"),
    # d = [-.2, -.05, .05, .15, .3], interval [-.05, .15] holds 0 (median .05 = diff, no shift).
    ("em", 0.5, [0.5] * 5, 0.55, [0.3, 0.45, 0.55, 0.65, 0.8], None, 0.05, (-0.05, 0.15), V, EVEN),
    # bng, lower is better, its ideal 0 is its lower bound, so raw values: d = [-.4 .. 0] → [-.3, -.1].
    ("bng", 1.0, [1.0] * 5, 0.8, [0.6, 0.7, 0.8, 0.9, 1.0], None, -0.2, (-0.3, -0.1), V, "better"),
    ("bng", 1.0, [1.0] * 5, 1.2, [1.0, 1.1, 1.2, 1.3, 1.4], None, 0.2, (0.1, 0.3), V, "worse"),
    # distinct_1, closer to the human 0.5: distances .3 (base) and [0, .05, .1, .15, .2] (run draws), so
    # d = [-.3, -.25, -.2, -.15, -.1] → [-.25, -.15], diff .1 - .3 = -.2: the value fell, towards the human.
    ("distinct_1", 0.8, [0.8] * 5, 0.6, [0.5, 0.55, 0.6, 0.65, 0.7], 0.5, -0.2, (-0.25, -0.15), D, "better"),
    # the value fell again but past the human: distances .1 → [.3, .25, .2, .15, .1]; d → [.05, .15], worse.
    ("distinct_1", 0.6, [0.6] * 5, 0.3, [0.2, 0.25, 0.3, 0.35, 0.4], 0.5, 0.1, (0.05, 0.15), D, "worse"),
    # auc, lower is better but its ideal .5 lies inside [0, 1]: distance to .5. Base .4 away; run draws
    # [.15, .1, .05, 0, .05] away, d sorted [-.4, -.35, -.35, -.3, -.25] → [-.35, -.3], diff .05 - .4.
    ("auc", 0.9, [0.9] * 5, 0.45, [0.35, 0.4, 0.45, 0.5, 0.55], None, -0.35, (-0.35, -0.3), D, "better"),
    # a lower AUC that is worse: .6 is .1 from .5, .2 is .3 away; d = [.3, .25, .2, .15, .1] → [.15, .25].
    ("auc", 0.6, [0.6] * 5, 0.2, [0.1, 0.15, 0.2, 0.25, 0.3], None, 0.2, (0.15, 0.25), D, "worse"),
]
ARGS = "metric, base_value, base_draws, run_value, run_draws, human, diff, ci, of, verdict"


@pytest.mark.parametrize(ARGS, CASES)
def test_paired_verdict_by_hand(
    metric, base_value, base_draws, run_value, run_draws, human, diff, ci, of, verdict
):
    base = _run("base", metric, base_value, base_draws, human)
    run = _run("run", metric, run_value, run_draws, human)
    out = paired(base, run, get_metric(metric), MACRO, level=0.5)
    assert out["diff"] == pytest.approx(diff, abs=1e-12)
    assert (out["low"], out["high"]) == pytest.approx(ci, abs=1e-12)
    assert out["of"] == of and out["verdict"] == verdict


def test_paired_without_draws_or_human_says_why() -> None:
    out = paired(_run("a", "em", 0.5, []), _run("b", "em", 0.7, []), get_metric("em"), MACRO, 0.5)
    assert out["diff"] == pytest.approx(0.2) and out["low"] is None and out["verdict"] == "no interval"
    base, run = _run("a", "distinct_1", 0.5, [0.5] * 5), _run("b", "distinct_1", 0.6, [0.6] * 5)
    no_human = paired(base, run, get_metric("distinct_1"), MACRO, 0.5)
    assert no_human == {"na": "no human value to measure the distance from"}


def test_c_mauve_gap_counts_beyond_the_noise_band() -> None:
    """sd = .05 on either side: threshold 1.96·√2·.05 = .1386; a gap of .2 counts, one of .1 does not."""

    def mauve(name: str, value: float) -> Run:
        cells = {BUCKET: {"value": value, "noise": {"sd": 0.05}}}
        return Run(name, Path(name), {"metrics": {"mauve": {"cells": cells}}}, {})

    up = cell_difference(mauve("a", 0.5), mauve("b", 0.7), "mauve", BUCKET)
    assert up["threshold"] == pytest.approx(1.96 * math.sqrt(2) * 0.05) and up["verdict"] == "better"
    assert cell_difference(mauve("a", 0.7), mauve("b", 0.5), "mauve", BUCKET)["verdict"] == "worse"
    assert cell_difference(mauve("a", 0.5), mauve("b", 0.6), "mauve", BUCKET)["verdict"] == "within noise"


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


def _generated(name: str, profile: str = "off", **changes) -> Run:
    """A run on the shared records with provenance as `evaluate` stores it: its model, the generate
    stage's settings (`changes` override them) and the evaluation settings."""
    decoding = {"do_sample": True, "max_new_tokens": 48, "seed": 0, "temperature": 0.7}
    config = {"model": f"/m/{name}", "profile": profile, "decoding": decoding, "max_prompt_tokens": 3072}
    config |= {"batch_size": 64, "split": "test"}
    evaluation = {"embedder": "hashing", "bootstrap": 100, "seed": 0, "allow_missing": False}
    results = {
        "run": name,
        "buckets": {BUCKET: {"ids_sha256": "same records"}},
        "counts": {"partial": False},
        "config": evaluation | changes.pop("evaluation", {}),
        "provenance": {
            "decoding": changes.pop("decoding", decoding),
            "model": {"path": f"/m/{name}", "key": f"{name}-key", "stage": "train"},
            "generate": {"config": config | changes},
        },
    }
    return Run(name, Path(name), results, {"metrics": {}, "seed": 0})


def test_the_methods_own_choices_are_no_mismatch_but_a_design_note() -> None:
    """Each method's model, its profile prompt on or off and the batch size differ: like for like."""
    runs = [
        _generated("sft"),
        _generated("bucket_sft", "sample", batch_size=8),
        _generated("hdpo", "sample"),
        _generated("base"),
    ]
    assert like_for_like(runs) == []
    assert by_design(runs) == [
        "profile prompt: off for sft, base; on (sample) for bucket_sft, hdpo",
        "model: sft: train artefact sft-key; bucket_sft: train artefact bucket_s; "
        "hdpo: train artefact hdpo-key; base: train artefact base-key",
    ]
    methods = {"sft": "sft", "bucket_sft": "bucket_sft", "hdpo": "hdpo from bucket_sft"}
    assert by_design(runs, methods)[1] == (
        "training method: sft for sft; bucket_sft for bucket_sft; hdpo from bucket_sft for hdpo; "
        "none given for base"
    )
    assert by_design(runs[:1]) == []


@pytest.mark.parametrize(
    ("run", "note"),
    [
        (_generated("b", decoding={"temperature": 1.0}), "b used other decoding settings than a"),
        (_generated("b", max_prompt_tokens=512), "b was generated with max_prompt_tokens 512, a with 3072"),
        (_generated("b", split="val"), "b was generated with split 'val', a with 'test'"),
        (_generated("b", evaluation={"bootstrap": 50}), "b was evaluated with bootstrap 50, a with 100"),
        (
            _generated("b", "120"),
            "the runs prompted with the profile used different profile modes (b: 120; c: sample)",
        ),
    ],
)
def test_real_mismatches_are_named(run: Run, note: str) -> None:
    runs = [_generated("a"), run, _generated("c", "sample")]
    assert [n for n in like_for_like(runs) if n.startswith(note)], like_for_like(runs)


def test_partial_runs_other_records_and_missing_draws_are_named() -> None:
    partial, other, bare = _generated("partial"), _generated("other"), _generated("bare")
    partial.results["counts"] = {"partial": True, "missing": 3}
    other.results["buckets"] = {BUCKET: {"ids_sha256": "other records"}}
    bare.draws = {}
    notes = like_for_like([_generated("a"), partial, other, bare])
    assert notes == [
        "other was evaluated on other test records than a: no paired differences",
        "partial is partial: 3 test records have no generation",
        "bare stores no bootstrap draws (draws.json): its paired differences have no interval",
    ]
