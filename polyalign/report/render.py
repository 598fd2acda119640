"""Compare evaluated runs: a self-contained HTML report (inline SVG, no scripts, no CDN) and Markdown.

Reads only evaluate artefacts (`results.json`, `draws.json`) and, optionally, a judge results file; it
recomputes no metric. Paired differences between runs come from the stored bootstrap draws, which are
identically indexed for runs evaluated on the same test records with the same seed (see
`evaluate.stats`); when the records differ the difference is n/a with that reason. C-MAUVE differences
are judged against the human re-split noise band. Metric directions come from the registry.

Sections: runs and like-for-like checks, macro summary, paired differences against the first run,
C-MAUVE per cell with its noise band, a heatmap of metric × bucket per run, per-bucket tables, length
histograms of each run against humans per bucket, a 2-D embedding map of human vs model responses, the
generations bucketed by their own length, and every n/a with its reason. A section that cannot be drawn
says why instead of stopping the report.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyalign import artifacts
from polyalign.data.bucket_report import table_code
from polyalign.data.buckets import bucket_sort_key
from polyalign.errors import PolyAlignError
from polyalign.evaluate.generations import unique_names
from polyalign.evaluate.registry import METRICS, Metric, get_metric
from polyalign.evaluate.results import MACRO, load_results
from polyalign.evaluate.stats import paired_difference

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
HUMAN_COLOUR = "#7f7f7f"
ARROWS = {"higher": "↑", "lower": "↓", "closer_to_human": "≈H"}


@dataclass
class Run:
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
    names = unique_names([str(results.get("run") or folder.name) for folder, results, _ in loaded])
    return [Run(name, *run) for name, run in zip(names, loaded, strict=True)]


# ------------------------------------------------------------------------------------------ comparison


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
            a, b = _provenance(base, what), _provenance(run, what)
            if a is not None and b is not None and a != b:
                notes.append(f"{run.name} used other {what} settings than {base.name} ({b} vs {a})")
        for what in ("seed", "bootstrap", "embedder"):
            a, b = base.results.get("config", {}).get(what), run.results.get("config", {}).get(what)
            if a != b:
                notes.append(f"{run.name} was evaluated with {what} {b!r}, {base.name} with {a!r}")
    for run in runs:
        if run.results.get("counts", {}).get("partial"):
            notes.append(
                f"{run.name} is partial: {run.results['counts'].get('missing')} test records have no generation"
            )
    return notes


def _ids(run: Run) -> dict[str, str]:
    return {b: v.get("ids_sha256") for b, v in run.results.get("buckets", {}).items()}


def _provenance(run: Run, what: str) -> Any:
    provenance = run.results.get("provenance", {})
    if what == "profile_mode":
        return (provenance.get("generate") or {}).get("config", {}).get("profile")
    return provenance.get(what)


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
        for metric in _metrics(runs):
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


def _metrics(runs: Sequence[Run]) -> list[Metric]:
    names: list[str] = []
    for run in runs:
        names += [n for n in run.metrics if n not in names]
    known = [METRICS[n] for n in METRICS if n in names]
    return known + [get_metric(n) for n in names if n not in METRICS]


# --------------------------------------------------------------------------------------- formatting


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


# -------------------------------------------------------------------------------------------- markdown


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
    for metric in _metrics(runs):
        cells = [_macro_text(run, metric) for run in runs]
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
    for cell in _cells(runs):
        values, noise = [], ""
        for run in runs:
            entry = run.metrics.get("mauve", {}).get("cells", {}).get(cell, {})
            values.append(fmt(entry.get("value")) if entry.get("value") is not None else "n/a")
            if entry.get("noise") and not noise:
                noise = f"{entry['noise']['mean']:.3f} ± {entry['noise']['sd']:.3f} (n = {entry['noise']['n_per_side']})"
        lines.append(f"| {table_code(cell)} | " + " | ".join(values) + f" | {noise or 'n/a'} |")
    lines += ["", "## Per bucket", ""]
    for metric in _metrics(runs):
        if metric.kind == "cell":
            continue
        lines += [
            f"### {metric.name} ({ARROWS[metric.direction]}): {metric.description}",
            "",
            "| bucket | n | " + " | ".join(r.name for r in runs) + " | human |",
            "| --- | ---: |" + " ---: |" * (len(runs) + 1),
        ]
        for bucket in _buckets(runs, metric.name):
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


def _macro_text(run: Run, metric: Metric) -> str:
    entry = run.metrics.get(metric.name)
    if entry is None:
        return "–"
    if entry.get("na") and "macro" not in entry:
        return f"n/a ({entry['na']})"
    if metric.kind == "cell":
        macro = entry.get("macro", {})
        return f"global {fmt(macro.get('global'))}; C-MAUVE {fmt(macro.get('value'))} ({macro.get('n_cells', 0)} cells)"
    return fmt_ci(entry.get("macro", {}))


def _cells(runs: Sequence[Run]) -> list[str]:
    return sorted({c for r in runs for c in r.metrics.get("mauve", {}).get("cells", {})})


def _buckets(runs: Sequence[Run], metric: str) -> list[str]:
    return sorted(
        {b for r in runs for b in r.metrics.get(metric, {}).get("buckets", {})}, key=bucket_sort_key
    )


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


# ------------------------------------------------------------------------------------------------ HTML

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans CJK SC',sans-serif;
margin:24px;color:#222;background:#fff;max-width:1600px}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:1.6em}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f0f0f0;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.better{background:#d9f2d9}.worse{background:#f8d7d7}.note{background:#fff4ce;padding:8px;border:1px solid #e0c860}
.grid{display:flex;flex-wrap:wrap;gap:10px}.grid figure{margin:0;border:1px solid #eee;padding:4px}
figcaption{font-size:11px;color:#444;max-width:260px;word-break:break-all}.legend span{margin-right:14px}
code{background:#f5f5f5;padding:0 3px}details{margin:4px 0}summary{cursor:pointer;font-weight:600}
"""


