"""The comparison of evaluated runs: like-for-like checks, paired differences and verdicts, C-MAUVE gaps.

Reads evaluate artefacts (`results.json`, `draws.json`) and computes; renders nothing (`polyalign.report`
does). Paired differences between runs come from the stored bootstrap draws, which are identically indexed
for runs evaluated on the same test records with the same seed (see `evaluate.stats`); when the records
differ the difference is n/a with that reason. C-MAUVE differences are judged against the human re-split
noise band. Metric directions come from the registry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyalign.data.buckets import BucketKey
from polyalign.errors import ConfigError, InputError, PolyAlignError
from polyalign.evaluate.generations import unique_names
from polyalign.evaluate.registry import METRICS, Metric, get_metric
from polyalign.evaluate.results import MACRO, load_results
from polyalign.evaluate.stats import paired_difference


@dataclass
class Run:
    """One evaluate artefact as the comparison reads it: a unique name, its folder, results and draws."""

    name: str
    folder: Path
    results: dict[str, Any]
    draws: dict[str, Any]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.results.get("metrics", {})


def load_runs(folders: Sequence[Path]) -> list[Run]:
    """Every evaluate artefact named; names made unique (a second 'sft' becomes 'sft (2)')."""
    if not folders:
        raise PolyAlignError("give at least one evaluate artefact folder (polyalign evaluate ...)")
    loaded = [(Path(folder), *load_results(Path(folder))) for folder in folders]
    for folder, results, _ in loaded:
        _refuse_damaged(results, folder)
    names = unique_names([str(results.get("run") or folder.name) for folder, results, _ in loaded])
    return [Run(name, *run) for name, run in zip(names, loaded, strict=True)]


SHAPES = {"buckets": dict, "counts": dict, "config": dict, "provenance": dict, "plots": dict}
SHAPES |= {"by_own_length": dict, "na": list, "warnings": list}


def _refuse_damaged(results: dict[str, Any], folder: Path) -> None:
    """Refuse a results file whose parts have the wrong shape or name an unknown metric, naming the part.

    A part that is missing is not damage: its cells render as n/a (a metric without buckets, a run
    without plots), and a run without draws is named by `like_for_like`.
    """

    def refuse(what: str) -> None:
        raise InputError(f"{folder}: results.json {what}: re-run polyalign evaluate to rewrite it")

    for part, shape in SHAPES.items():
        if part in results and not isinstance(results[part], shape):
            refuse(f"'{part}' is not a JSON {'object' if shape is dict else 'array'}")
    if not isinstance(results["metrics"], dict):
        refuse("'metrics' is not a JSON object")
    for name, entry in results["metrics"].items():
        try:
            get_metric(name)
        except ConfigError as error:
            refuse(f"lists an {error}")
        if not isinstance(entry, dict):
            refuse(f"'metrics.{name}' is not a JSON object")
        for part in ("macro", "buckets", "cells"):
            if not isinstance(entry.get(part, {}), dict):
                refuse(f"'metrics.{name}.{part}' is not a JSON object")
            if part != "macro" and not all(isinstance(v, dict) for v in entry.get(part, {}).values()):
                refuse(f"'metrics.{name}.{part}' holds an entry that is not a JSON object")


# Generation settings a method chooses by design (its own model, the profile prompt on or off; `by_design`
# lists them), and those compared elsewhere or changing no output: never a like-for-like mismatch.
BY_DESIGN = ("model", "profile")
NOT_COMPARED = ("decoding", "batch_size")  # decoding: from the generation rows themselves (provenance)
# Evaluation settings that are no mismatch: allow_missing's effect, a partial run, is named as such.
EVAL_NOT_COMPARED = ("allow_missing",)


def like_for_like(runs: Sequence[Run]) -> list[str]:
    """Reasons the runs are not compared like for like (empty when they are): other test records, decoding,
    generation settings (prompt truncation among them) or evaluation settings than the first run, partial
    generations, missing draws. What a method chooses by design is none of them (`by_design`)."""
    notes = []
    base = runs[0]
    for run in runs[1:]:
        if _ids(run) != _ids(base):
            notes.append(
                f"{run.name} was evaluated on other test records than {base.name}: no paired differences"
            )
        a, b = provenance(base, "decoding"), provenance(run, "decoding")
        if a is not None and b is not None and a != b:
            notes.append(f"{run.name} used other decoding settings than {base.name} ({b} vs {a})")
        for what, (a, b) in _differing(_generate_settings(base), _generate_settings(run)):
            notes.append(f"{run.name} was generated with {what} {b!r}, {base.name} with {a!r}")
        for what, (a, b) in _differing(_eval_settings(base), _eval_settings(run)):
            notes.append(f"{run.name} was evaluated with {what} {b!r}, {base.name} with {a!r}")
    prompted = {r.name: provenance(r, "profile_mode") for r in runs if _profile_on(r)}
    if len(set(map(str, prompted.values()))) > 1:
        modes = "; ".join(f"{name}: {mode}" for name, mode in prompted.items())
        notes.append(f"the runs prompted with the profile used different profile modes ({modes})")
    for run in runs:
        if not run.draws:
            notes.append(
                f"{run.name} stores no bootstrap draws (draws.json): its paired differences have no interval"
            )
        if run.results.get("counts", {}).get("partial"):
            notes.append(
                f"{run.name} is partial: {run.results['counts'].get('missing')} test records "
                "have no generation"
            )
    return notes


def by_design(runs: Sequence[Run], methods: Mapping[str, str] | None = None) -> list[str]:
    """What differs between the runs because each method chooses it: the profile prompt on or off, and
    the training method (`methods`: run name → its method in words) or, without one, the model each run
    generates with. `like_for_like` does not count them."""
    profiles: dict[str, str] = {}
    for run in runs:
        mode = provenance(run, "profile_mode")
        if mode is not None:
            profiles[run.name] = "off" if mode == "off" else f"on ({mode})"
    lines = [f"profile prompt: {grouped(profiles)}"] if len(set(profiles.values())) > 1 else []
    if methods:
        lines.append(f"training method: {grouped({r.name: methods.get(r.name, 'none given') for r in runs})}")
    elif len({model_name(r) for r in runs}) > 1:
        lines.append("model: " + "; ".join(f"{r.name}: {model_name(r)}" for r in runs))
    return lines


def grouped(values: Mapping[str, str]) -> str:
    """`on (sample) for bucket_sft, hdpo; off for sft, base`: the runs (keys) sharing each value."""
    groups: dict[str, list[str]] = {}
    for name, value in values.items():
        groups.setdefault(value, []).append(name)
    return "; ".join(f"{value} for {', '.join(names)}" for value, names in groups.items())


def _differing(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[tuple[str, tuple[Any, Any]]]:
    """The settings whose values differ between two runs' settings (none when either run has none)."""
    if a is None or b is None:
        return []
    return [(k, (a.get(k), b.get(k))) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]


