"""The report's content as one model, laid out by both backends: sections of paragraphs, notes and tables.

`sections` reads the runs, their comparison, the judge's scores and the runs' trainings and returns every
section of the report; `markdown.py` and `html.py` only lay the model out, so each table (the glossary,
the macro table with its human column, the paired differences, C-MAUVE with its noise band, the
per-bucket tables, the judge scores, the n/a list) is built once. Plots are HTML fragments from `svg.py`,
in sections marked `plots` that the Markdown report leaves out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polyalign.data.buckets import BucketKey
from polyalign.evaluate import glossary
from polyalign.evaluate.compare import (
    Run,
    by_design,
    compared_metrics,
    grouped,
    like_for_like,
    metric_buckets,
    metric_cells,
    model_name,
    provenance,
    target,
)
from polyalign.evaluate.registry import Metric, get_metric
from polyalign.report import svg
from polyalign.report.findings import Finding, findings, interval_text, parts_text
from polyalign.report.svg import ARROWS
from polyalign.report.training import Training

SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class Table:
    """Header and rows of cell text. `labels`: how many leading columns hold labels (the rest are numbers,
    right-aligned in Markdown); `keys`: columns of bucket or cell keys (code in Markdown); `marks`: a class
    per cell ("better", "worse" or ""), coloured in HTML; `caption`: a title folded over the table;
    `notes`: its numbered footnotes (`Footnotes`)."""

    head: list[str]
    rows: list[list[str]]
    labels: int = 1
    keys: tuple[int, ...] = ()
    marks: list[list[str]] | None = None
    caption: str | None = None
    notes: tuple[str, ...] = ()


@dataclass
class Footnotes:
    """A table's numbered footnotes, so that a reason shared by many cells is written once."""

    texts: list[str] = field(default_factory=list)

    def mark(self, text: str) -> str:
        """The superscript number of `text`, numbered on first use."""
        if text not in self.texts:
            self.texts.append(text)
        return str(self.texts.index(text) + 1).translate(SUPERSCRIPTS)

    def lines(self) -> tuple[str, ...]:
        return tuple(f"{str(i).translate(SUPERSCRIPTS)} {text}" for i, text in enumerate(self.texts, 1))


@dataclass(frozen=True)
class Notes:
    """A list set apart: a warning (the like-for-like mismatches), or a neutral note."""

    title: str
    items: list[str]
    warning: bool = True


@dataclass(frozen=True)
class Figure:
    """An HTML fragment holding inline SVG: HTML only."""

    html: str


Block = str | Table | Notes | Figure


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    plots: bool = False  # figures only: left out of the Markdown report


def sections(
    runs: Sequence[Run],
    comp: dict[str, Any],
    judge: dict[str, Any] | None = None,
    trainings: Mapping[str, Training] | None = None,
) -> list[Section]:
    """Every section of the report, in page order: what the metrics mean first, then the results."""
    metrics, names, trainings = compared_metrics(runs), [r.name for r in runs], trainings or {}
    out = [
        Section("Metric glossary", [glossary_table(metrics)]),
        _runs_section(runs, comp, trainings),
        Section("Macro-averages", [macro_table(runs), _macro_note(runs)]),
    ]
    found = findings(runs, comp.get("level", 0.95))
    if found:
        out.append(Section("What the comparison shows", [_FINDINGS_NOTE, findings_table(found)]))
    if judge:
        out.append(_judge_section(judge, names))
    out += [
        _paired_section(runs, comp),
        *[_cell_section(runs, m) for m in metrics if m.kind == "cell"],
    ]
    if trainings:
        titles = {name: training_text(t) for name, t in trainings.items()}
        curves = svg.curves_html(names, trainings, titles)
        out.append(Section("Training curves", [Figure(curves)], plots=True))
    out += [
        Section("Heatmap: metric × bucket", [Figure(svg.heatmaps_html(runs))], plots=True),
        Section("Length histograms per bucket", [Figure(svg.histograms_html(runs))], plots=True),
        Section("Embedding map", [Figure(svg.maps_html(runs))], plots=True),
        Section("Per-cell tables", [cell_mean_table(runs, m) for m in metrics if m.kind != "cell"]),
        Section("Per-bucket tables", [bucket_table(runs, m) for m in metrics if m.kind != "cell"]),
        Section("Generations by their own length", [own_length_table(runs)]),
    ]
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
        "beside it (w) the record-weighted mean over every bucket; human = the same statistics of the "
        "human side (its floor)."
    )


