"""The Markdown report: macro table, paired differences, C-MAUVE, per-bucket tables, judge, n/a list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyalign.data.bucket_report import table_code
from polyalign.evaluate.compare import (
    Run,
    compared_metrics,
    like_for_like,
    mauve_cells,
    metric_buckets,
)
from polyalign.report.tables import ARROWS, fmt, fmt_ci, fmt_diff, macro_text


def to_markdown(runs: Sequence[Run], comp: dict[str, Any], judge: dict[str, Any] | None = None) -> str:
    lines = [
        "# PolyAlign evaluation report",
        "",
        f"Runs: {', '.join(r.name for r in runs)}. "
        f"Baseline of the paired differences: **{comp['baseline']}**.",
        "",
    ]
    notes = like_for_like(runs)
    if notes:
        lines += ["**Not like for like:**", "", *[f"- {n}" for n in notes], ""]
    lines += ["## Macro-averages (95% bootstrap interval; human value beside)", ""]
    lines += [
        "| metric | dir | " + " | ".join(r.name for r in runs) + " | human |",
        "| --- | --- |" + " ---: |" * (len(runs) + 1),
    ]
    for metric in compared_metrics(runs):
        cells = [macro_text(run, metric) for run in runs]
        human = next(
            (
                fmt(r.metrics.get(metric.name, {}).get("macro", {}).get("human"))
                for r in runs
                if r.metrics.get(metric.name, {}).get("macro", {}).get("human") is not None
            ),
            "",
        )
        lines.append(f"| {metric.name} | {ARROWS[metric.direction]} | " + " | ".join(cells) + f" | {human} |")
    for name, per_metric in comp["runs"].items():
        lines += [
            "",
            f"## Paired differences: {name} − {comp['baseline']}",
            "",
            "Negative differences of `≈H` metrics (and AUC) mean closer to the human value (0.5 for AUC).",
            "",
            "| metric | macro difference |",
            "| --- | --- |",
        ]
        for metric, d in per_metric.items():
            if "macro" in d:
                lines.append(f"| {metric} | {fmt_diff(d['macro'])} |")
            else:
                verdicts = [f"{c}: {fmt_diff(v)}" for c, v in d["cells"].items() if "na" not in v]
                lines.append(f"| {metric} (C-MAUVE per cell) | {'; '.join(verdicts) or 'n/a'} |")
    lines += ["", "## C-MAUVE per context cell (human re-split noise band)", ""]
    lines += [
        "| cell | " + " | ".join(r.name for r in runs) + " | human noise mean ± sd |",
        "| --- |" + " ---: |" * (len(runs) + 1),
    ]
    for cell in mauve_cells(runs):
        values, noise = [], ""
        for run in runs:
            entry = run.metrics.get("mauve", {}).get("cells", {}).get(cell, {})
            values.append(fmt(entry.get("value")) if entry.get("value") is not None else "n/a")
            if entry.get("noise") and not noise:
                noise = f"{entry['noise']['mean']:.3f} ± {entry['noise']['sd']:.3f} (n = {entry['noise']['n_per_side']})"
        lines.append(f"| {table_code(cell)} | " + " | ".join(values) + f" | {noise or 'n/a'} |")
    lines += ["", "## Per bucket", ""]
    for metric in compared_metrics(runs):
        if metric.kind == "cell":
            continue
        lines += [
            f"### {metric.name} ({ARROWS[metric.direction]}): {metric.description}",
            "",
            "| bucket | n | " + " | ".join(r.name for r in runs) + " | human |",
            "| --- | ---: |" + " ---: |" * (len(runs) + 1),
        ]
        for bucket in metric_buckets(runs, metric.name):
            entries = [r.metrics.get(metric.name, {}).get("buckets", {}).get(bucket, {}) for r in runs]
            n = next((e.get("n") for e in entries if e.get("n") is not None), "")
            human = next((fmt(e["human"]) for e in entries if e.get("human") is not None), "")
            lines.append(
                f"| {table_code(bucket)} | {n} | " + " | ".join(fmt_ci(e) for e in entries) + f" | {human} |"
            )
        lines.append("")
    if judge:
        lines += _judge_markdown(judge)
    lines += ["## n/a and warnings", ""]
    for run in runs:
        for warning in run.results.get("warnings", []):
            lines.append(f"- {run.name}: {warning}")
        for item in run.results.get("na", []):
            lines.append(f"- {run.name}: {item['metric']} [{item['scope']}]: {item['reason']}")
    lines += ["", "Plots (length histograms, heatmap, embedding map) are in report.html.", ""]
    return "\n".join(lines)


def _judge_markdown(judge: dict[str, Any]) -> list[str]:
    runs = sorted(judge.get("runs", {}))
    criteria = sorted({c for r in runs for c in judge["runs"][r]})
    lines = [
        "## LLM judge (blind, answers shuffled; 1-5)",
        "",
        f"{judge.get('records')} records; {len(judge.get('failures', []))} unusable replies.",
        "",
        "| criterion | " + " | ".join(runs) + " |",
        "| --- |" + " ---: |" * len(runs),
    ]
    for criterion in criteria:
        values = [fmt(judge["runs"][r][criterion]["macro"].get("value")) for r in runs]
        lines.append(f"| {criterion} | " + " | ".join(values) + " |")
    return [*lines, ""]