def to_html(runs: Sequence[Run], comp: dict[str, Any], judge: dict[str, Any] | None = None) -> str:
    sections: list[tuple[str, Callable[[], str]]] = [
        ("Runs", lambda: _runs_html(runs)),
        ("Macro-averages", lambda: _summary_html(runs)),
        ("Paired differences", lambda: _paired_html(runs, comp)),
        ("C-MAUVE per context cell", lambda: _cmauve_html(runs)),
        ("Heatmap: metric × bucket", lambda: _heatmaps_html(runs)),
        ("Length histograms per bucket", lambda: _histograms_html(runs)),
        ("Embedding map", lambda: _maps_html(runs)),
        ("Per-bucket tables", lambda: _bucket_tables_html(runs)),
        ("Generations by their own length", lambda: _own_length_html(runs)),
    ]
    if judge:
        sections.append(("LLM judge", lambda: _judge_html(judge)))
    sections.append(("n/a and warnings", lambda: _na_html(runs)))
    body = []
    for title, render in sections:
        try:
            content = render()
        except Exception as error:  # a broken section must not take the report down; say what broke
            content = f"<p class='note'>This section could not be drawn: {html.escape(repr(error))}</p>"
        body.append(f"<h2 id='{_anchor(title)}'>{html.escape(title)}</h2>\n{content}")
    toc = " · ".join(f"<a href='#{_anchor(t)}'>{html.escape(t)}</a>" for t, _ in sections)
    legend = "".join(
        f"<span style='color:{_colour(i)}'>■ {html.escape(r.name)}</span>" for i, r in enumerate(runs)
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>PolyAlign report: {html.escape(', '.join(r.name for r in runs))}</title><style>{CSS}</style></head>"
        f"<body><h1>PolyAlign evaluation report</h1><p class='legend'>{legend}"
        f"<span style='color:{HUMAN_COLOUR}'>■ human</span></p><p>{toc}</p>"
        + "\n".join(body)
        + "</body></html>"
    )