def _paired_note(metrics: Sequence[Metric]) -> str:
    ideals = "".join(f", {m} (towards {goal:g})" for m, goal in _ideals(metrics))
    return f"For ≈H metrics{ideals} the difference is of the distance to the target: negative is closer."


def _ideals(metrics: Sequence[Metric]) -> list[tuple[str, float]]:
    """Metrics compared by their distance to an ideal value rather than to the human one (`target`)."""
    goals = [(m.name, target(m, None)) for m in metrics if m.direction != "closer_to_human"]
    return [(name, goal) for name, goal in goals if goal is not None]


# ------------------------------------------------------------------------------------------- sections


def _runs_section(runs: Sequence[Run], comp: dict[str, Any], trainings: Mapping[str, Training]) -> Section:
    blocks: list[Block] = [
        runs_table(runs, trainings),
        _decoding_text(runs),
        f"Baseline of the paired differences: {comp['baseline']} (the first run).",
    ]
    methods = {name: method_text(t) for name, t in trainings.items()}
    design = by_design(runs, methods)
    if design:
        blocks.append(Notes("What differs between the runs by design:", design, warning=False))
    mismatches = like_for_like(runs)
    if mismatches:
        blocks.append(Notes("Not like for like:", mismatches))
    return Section("Runs", blocks)


def _decoding_text(runs: Sequence[Run]) -> str:
    """The decoding settings once for the runs that share them (a difference is also a warning)."""
    settings = {
        r.name: ", ".join(f"{k} {v}" for k, v in sorted((provenance(r, "decoding") or {}).items()))
        or "not recorded"
        for r in runs
    }
    if len(set(settings.values())) == 1:
        return f"Decoding (every run): {next(iter(settings.values()))}."
    return f"Decoding: {grouped(settings)}."


def method_text(training: Training) -> str:
    """`hdpo from bucket_sft`: a training method, with the policy it started from."""
    start = training.summary.get("start_method")
    return f"{training.summary.get('method')}" + (f" from {start}" if start else "")


def training_text(training: Training) -> str:
    """`hdpo from bucket_sft, 120 steps, mean loss 0.693`: a training in a few words."""
    summary = training.summary
    steps, loss = summary.get("global_step"), fmt(summary.get("train_loss"))
    return f"{method_text(training)}, {steps} steps, mean loss {loss}"


def _paired_section(runs: Sequence[Run], comp: dict[str, Any]) -> Section:
    if len(runs) < 2:
        return Section("Paired differences", ["One run: nothing to compare."])
    return Section("Paired differences", [paired_table(comp), _paired_note(compared_metrics(runs))])


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


def _judge_section(judge: dict[str, Any], names: Sequence[str]) -> Section:
    intro = (
        f"{judge.get('records')} records, answers shown blind and shuffled (scores 1-5, higher is better); "
        f"{len(judge.get('failures', []))} unusable replies."
    )
    return Section("LLM judge", [intro, judge_table(judge, names)])


# --------------------------------------------------------------------------------------------- tables


def runs_table(runs: Sequence[Run], trainings: Mapping[str, Training] | None = None) -> Table:
    """One row per run: its model (and training), profile prompt, counts, embedder and folder."""
    trainings = trainings or {}
    head = ["run", "model", *(["training"] if trainings else []), "profile", "evaluated / test", "empty"]
    head += ["embedder", "results"]
    rows = []
    for run in runs:
        c, trained = run.results.get("counts", {}), trainings.get(run.name)
        row = [run.name, model_name(run)]
        if trainings:
            row.append(training_text(trained) if trained else "–")
        row += [
            str(provenance(run, "profile_mode") or "–"),
            f"{c.get('evaluated')} / {c.get('records')}",
            str(c.get("empty", 0)),
            str(run.results.get("embedder")),
            str(run.folder),
        ]
        rows.append(row)
    return Table(head, rows, labels=len(head))


