"""The report's content as one model, laid out by both backends: sections of paragraphs, notes and tables.

`sections` reads the runs and their comparison and returns every section of the report; `markdown.py` and
`html.py` only lay the model out, so each table (the macro table with its human value, the paired
differences, C-MAUVE with its noise band, the per-bucket tables, the judge scores, the n/a list) is built
once. Plots are HTML fragments from `svg.py`, in sections marked `plots` that the Markdown report leaves out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from polyalign.data.buckets import BucketKey
from polyalign.evaluate import glossary
from polyalign.evaluate.compare import (
    Run,
    compared_metrics,
    like_for_like,
    metric_buckets,
    metric_cells,
    provenance,
    target,
)
from polyalign.evaluate.registry import Metric
from polyalign.report import svg
from polyalign.report.svg import ARROWS


@dataclass(frozen=True)
class Table:
    """Header and rows of cell text. `labels`: how many leading columns hold labels (the rest are numbers,
    right-aligned in Markdown); `keys`: columns of bucket or cell keys (code in Markdown); `marks`: a class
    per cell ("better", "worse" or ""), coloured in HTML; `caption`: a title folded over the table."""

    head: list[str]
    rows: list[list[str]]
    labels: int = 1
    keys: tuple[int, ...] = ()
    marks: list[list[str]] | None = None
    caption: str | None = None


@dataclass(frozen=True)
class Notes:
    """A highlighted list (the like-for-like warnings)."""

    title: str
    items: list[str]


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Figure:
    """An HTML fragment holding inline SVG: HTML only."""

    html: str


Block = str | Table | Notes | Heading | Figure


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    plots: bool = False  # figures only: left out of the Markdown report


def sections(runs: Sequence[Run], comp: dict[str, Any], judge: dict[str, Any] | None = None) -> list[Section]:
    """Every section of the report, in page order."""
    out = [
        _runs_section(runs, comp),
        Section("Macro-averages", [macro_table(runs), _macro_note(runs)]),
        Section("Metric glossary", [glossary_table(compared_metrics(runs))]),
        _paired_section(runs, comp),
        *[_cell_section(runs, m) for m in compared_metrics(runs) if m.kind == "cell"],
        Section("Heatmap: metric × bucket", [Figure(svg.heatmaps_html(runs))], plots=True),
        Section("Length histograms per bucket", [Figure(svg.histograms_html(runs))], plots=True),
        Section("Embedding map", [Figure(svg.maps_html(runs))], plots=True),
        Section(
            "Per-bucket tables", [bucket_table(runs, m) for m in compared_metrics(runs) if m.kind != "cell"]
        ),
        Section("Generations by their own length", [own_length_table(runs)]),
    ]
    if judge:
        out.append(_judge_section(judge))
    na = na_table(runs)
    out.append(Section("n/a and warnings", [na] if na.rows else ["None."]))
    return out


def _macro_note(runs: Sequence[Run]) -> str:
    metrics = compared_metrics(runs)
    ideals = "".join(f"; {m}: closest to {goal:g} is best" for m, goal in _ideals(metrics))
    limits = sorted(
        {
            e["macro"]["min_rows"]
            for r in runs
            for e in r.metrics.values()
            if isinstance(e.get("macro"), dict) and "min_rows" in e["macro"]
        }
    )
    counted = f" with ≥ {'/'.join(map(str, limits))} records" if limits else ""
    return (
        f"↑ higher is better, ↓ lower is better, ≈H closer to the human value is better{ideals}. "
        f"Intervals: 95% bootstrap over records; macro = unweighted mean over the buckets{counted}, "
        "beside it (w) the record-weighted mean over every bucket; human = the same statistic of the human "
        "side (its floor), macro / weighted."
    )


def _paired_note(metrics: Sequence[Metric]) -> str:
    ideals = "".join(f", {m} (towards {goal:g})" for m, goal in _ideals(metrics))
    return f"For ≈H metrics{ideals} the difference is of the distance to the target: negative is closer."


def _ideals(metrics: Sequence[Metric]) -> list[tuple[str, float]]:
    """Metrics compared by their distance to an ideal value rather than to the human one (`target`)."""
    goals = [(m.name, target(m, None)) for m in metrics if m.direction != "closer_to_human"]
    return [(name, goal) for name, goal in goals if goal is not None]


# ------------------------------------------------------------------------------------------- sections


def _runs_section(runs: Sequence[Run], comp: dict[str, Any]) -> Section:
    blocks: list[Block] = [runs_table(runs), f"Baseline of the paired differences: {comp['baseline']}."]
    notes = like_for_like(runs)
    if notes:
        blocks.append(Notes("Not like for like:", notes))
    return Section("Runs", blocks)


def _paired_section(runs: Sequence[Run], comp: dict[str, Any]) -> Section:
    if len(runs) < 2:
        return Section("Paired differences", ["One run: nothing to compare."])
    blocks: list[Block] = []
    for name, per_metric in comp["runs"].items():
        blocks += [Heading(f"{name} − {comp['baseline']}"), paired_table(per_metric)]
    return Section("Paired differences", [*blocks, _paired_note(compared_metrics(runs))])


def _cell_section(runs: Sequence[Run], metric: Metric) -> Section:
    """A cell-level metric (MAUVE → C-MAUVE) per context cell, with its global value and noise band."""
    label = metric.name.upper()
    title = f"C-{label} per context cell"
    if not metric_cells(runs, metric.name):
        reason = next((r.metrics.get(metric.name, {}).get("na", "") for r in runs), "")
        return Section(title, [f"n/a: {reason}"])
    globals_ = ", ".join(
        f"{r.name} {fmt(r.metrics.get(metric.name, {}).get('global', {}).get('value'))}" for r in runs
    )
    return Section(
        title,
        [
            cell_table(runs, metric.name),
            f"Global {label}: {globals_}. A gap between runs counts only beyond 1.96·√2·sd of the noise.",
        ],
    )


def _judge_section(judge: dict[str, Any]) -> Section:
    intro = (
        f"{judge.get('records')} records, answers shown blind and shuffled (scores 1-5); "
        f"{len(judge.get('failures', []))} unusable replies."
    )
    return Section("LLM judge", [intro, judge_table(judge)])


# --------------------------------------------------------------------------------------------- tables


def runs_table(runs: Sequence[Run]) -> Table:
    rows = []
    for run in runs:
        p, c = run.results.get("provenance", {}), run.results.get("counts", {})
        model = p.get("model") if isinstance(p.get("model"), str) else (p.get("model") or {}).get("path")
        decoding = p.get("decoding")
        rows.append(
            [
                run.name,
                str(model or p.get("method", "")),
                json.dumps(decoding, ensure_ascii=False) if decoding else "–",
                str(provenance(run, "profile_mode") or "–"),
                f"{c.get('evaluated')} / {c.get('records')}",
                str(c.get("empty", 0)),
                str(run.results.get("embedder")),
                str(run.folder),
            ]
        )
    head = [
        "run",
        "model / method",
        "decoding",
        "profile",
        "evaluated / test",
        "empty",
        "embedder",
        "results",
    ]
    return Table(head, rows, labels=len(head))


def macro_table(runs: Sequence[Run]) -> Table:
    """Macro value [interval] of every metric per run, with the human value of the first run that has one."""
    rows = []
    for metric in compared_metrics(runs):
        macros = [r.metrics.get(metric.name, {}).get("macro", {}) for r in runs]
        human = next(
            (
                f"{fmt(m.get('human'))} / {fmt((m.get('weighted') or {}).get('human'))}"
                for m in macros
                if m.get("human") is not None or (m.get("weighted") or {}).get("human") is not None
            ),
            "",
        )
        rows.append(
            [
                metric.name,
                metric.group,
                ARROWS[metric.direction],
                *[macro_text(r, metric) for r in runs],
                human,
            ]
        )
    return Table(["metric", "group", "dir", *[r.name for r in runs], "human"], rows, labels=3)


def paired_table(per_metric: dict[str, Any]) -> Table:
    """One run's differences from the baseline: macro per metric, C-MAUVE per reported cell."""
    rows, marks = [], []
    for metric, d in per_metric.items():
        if "macro" in d:
            text, verdict = fmt_diff(d["macro"]), d["macro"].get("verdict", "")
        else:
            reported = {c: v for c, v in d["cells"].items() if "na" not in v}
            verdict = ""
            text = "; ".join(f"{c}: {fmt_diff(v)}" for c, v in reported.items()) or "n/a (no cell reported)"
        rows.append([metric, text])
        marks.append(["", verdict if verdict in ("better", "worse") else ""])
    return Table(["metric", "difference [95% paired interval]"], rows, marks=marks)