def _anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower())


def _colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def _table(
    head: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[Sequence[str]] | None = None
) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r, row in enumerate(rows):
        cells = []
        for c, cell in enumerate(row):
            cls = classes[r][c] if classes else ""
            cells.append(f"<td class='{cls}'>{html.escape(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


def _runs_html(runs: Sequence[Run]) -> str:
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
                str(_provenance(run, "profile_mode") or "–"),
                f"{c.get('evaluated')} / {c.get('records')}",
                str(c.get("empty", 0)),
                str(run.results.get("embedder")),
                str(run.folder),
            ]
        )
    table = _table(
        ["run", "model / method", "decoding", "profile", "evaluated / test", "empty", "embedder", "results"],
        rows,
    )
    notes = like_for_like(runs)
    note = (
        ""
        if not notes
        else "<div class='note'><b>Not like for like:</b><ul>"
        + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        + "</ul></div>"
    )
    return table + note


def _summary_html(runs: Sequence[Run]) -> str:
    rows = []
    for metric in _metrics(runs):
        human = next(
            (
                fmt(r.metrics.get(metric.name, {}).get("macro", {}).get("human"))
                for r in runs
                if r.metrics.get(metric.name, {}).get("macro", {}).get("human") is not None
            ),
            "",
        )
        rows.append(
            [
                metric.name,
                metric.group,
                ARROWS[metric.direction],
                *[_macro_text(r, metric) for r in runs],
                human,
            ]
        )
    return _table(["metric", "group", "dir", *[r.name for r in runs], "human"], rows) + (
        "<p>↑ higher is better, ↓ lower is better (AUC: towards 0.5), ≈H closer to the human value is better. "
        "Intervals: 95% bootstrap over records, macro = unweighted mean over buckets.</p>"
    )


def _paired_html(runs: Sequence[Run], comp: dict[str, Any]) -> str:
    if len(runs) < 2:
        return "<p>One run: nothing to compare.</p>"
    out = []
    for name, per_metric in comp["runs"].items():
        rows, classes = [], []
        for metric, d in per_metric.items():
            if "macro" in d:
                text, verdict = fmt_diff(d["macro"]), d["macro"].get("verdict", "")
            else:
                reported = {c: v for c, v in d["cells"].items() if "na" not in v}
                verdict = ""
                text = (
                    "; ".join(f"{c}: {fmt_diff(v)}" for c, v in reported.items()) or "n/a (no cell reported)"
                )
            rows.append([metric, text])
            classes.append(["", "better" if verdict == "better" else "worse" if verdict == "worse" else ""])
        out.append(
            f"<h3>{html.escape(name)} − {html.escape(comp['baseline'])}</h3>"
            + _table(["metric", "difference [95% paired interval]"], rows, classes)
        )
    return (
        "".join(out)
        + "<p>For ≈H metrics and AUC the difference is of the distance to the target: negative is closer.</p>"
    )


def _cmauve_html(runs: Sequence[Run]) -> str:
    cells = _cells(runs)
    if not cells:
        return (
            "<p>n/a: "
            + html.escape(next((r.metrics.get("mauve", {}).get("na", "") for r in runs), ""))
            + "</p>"
        )
    rows = []
    for cell in cells:
        row, noise = [cell], "n/a"
        for run in runs:
            entry = run.metrics.get("mauve", {}).get("cells", {}).get(cell, {})
            row.append(
                fmt(entry.get("value")) if entry.get("value") is not None else f"n/a ({entry.get('na', '')})"
            )
            if entry.get("noise") and noise == "n/a":
                nz = entry["noise"]
                noise = f"{nz['mean']:.3f} ± {nz['sd']:.3f} [{nz['low']:.3f}, {nz['high']:.3f}], n = {nz['n_per_side']}"
        rows.append([*row, noise])
    globals_ = ", ".join(
        f"{r.name} {fmt(r.metrics.get('mauve', {}).get('global', {}).get('value'))}" for r in runs
    )
    return _table(["cell", *[r.name for r in runs], "human re-split noise (mean ± sd [95%])"], rows) + (
        f"<p>Global MAUVE: {html.escape(globals_)}. A gap between runs counts only beyond 1.96·√2·sd of the noise.</p>"
    )