def macro_table(runs: Sequence[Run]) -> Table:
    """Macro value [interval] of every metric per run, beside the human value (or why there is none)."""
    notes, rows = Footnotes(), []
    for metric in compared_metrics(runs):
        rows.append(
            [
                metric.name,
                metric.group,
                ARROWS[metric.direction],
                *[macro_text(r, metric, notes) for r in runs],
                human_macro(runs, metric, notes),
            ]
        )
    head = ["metric", "group", "dir", *[r.name for r in runs], "human"]
    return Table(head, rows, labels=3, notes=notes.lines())


def human_macro(runs: Sequence[Run], metric: Metric, notes: Footnotes) -> str:
    """The human side's macro and weighted values of the first run that stores them, else "—" and why."""
    for run in runs:
        macro = run.metrics.get(metric.name, {}).get("macro", {})
        weighted = macro.get("weighted") or {}
        parts = [fmt_ci(macro, "human", "human_low", "human_high")] if macro.get("human") is not None else []
        parts += [f"w {fmt(weighted['human'])}"] if weighted.get("human") is not None else []
        if parts:
            return "; ".join(parts)
    return no_human(metric, notes)


def no_human(metric: Metric, notes: Footnotes) -> str:
    return "—" + notes.mark(f"no human value: {glossary.no_human(metric)}")


def paired_table(comp: dict[str, Any]) -> Table:
    """Every run's differences from the baseline side by side: macro per metric, C-MAUVE per cell."""
    names = list(comp["runs"])
    metrics = list(dict.fromkeys(m for per_metric in comp["runs"].values() for m in per_metric))
    rows, marks = [], []
    for metric in metrics:
        cells = [_paired_cell(comp["runs"][name].get(metric)) for name in names]
        rows.append([metric, *[text for text, _ in cells]])
        marks.append(["", *[verdict for _, verdict in cells]])
    head = ["metric", *[f"{name} − {comp['baseline']}" for name in names]]
    return Table(head, rows, marks=marks)


def _paired_cell(d: dict[str, Any] | None) -> tuple[str, str]:
    """A difference [95% paired interval] and its verdict class ("better", "worse" or "")."""
    if d is None:
        return "–", ""
    if "macro" in d:
        verdict = d["macro"].get("verdict", "")
        return fmt_diff(d["macro"]), verdict if verdict in ("better", "worse") else ""
    reported = {c: v for c, v in d["cells"].items() if "na" not in v}
    return "; ".join(f"{c}: {fmt_diff(v)}" for c, v in reported.items()) or "n/a (no cell reported)", ""


def cell_table(runs: Sequence[Run], metric: str) -> Table:
    """A cell-level metric (C-MAUVE) per context cell and run, beside the cell's human re-split noise band."""
    notes, rows = Footnotes(), []
    for cell in metric_cells(runs, metric):
        row, noise = [cell], "n/a"
        for run in runs:
            entry = run.metrics.get(metric, {}).get("cells", {}).get(cell, {})
            row.append(fmt_ci(entry, notes=notes))
            if entry.get("noise") and noise == "n/a":
                nz = entry["noise"]
                noise = f"{nz['mean']:.3f} ± {nz['sd']:.3f} [{nz['low']:.3f}, {nz['high']:.3f}], n = {nz['n_per_side']}"
        rows.append([*row, noise])
    head = ["cell", *[r.name for r in runs], "human re-split noise (mean ± sd [95%])"]
    return Table(head, rows, keys=(0,), notes=notes.lines())


def bucket_table(runs: Sequence[Run], metric: Metric) -> Table:
    """One metric per bucket and run, with n and the human value [interval] of the bucket (or why none)."""
    notes, rows = Footnotes(), []
    for bucket in metric_buckets(runs, metric.name):
        entries = [r.metrics.get(metric.name, {}).get("buckets", {}).get(bucket, {}) for r in runs]
        n = next((str(e.get("n")) for e in entries if e.get("n") is not None), "")
        humans = (
            fmt_ci(e, "human", "human_low", "human_high") for e in entries if e.get("human") is not None
        )
        borrowed = next((e["borrowed"] for e in entries if e.get("borrowed")), None)
        reference = "own" if borrowed is None else borrowed_text(borrowed)
        cells = [fmt_ci(e, notes=notes) for e in entries]
        rows.append([bucket, reference, n, *cells, next(humans, None) or no_human(metric, notes)])
    caption = f"{metric.name} {ARROWS[metric.direction]}: {metric.description}"
    head = ["bucket", "reference", "n", *[r.name for r in runs], "human"]
    return Table(head, rows, labels=2, keys=(0, 1), caption=caption, notes=notes.lines())


