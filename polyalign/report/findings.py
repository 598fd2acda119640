"""What a comparison shows, in plain words: each contrast that asks a question of the method, on the metrics
that answer it, with the paired interval and the count of buckets (or cells) that agree.

The report's paired tables compare every run with the first; the method's questions are other pairs —
does Bucket-SFT beat SFT, does HDPO beat DPO + anchor (its ablation) and DPO, did training change the base
model at all. A verdict is the interval's (`compare.paired`, `compare.cell_difference`); nothing is called
better without one. Reads runs, computes only paired differences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from polyalign.evaluate.compare import Run, cell_difference, metric_buckets, metric_cells, paired
from polyalign.evaluate.registry import get_metric
from polyalign.evaluate.results import MACRO

CONTRASTS = (
    (
        "bucket_sft",
        "sft",
        "Does Bucket-SFT (balanced buckets, profile prompt) move SFT towards each bucket's humans?",
    ),
    ("hdpo", "dpo_anchor", "Does HDPO add anything over its ablation, DPO with the same anchor and start?"),
    ("hdpo", "dpo", "Does HDPO beat plain DPO from plain SFT?"),
    ("sft", "base", "Did training change the untrained base model?"),
)
METRICS = ("support_distance", "auc", "length_fit", "mauve", "token_f1")
"""Naturalness (d, AUC), faithfulness (length fit, C-MAUVE per cell) and utility (token F1)."""


@dataclass
class Finding:
    run: str
    against: str
    question: str
    metric: str
    macro: dict = field(default_factory=dict)  # `compare.paired` at the macro scope (item and set metrics)
    parts: Counter = field(default_factory=Counter)  # verdicts per bucket, or per cell for C-MAUVE
    scope: str = "buckets"


def findings(runs: Sequence[Run], level: float = 0.95) -> list[Finding]:
    """Every contrast whose two runs are present, on every finding metric both report."""
    by_name = {run.name: run for run in runs}
    out = []
    for name, against, question in CONTRASTS:
        if name not in by_name or against not in by_name:
            continue
        run, base = by_name[name], by_name[against]
        for metric in METRICS:
            if metric not in run.metrics or metric not in base.metrics:
                continue
            out.append(_finding(base, run, metric, question, level))
    return out


def _finding(base: Run, run: Run, name: str, question: str, level: float) -> Finding:
    finding = Finding(run.name, base.name, question, name)
    metric = get_metric(name)
    if metric.kind == "cell":
        finding.scope = "cells"
        for cell in metric_cells([base, run], name):
            finding.parts[cell_difference(base, run, name, cell).get("verdict", "n/a")] += 1
        return finding
    finding.macro = paired(base, run, metric, MACRO, level)
    for bucket in metric_buckets([base, run], name):
        finding.parts[paired(base, run, metric, bucket, level).get("verdict", "n/a")] += 1
    return finding


def sentence(finding: Finding) -> str:
    """One line: the macro verdict with its interval, then how many buckets (cells) agree."""
    label = finding.metric
    parts = parts_text(finding)
    if finding.scope == "cells":
        return f"{label}: per cell {parts} (against the human re-split noise)"
    macro = finding.macro
    if "na" in macro:
        return f"{label}: n/a ({macro['na']}); per bucket {parts}"
    of = " of the distance to the target" if macro.get("of") == "distance to target" else ""
    return f"{label}: {macro['verdict']}, difference{of} {interval_text(macro)}; per bucket {parts}"


def parts_text(finding: Finding) -> str:
    """`5 better, 2 no clear difference, 1 worse`: the verdicts of the buckets (cells), counted."""
    return ", ".join(f"{n} {verdict}" for verdict, n in sorted(finding.parts.items()))


def interval_text(difference: dict) -> str:
    """`+0.012 [-0.004, +0.027]`, the interval left out when there is none."""
    low, high = difference.get("low"), difference.get("high")
    interval = f" [{low:+.3f}, {high:+.3f}]" if low is not None and high is not None else ""
    return f"{difference['diff']:+.3f}{interval}"