def cell_table(runs: Sequence[Run], metric: str) -> Table:
    """A cell-level metric (C-MAUVE) per context cell and run, beside the cell's human re-split noise band."""
    rows = []
    for cell in metric_cells(runs, metric):
        row, noise = [cell], "n/a"
        for run in runs:
            entry = run.metrics.get(metric, {}).get("cells", {}).get(cell, {})
            row.append(
                fmt(entry.get("value")) if entry.get("value") is not None else f"n/a ({entry.get('na', '')})"
            )
            if entry.get("noise") and noise == "n/a":
                nz = entry["noise"]
                noise = f"{nz['mean']:.3f} ± {nz['sd']:.3f} [{nz['low']:.3f}, {nz['high']:.3f}], n = {nz['n_per_side']}"
        rows.append([*row, noise])
    return Table(["cell", *[r.name for r in runs], "human re-split noise (mean ± sd [95%])"], rows, keys=(0,))


def bucket_table(runs: Sequence[Run], metric: Metric) -> Table:
    """One metric per bucket and run, with n and the human value [interval] of the bucket."""
    rows = []
    for bucket in metric_buckets(runs, metric.name):
        entries = [r.metrics.get(metric.name, {}).get("buckets", {}).get(bucket, {}) for r in runs]
        n = next((str(e.get("n")) for e in entries if e.get("n") is not None), "")
        humans = (
            fmt_ci(e, "human", "human_low", "human_high") for e in entries if e.get("human") is not None
        )
        borrowed = next((e["borrowed"] for e in entries if e.get("borrowed")), None)
        reference = "own" if borrowed is None else borrowed_text(borrowed)
        rows.append([bucket, reference, n, *[fmt_ci(e) for e in entries], next(humans, "")])
    caption = f"{metric.name} {ARROWS[metric.direction]}: {metric.description}"
    head = ["bucket", "reference", "n", *[r.name for r in runs], "human"]
    return Table(head, rows, labels=2, keys=(0, 1), caption=caption)