def _goodness(metric: Metric, value: float, human: float | None) -> float:
    """Larger is better, on the metric's own scale (orientation only; rows are min-max scaled after)."""
    if metric.direction == "higher":
        return value
    if metric.direction == "closer_to_human":
        return -abs(value - human) if human is not None else math.nan
    return -abs(value - (metric.ideal or 0.0))


def _heatmaps_html(runs: Sequence[Run]) -> str:
    metrics = [m for m in _metrics(runs) if m.kind != "cell"]
    buckets = sorted(
        {b for r in runs for m in metrics for b in r.metrics.get(m.name, {}).get("buckets", {})},
        key=bucket_sort_key,
    )
    if not buckets:
        return "<p>No per-bucket values.</p>"
    # one colour scale per metric row, shared by every run, so runs compare by colour
    scale: dict[str, tuple[float, float]] = {}
    for metric in metrics:
        values = []
        for run in runs:
            for entry in run.metrics.get(metric.name, {}).get("buckets", {}).values():
                if entry.get("value") is not None:
                    values.append(_goodness(metric, entry["value"], entry.get("human")))
        finite = [v for v in values if math.isfinite(v)]
        scale[metric.name] = (min(finite), max(finite)) if finite else (0.0, 1.0)
    cell_w, cell_h, left, top = 34, 18, 130, 150
    out = []
    for run in runs:
        width, height = left + cell_w * len(buckets) + 10, top + cell_h * len(metrics) + 10
        parts = [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='9' font-family='sans-serif'>"
        ]
        for j, bucket in enumerate(buckets):
            x = left + j * cell_w + cell_w / 2
            parts.append(
                f"<text transform='translate({x},{top - 4}) rotate(-60)'>{html.escape(bucket)}</text>"
            )
        for i, metric in enumerate(metrics):
            y = top + i * cell_h
            parts.append(
                f"<text x='{left - 4}' y='{y + 12}' text-anchor='end'>{html.escape(metric.name)} {ARROWS[metric.direction]}</text>"
            )
            low, high = scale[metric.name]
            for j, bucket in enumerate(buckets):
                entry = run.metrics.get(metric.name, {}).get("buckets", {}).get(bucket)
                x = left + j * cell_w
                if not entry or entry.get("value") is None:
                    parts.append(
                        f"<rect x='{x}' y='{y}' width='{cell_w - 1}' height='{cell_h - 1}' fill='#eeeeee'/>"
                    )
                    continue
                g = _goodness(metric, entry["value"], entry.get("human"))
                t = 0.5 if not math.isfinite(g) or high == low else (g - low) / (high - low)
                parts.append(
                    f"<rect x='{x}' y='{y}' width='{cell_w - 1}' height='{cell_h - 1}' fill='{_ramp(t)}'>"
                    f"<title>{html.escape(bucket)} {metric.name} = {entry['value']:.3f}</title></rect>"
                )
                parts.append(
                    f"<text x='{x + cell_w / 2}' y='{y + 12}' text-anchor='middle' font-size='8'>{_short(entry['value'])}</text>"
                )
        parts.append("</svg>")
        out.append(f"<h3>{html.escape(run.name)}</h3>" + "".join(parts))
    return (
        "".join(out)
        + "<p>Colour per metric row, shared by all runs: green is better, red worse (grey: n/a).</p>"
    )


def _ramp(t: float) -> str:
    """Red (0) → yellow (0.5) → green (1)."""
    t = min(max(t, 0.0), 1.0)
    r = 230 if t < 0.5 else int(230 - (t - 0.5) * 2 * 150)
    g = int(80 + t * 2 * 130) if t < 0.5 else 210
    return f"rgb({r},{g},90)"