def _generate_settings(run: Run) -> dict[str, Any] | None:
    """The generate stage's settings of a run, less those a method chooses and those compared elsewhere."""
    config = (run.results.get("provenance", {}).get("generate") or {}).get("config")
    if not isinstance(config, dict):
        return None
    return {k: v for k, v in config.items() if k not in (*BY_DESIGN, *NOT_COMPARED)}


def _eval_settings(run: Run) -> dict[str, Any]:
    config = run.results.get("config", {})
    return {k: v for k, v in config.items() if k not in EVAL_NOT_COMPARED}


def _profile_on(run: Run) -> bool:
    return provenance(run, "profile_mode") not in (None, "off")


def model_name(run: Run) -> str:
    """A run's model in a few words: its artefact's stage and short key, or its path or method."""
    model = provenance(run, "model")
    if isinstance(model, dict):
        if model.get("stage") and model.get("key"):
            return f"{model['stage']} artefact {str(model['key'])[:8]}"
        model = model.get("path")
    return str(model or provenance(run, "method") or "not recorded")


def _ids(run: Run) -> dict[str, str]:
    return {b: v.get("ids_sha256") for b, v in run.results.get("buckets", {}).items()}


def provenance(run: Run, what: str) -> Any:
    stored = run.results.get("provenance", {})
    if what == "profile_mode":
        return (stored.get("generate") or {}).get("config", {}).get("profile")
    return stored.get(what)


def paired(base: Run, run: Run, metric: Metric, scope: str, level: float) -> dict[str, Any]:
    """Difference run − base of one metric at one scope (a bucket or MACRO), with its paired interval.

    When the metric has a `target` (the human value, or an ideal inside its range) the difference is of
    the distance to it, so a negative difference means `run` is closer; the verdict is `verdict`'s."""
    entry_a, entry_b = base.metrics.get(metric.name, {}), run.metrics.get(metric.name, {})
    a = entry_a.get("macro" if scope == MACRO else "buckets", {})
    b = entry_b.get("macro" if scope == MACRO else "buckets", {})
    if scope != MACRO:
        a, b = a.get(scope, {}), b.get(scope, {})
    if a.get("value") is None or b.get("value") is None:
        return {"na": "no value in " + (base.name if a.get("value") is None else run.name)}
    if scope != MACRO and _ids(base).get(scope) != _ids(run).get(scope):
        return {"na": "different test records in this bucket"}
    if scope == MACRO and _ids(base) != _ids(run):
        return {"na": "different test records"}
    human = a.get("human", b.get("human"))
    goal = target(metric, human)
    if goal is not None and math.isnan(goal):
        return {"na": "no human value to measure the distance from"}
    draws_a = np.array(_draws(base, metric.name, scope), dtype=float)
    draws_b = np.array(_draws(run, metric.name, scope), dtype=float)
    value_a, value_b = a["value"], b["value"]
    if goal is not None:
        value_a, value_b = abs(value_a - goal), abs(value_b - goal)
        draws_a, draws_b = np.abs(draws_a - goal), np.abs(draws_b - goal)
    out = paired_difference(value_a, value_b, draws_a, draws_b, level)
    out["of"] = "distance to target" if goal is not None else "value"
    out["verdict"] = verdict(metric, a["value"], b["value"], out["low"], out["high"], human)
    return out