_FINDINGS_NOTE = (
    "Each line asks the method one question with one pair of runs (not only against the baseline): the "
    "macro difference run − against with its paired interval (a verdict only where the interval excludes "
    "0), and how many buckets (for C-MAUVE: cells, against the human re-split noise) agree."
)


def findings_table(found: Sequence[Finding]) -> Table:
    """The method's contrasts, a row per metric (`report.findings`)."""
    rows, marks = [], []
    for f in found:
        macro = "" if f.scope == "cells" else f.macro.get("verdict") or f"n/a ({f.macro.get('na')})"
        diff = "" if f.scope == "cells" or "diff" not in f.macro else interval_text(f.macro)
        rows.append([f"{f.run} vs {f.against}", f.metric, macro, diff, f"{f.scope}: {parts_text(f)}"])
        marks.append(["", "", macro if macro in ("better", "worse") else "", "", ""])
    head = ["contrast", "metric", "macro verdict", "difference [interval]", "agreeing"]
    return Table(head, rows, labels=2, marks=marks)


def cell_mean_table(runs: Sequence[Run], metric: Metric) -> Table:
    """One metric per context cell and run: the record-weighted mean of the cell's buckets [interval]."""
    notes, rows = Footnotes(), []
    cells = sorted(
        {c for r in runs for c in r.metrics.get(metric.name, {}).get("macro", {}).get("by_cell", {})}
    )
    for cell in cells:
        entries = [
            r.metrics.get(metric.name, {}).get("macro", {}).get("by_cell", {}).get(cell, {}) for r in runs
        ]
        n = next((str(e["n"]) for e in entries if e.get("n") is not None), "")
        human = next((fmt(e["human"]) for e in entries if e.get("human") is not None), None)
        rows.append([cell, n, *[fmt_ci(e, notes=notes) for e in entries], human or no_human(metric, notes)])
    caption = f"per cell: {metric.name} {ARROWS[metric.direction]} (record-weighted over the cell's buckets)"
    head = ["cell", "n", *[r.name for r in runs], "human"]
    return Table(head, rows, labels=1, keys=(0,), caption=caption, notes=notes.lines())


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


def judge_table(judge: dict[str, Any], names: Sequence[str] = ()) -> Table:
    """Each rubric criterion's macro score [interval] per judged run (the report's runs first, in order)."""
    scored = judge.get("runs", {})
    runs = [n for n in names if n in scored] + sorted(set(scored) - set(names))
    criteria = sorted({c for r in runs for c in scored[r]})
    notes, rows = Footnotes(), []
    for criterion in criteria:
        cells = [fmt_ci(scored[r].get(criterion, {}).get("macro", {}), notes=notes) for r in runs]
        rows.append([criterion, *cells, no_human(get_metric(criterion), notes)])
    return Table(["criterion", *runs, "human"], rows, notes=notes.lines())


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


def fmt_ci(
    entry: dict[str, Any],
    key: str = "value",
    low: str = "low",
    high: str = "high",
    notes: Footnotes | None = None,
) -> str:
    """`value [low, high]`; n/a with its reason, in parentheses or as a footnote of `notes`."""
    if entry.get(key) is None:
        if not entry.get("na"):
            return "n/a"
        return "n/a" + (notes.mark(entry["na"]) if notes is not None else f" ({entry['na']})")
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


def macro_text(run: Run, metric: Metric, notes: Footnotes) -> str:
    """A run's macro value [interval] (n/a with a footnote why), and beside it (w) the weighted mean."""
    entry = run.metrics.get(metric.name)
    if entry is None:
        return "–"
    if entry.get("na") and "macro" not in entry:
        return "n/a" + notes.mark(entry["na"])
    macro = entry.get("macro", {})
    if metric.kind == "cell":
        cells = f"C-{metric.name.upper()} {fmt_ci(macro, notes=notes)} ({macro.get('n_cells', 0)} cells)"
        return f"global {fmt(macro.get('global'))}; {cells}"
    weighted = macro.get("weighted") or {}
    text = fmt_ci(macro, notes=notes)
    return text + (f"; w {fmt(weighted['value'])}" if weighted.get("value") is not None else "")