def _short(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def _histograms_html(runs: Sequence[Run]) -> str:
    edges = next(
        (r.results.get("plots", {}).get("length_edges") for r in runs if r.results.get("plots")), None
    )
    if not edges:
        return "<p>No length data stored.</p>"
    buckets = sorted(
        {b for r in runs for b in r.results.get("plots", {}).get("lengths", {})}, key=bucket_sort_key
    )
    figures = []
    for bucket in buckets:
        series = []
        human = next(
            (
                r.results["plots"]["lengths"][bucket]["human"]
                for r in runs
                if bucket in r.results.get("plots", {}).get("lengths", {})
            ),
            [],
        )
        series.append((HUMAN_COLOUR, _hist(human, edges)))
        for i, run in enumerate(runs):
            lengths = run.results.get("plots", {}).get("lengths", {}).get(bucket)
            if lengths:
                series.append((_colour(i), _hist(lengths["model"], edges)))
        figures.append(
            f"<figure>{_hist_svg(series, edges)}<figcaption>{html.escape(bucket)} (n = {len(human)})</figcaption></figure>"
        )
    return (
        "<div class='grid'>"
        + "".join(figures)
        + "</div><p>Share of responses per length bin (units; log-spaced bins). Grey bars: human test responses; lines: runs.</p>"
    )


def _hist(values: Sequence[int], edges: Sequence[float]) -> np.ndarray:
    bins = np.searchsorted(np.asarray(edges), np.asarray(values, dtype=float), side="right") - 1
    counts = np.bincount(np.clip(bins, 0, len(edges) - 1), minlength=len(edges)).astype(float)
    return counts / max(counts.sum(), 1)


def _hist_svg(series: list[tuple[str, np.ndarray]], edges: Sequence[float]) -> str:
    width, height, pad = 240, 110, 18
    k = len(edges)
    peak = max(float(s.max()) for _, s in series) or 1.0
    bar = (width - 2 * pad) / k
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='8' font-family='sans-serif'>",
        f"<line x1='{pad}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' stroke='#999'/>",
    ]
    colour, human = series[0]
    for j, share in enumerate(human):
        h = (height - 2 * pad) * share / peak
        parts.append(
            f"<rect x='{pad + j * bar:.1f}' y='{height - pad - h:.1f}' width='{bar - 1:.1f}' height='{h:.1f}' fill='{colour}' opacity='0.45'/>"
        )
    for colour, shares in series[1:]:
        points = " ".join(
            f"{pad + (j + 0.5) * bar:.1f},{height - pad - (height - 2 * pad) * s / peak:.1f}"
            for j, s in enumerate(shares)
        )
        parts.append(f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1.6'/>")
    for j in range(0, k, 4):
        parts.append(f"<text x='{pad + j * bar:.1f}' y='{height - 5}'>{edges[j]:g}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _maps_html(runs: Sequence[Run]) -> str:
    figures = []
    for i, run in enumerate(runs):
        emap = run.results.get("plots", {}).get("embedding_map")
        if not emap:
            figures.append(f"<p>{html.escape(run.name)}: no embedding map (no embedder).</p>")
            continue
        figures.append(
            f"<figure>{_map_svg(emap, _colour(i))}<figcaption>{html.escape(run.name)}: {html.escape(emap['method'])}; "
            f"grey = human, colour = model</figcaption></figure>"
        )
    return "<div class='grid'>" + "".join(figures) + "</div>"


def _map_svg(emap: dict[str, Any], colour: str) -> str:
    size, pad = 320, 10
    points = [(p[0], p[1]) for p in emap["human"] + emap["model"]]
    if not points:
        return "<p>empty map</p>"
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx, sy = (size - 2 * pad) / ((x1 - x0) or 1), (size - 2 * pad) / ((y1 - y0) or 1)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{size}'><rect width='{size}' height='{size}' fill='#fcfcfc' stroke='#ddd'/>"
    ]
    for group, fill in (("human", HUMAN_COLOUR), ("model", colour)):
        for x, y, *_ in emap[group]:
            parts.append(
                f"<circle cx='{pad + (x - x0) * sx:.1f}' cy='{size - pad - (y - y0) * sy:.1f}' r='2.2' fill='{fill}' opacity='0.6'/>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _bucket_tables_html(runs: Sequence[Run]) -> str:
    out = []
    for metric in _metrics(runs):
        if metric.kind == "cell":
            continue
        rows = []
        for bucket in _buckets(runs, metric.name):
            entries = [r.metrics.get(metric.name, {}).get("buckets", {}).get(bucket, {}) for r in runs]
            n = next((str(e.get("n")) for e in entries if e.get("n") is not None), "")
            human = next(
                (
                    fmt_ci(e, "human", "human_low", "human_high")
                    for e in entries
                    if e.get("human") is not None
                ),
                "",
            )
            rows.append([bucket, n, *[fmt_ci(e) for e in entries], human])
        table = _table(["bucket", "n", *[r.name for r in runs], "human"], rows)
        out.append(
            f"<details><summary>{html.escape(metric.name)} {ARROWS[metric.direction]}: {html.escape(metric.description)}</summary>{table}</details>"
        )
    return "".join(out)


def _own_length_html(runs: Sequence[Run]) -> str:
    buckets = sorted({b for r in runs for b in r.results.get("by_own_length", {})}, key=bucket_sort_key)
    rows = []
    for bucket in buckets:
        row = [bucket]
        human = ""
        for run in runs:
            entry = run.results.get("by_own_length", {}).get(bucket, {})
            row.append(f"{entry.get('n_model', 0)} (d {fmt(entry.get('support_distance'))})")
            human = human or str(entry.get("n_human", ""))
        rows.append([*row, human])
    return _table(["own-length bucket", *[f"{r.name}: n (mean d)" for r in runs], "human n"], rows)


def _judge_html(judge: dict[str, Any]) -> str:
    runs = sorted(judge.get("runs", {}))
    criteria = sorted({c for r in runs for c in judge["runs"][r]})
    rows = [[c, *[fmt(judge["runs"][r][c]["macro"].get("value")) for r in runs]] for c in criteria]
    return (
        f"<p>{judge.get('records')} records, answers shown blind and shuffled; {len(judge.get('failures', []))} unusable replies.</p>"
        + _table(["criterion", *runs], rows)
    )


def _na_html(runs: Sequence[Run]) -> str:
    rows = []
    for run in runs:
        rows += [[run.name, "warning", "", w] for w in run.results.get("warnings", [])]
        rows += [[run.name, i["metric"], i["scope"], i["reason"]] for i in run.results.get("na", [])]
    return _table(["run", "metric", "scope", "reason"], rows) if rows else "<p>None.</p>"


# ----------------------------------------------------------------------------------------------- entry


def build_report(
    folders: Sequence[Path], out: Path, judge_file: Path | None = None, level: float = 0.95
) -> dict[str, Path]:
    """Write report.html, report.md and comparison.json into `out`; returns their paths."""
    runs = load_runs(folders)
    judge = None
    if judge_file is not None:
        path = judge_file / "judge.json" if judge_file.is_dir() else judge_file
        if not path.is_file():
            raise PolyAlignError(f"no judge results at {path}: run polyalign judge first")
        judge = json.loads(path.read_text(encoding="utf-8"))
    comp = comparison(runs, level)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "html": out / "report.html",
        "markdown": out / "report.md",
        "comparison": out / "comparison.json",
    }
    paths["html"].write_text(to_html(runs, comp, judge), encoding="utf-8")
    paths["markdown"].write_text(to_markdown(runs, comp, judge), encoding="utf-8")
    artifacts.write_json(paths["comparison"], comp)
    return paths