def target(metric: Metric, human: float | None) -> float | None:
    """The value a comparison measures distances from, or None to compare the values themselves.

    Read off the registry entry: a `closer_to_human` metric → the human value (NaN when there is none); a
    `lower` metric whose ideal lies above its lower bound (AUC: 0.5 in [0, 1]), which values can miss on
    either side → that ideal; any other metric → None.
    """
    if metric.direction == "closer_to_human":
        return float(human) if human is not None else math.nan
    if metric.direction == "lower" and metric.ideal is not None and metric.ideal > metric.bounds[0]:
        return float(metric.ideal)
    return None


def verdict(
    metric: Metric, base: float, run: float, low: float | None, high: float | None, human: float | None
) -> str:
    """ "better"/"worse" when the paired interval [low, high] of the difference excludes 0, else why not.

    Which side is better is the registry's `Metric.better` on the two values. The interval is centred on
    the point difference (`stats.centred_ci`), so it excludes 0 only when the values differ in the same
    sense as every plausible difference.
    """
    if low is None or high is None:
        return "no interval"
    if low <= 0 <= high:
        return "no clear difference"
    return "better" if metric.better(run, base, human) else "worse"


def goodness(metric: Metric, value: float, human: float | None) -> float:
    """Larger is better on the metric's own scale (the heatmap's orientation), from the registry entry:
    minus the distance to the `target` when there is one (NaN without a human value), else the value,
    negated when `Metric.better` prefers smaller values."""
    goal = target(metric, human)
    if goal is not None:
        return -abs(value - goal)
    return value if metric.better(1.0, 0.0) else -value


def _draws(run: Run, metric: str, scope: str) -> list[float]:
    values = run.draws.get("metrics", {}).get(metric, {}).get(scope, [])
    return [math.nan if v is None else v for v in values]


def cell_difference(base: Run, run: Run, metric: str, cell: str) -> dict[str, Any]:
    """Gap of a cell-level metric (C-MAUVE) against the human re-split noise: it counts beyond 1.96·√2·sd."""
    a = base.metrics.get(metric, {}).get("cells", {}).get(cell, {})
    b = run.metrics.get(metric, {}).get("cells", {}).get(cell, {})
    if a.get("value") is None or b.get("value") is None:
        return {"na": a.get("na") or b.get("na") or "not reported"}
    sd = max((a.get("noise") or {}).get("sd") or 0.0, (b.get("noise") or {}).get("sd") or 0.0)
    gap, threshold = b["value"] - a["value"], 1.96 * math.sqrt(2) * sd
    verdict = "within noise" if abs(gap) <= threshold else ("better" if gap > 0 else "worse")
    return {"diff": gap, "threshold": threshold, "verdict": verdict}


def comparison(runs: Sequence[Run], level: float = 0.95) -> dict[str, Any]:
    """Paired differences of every run against the first, per metric: macro and per bucket."""
    base, out = runs[0], {}
    for run in runs[1:]:
        per_metric: dict[str, Any] = {}
        for metric in compared_metrics(runs):
            if metric.kind == "cell":
                cells = metric_cells([base, run], metric.name)
                per_metric[metric.name] = {
                    "cells": {c: cell_difference(base, run, metric.name, c) for c in cells}
                }
                continue
            buckets = sorted(
                set(base.metrics.get(metric.name, {}).get("buckets", {})), key=BucketKey.sort_key_of
            )
            per_metric[metric.name] = {
                "macro": paired(base, run, metric, MACRO, level),
                "buckets": {b: paired(base, run, metric, b, level) for b in buckets},
            }
        out[run.name] = per_metric
    return {"baseline": base.name, "level": level, "runs": out}


def compared_metrics(runs: Sequence[Run]) -> list[Metric]:
    names: list[str] = []
    for run in runs:
        names += [n for n in run.metrics if n not in names]
    known = [METRICS[n] for n in METRICS if n in names]
    return known + [get_metric(n) for n in names if n not in METRICS]


def metric_cells(runs: Sequence[Run], metric: str) -> list[str]:
    """The context cells in which any run reports a cell-level metric."""
    return sorted({c for r in runs for c in r.metrics.get(metric, {}).get("cells", {})})


def metric_buckets(runs: Sequence[Run], metric: str) -> list[str]:
    return sorted(
        {b for r in runs for b in r.metrics.get(metric, {}).get("buckets", {})}, key=BucketKey.sort_key_of
    )