def borrowed_text(borrowed: dict[str, Any]) -> str:
    """`borrowed: own 5, lengths 66-206`: a sparse bucket's reference, from its cell's length-near answers."""
    low, high = borrowed["lengths"]
    return f"borrowed: own {borrowed['own']}, lengths {low}-{high}"


def glossary_table(metrics: Sequence[Metric]) -> Table:
    """One line per metric from its registry entry: what it measures, direction, human floor, blind spots."""
    return Table(glossary.HEAD, glossary.rows(metrics), labels=len(glossary.HEAD))


def own_length_table(runs: Sequence[Run]) -> Table:
    buckets = sorted({b for r in runs for b in r.results.get("by_own_length", {})}, key=BucketKey.sort_key_of)
    rows = []
    for bucket in buckets:
        row = [bucket]
        human = ""
        for run in runs:
            entry = run.results.get("by_own_length", {}).get(bucket, {})
            row.append(f"{entry.get('n_model', 0)} (d {fmt(entry.get('support_distance'))})")
            human = human or str(entry.get("n_human", ""))
        rows.append([*row, human])
    return Table(["own-length bucket", *[f"{r.name}: n (mean d)" for r in runs], "human n"], rows, keys=(0,))


def judge_table(judge: dict[str, Any]) -> Table:
    runs = sorted(judge.get("runs", {}))
    criteria = sorted({c for r in runs for c in judge["runs"][r]})
    rows = [[c, *[fmt(judge["runs"][r][c]["macro"].get("value")) for r in runs]] for c in criteria]
    return Table(["criterion", *runs], rows)


def na_table(runs: Sequence[Run]) -> Table:
    rows = []
    for run in runs:
        rows += [[run.name, "warning", "", w] for w in run.results.get("warnings", [])]
        rows += [[run.name, i["metric"], i["scope"], i["reason"]] for i in run.results.get("na", [])]
    return Table(["run", "metric", "scope", "reason"], rows, labels=4, keys=(2,))


# ------------------------------------------------------------------------------------------- cell text


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float | int) else str(value)


def fmt_ci(entry: dict[str, Any], key: str = "value", low: str = "low", high: str = "high") -> str:
    if entry.get(key) is None:
        return "n/a" + (f" ({entry['na']})" if entry.get("na") else "")
    text = fmt(entry[key])
    if entry.get(low) is not None and entry.get(high) is not None:
        text += f" [{fmt(entry[low])}, {fmt(entry[high])}]"
    return text


def fmt_diff(d: dict[str, Any]) -> str:
    if "na" in d:
        return f"n/a ({d['na']})"
    if "threshold" in d:
        return f"{d['diff']:+.3f} (noise ±{d['threshold']:.3f}): {d['verdict']}"
    interval = f" [{d['low']:+.3f}, {d['high']:+.3f}]" if d.get("low") is not None else ""
    return f"{d['diff']:+.3f}{interval} {d['verdict']}"


def macro_text(run: Run, metric: Metric) -> str:
    entry = run.metrics.get(metric.name)
    if entry is None:
        return "–"
    if entry.get("na") and "macro" not in entry:
        return f"n/a ({entry['na']})"
    if metric.kind == "cell":
        macro = entry.get("macro", {})
        return f"global {fmt(macro.get('global'))}; C-MAUVE {fmt(macro.get('value'))} ({macro.get('n_cells', 0)} cells)"
    macro = entry.get("macro", {})
    weighted = macro.get("weighted") or {}
    return fmt_ci(macro) + (f"; w {fmt(weighted['value'])}" if weighted.get("value") is not None else "")
