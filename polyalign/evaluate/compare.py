"""The comparison of evaluated runs: like-for-like checks, paired differences and verdicts, C-MAUVE gaps.

Reads evaluate artefacts (`results.json`, `draws.json`) and computes; renders nothing (`polyalign.report`
does). Paired differences between runs come from the stored bootstrap draws, which are identically indexed
for runs evaluated on the same test records with the same seed (see `evaluate.stats`); when the records
differ the difference is n/a with that reason. C-MAUVE differences are judged against the human re-split
noise band. Metric directions come from the registry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyalign.data.buckets import bucket_sort_key
from polyalign.errors import PolyAlignError
from polyalign.evaluate.registry import METRICS, Metric, get_metric
from polyalign.evaluate.stats import paired_difference
from polyalign.evaluate.suite import MACRO, load_results


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
    runs, seen = [], {}
    for folder in folders:
        results, draws = load_results(Path(folder))
        name = str(results.get("run") or Path(folder).name)
        seen[name] = seen.get(name, 0) + 1
        runs.append(Run(name if seen[name] == 1 else f"{name} ({seen[name]})", Path(folder), results, draws))
    return runs


def like_for_like(runs: Sequence[Run]) -> list[str]:
    """Reasons the runs are not compared like for like (empty when they are)."""
    notes = []
    base = runs[0]
    for run in runs[1:]:
        if _ids(run) != _ids(base):
            notes.append(
                f"{run.name} was evaluated on other test records than {base.name}: no paired differences"
            )
        for what in ("decoding", "profile_mode"):
            a, b = provenance(base, what), provenance(run, what)
            if a is not None and b is not None and a != b:
                notes.append(f"{run.name} used other {what} settings than {base.name} ({b} vs {a})")
        for what in ("seed", "bootstrap", "embedder"):
            a, b = base.results.get("config", {}).get(what), run.results.get("config", {}).get(what)
            if a != b:
                notes.append(f"{run.name} was evaluated with {what} {b!r}, {base.name} with {a!r}")
    for run in runs:
        if run.results.get("counts", {}).get("partial"):
            notes.append(
                f"{run.name} is partial: {run.results['counts'].get('missing')} test records "
                "have no generation"
            )
    return notes


def _ids(run: Run) -> dict[str, str]:
    return {b: v.get("ids_sha256") for b, v in run.results.get("buckets", {}).items()}


def provenance(run: Run, what: str) -> Any:
    stored = run.results.get("provenance", {})
    if what == "profile_mode":
        return (stored.get("generate") or {}).get("config", {}).get("profile")
    return stored.get(what)


def paired(base: Run, run: Run, metric: Metric, scope: str, level: float) -> dict[str, Any]:
    """Difference run − base of one metric at one scope (a bucket or MACRO), with its paired interval.

    For `closer_to_human` metrics (and AUC, whose ideal is 0.5) the difference is of the distance to the
    target, so a negative difference always means `run` is closer to it."""
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
    draws_a = np.array(_draws(base, metric.name, scope), dtype=float)
    draws_b = np.array(_draws(run, metric.name, scope), dtype=float)
    target = _target(metric, a, b)
    value_a, value_b = a["value"], b["value"]
    if target is not None:
        value_a, value_b = abs(value_a - target), abs(value_b - target)
        draws_a, draws_b = np.abs(draws_a - target), np.abs(draws_b - target)
    out = paired_difference(value_a, value_b, draws_a, draws_b, level)
    out["of"] = "distance to target" if target is not None else "value"
    low, high = out.get("low"), out.get("high")
    if low is None or high is None:
        out["verdict"] = "no interval"
    elif low <= 0 <= high:
        out["verdict"] = "no clear difference"
    else:
        improves = (low > 0) if metric.direction == "higher" and target is None else (high < 0)
        out["verdict"] = "better" if improves else "worse"
    return out


def _target(metric: Metric, a: dict[str, Any], b: dict[str, Any]) -> float | None:
    if metric.direction == "closer_to_human":
        human = a.get("human", b.get("human"))
        return float(human) if human is not None else None
    if metric.direction == "lower" and metric.ideal not in (None, 0.0):
        return float(metric.ideal)
    return None


def _draws(run: Run, metric: str, scope: str) -> list[float]:
    values = run.draws.get("metrics", {}).get(metric, {}).get(scope, [])
    return [math.nan if v is None else v for v in values]


def cmauve_difference(base: Run, run: Run, cell: str) -> dict[str, Any]:
    """C-MAUVE gap of a cell against the human re-split noise: a gap counts only beyond 1.96·√2·sd."""
    a = base.metrics.get("mauve", {}).get("cells", {}).get(cell, {})
    b = run.metrics.get("mauve", {}).get("cells", {}).get(cell, {})
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
                cells = sorted(
                    set(base.metrics.get("mauve", {}).get("cells", {}))
                    | set(run.metrics.get("mauve", {}).get("cells", {}))
                )
                per_metric[metric.name] = {"cells": {c: cmauve_difference(base, run, c) for c in cells}}
                continue
            buckets = sorted(set(base.metrics.get(metric.name, {}).get("buckets", {})), key=bucket_sort_key)
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


def mauve_cells(runs: Sequence[Run]) -> list[str]:
    return sorted({c for r in runs for c in r.metrics.get("mauve", {}).get("cells", {})})


def metric_buckets(runs: Sequence[Run], metric: str) -> list[str]:
    return sorted(
        {b for r in runs for b in r.metrics.get(metric, {}).get("buckets", {})}, key=bucket_sort_key
    )
