"""The report's plots as inline SVG: metric × bucket heatmaps, length histograms, embedding maps and
training curves. A plot wider than the page (a heatmap over many buckets) sits in its own horizontal
scroll box (`SCROLL`), so the page itself never scrolls sideways."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from polyalign.data.buckets import BucketKey
from polyalign.evaluate.compare import Run, compared_metrics, goodness
from polyalign.report.training import Training

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
HUMAN_COLOUR = "#7f7f7f"
ARROWS = {"higher": "↑", "lower": "↓", "closer_to_human": "≈H"}  # direction marks, plots and tables
SCROLL = "<div class='scroll'>{}</div>"  # a horizontal scroll box (CSS in html.py)


def colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def heatmaps_html(runs: Sequence[Run]) -> str:
    metrics = [m for m in compared_metrics(runs) if m.kind != "cell"]
    buckets = sorted(
        {b for r in runs for m in metrics for b in r.metrics.get(m.name, {}).get("buckets", {})},
        key=BucketKey.sort_key_of,
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
                    values.append(goodness(metric, entry["value"], entry.get("human")))
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
                g = goodness(metric, entry["value"], entry.get("human"))
                t = 0.5 if not math.isfinite(g) or high == low else (g - low) / (high - low)
                parts.append(
                    f"<rect x='{x}' y='{y}' width='{cell_w - 1}' height='{cell_h - 1}' fill='{_ramp(t)}'>"
                    f"<title>{html.escape(bucket)} {metric.name} = {entry['value']:.3f}</title></rect>"
                )
                parts.append(
                    f"<text x='{x + cell_w / 2}' y='{y + 12}' text-anchor='middle' font-size='8'>{_short(entry['value'])}</text>"
                )
        parts.append("</svg>")
        out.append(f"<h3>{html.escape(run.name)}</h3>" + SCROLL.format("".join(parts)))
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


def histograms_html(runs: Sequence[Run]) -> str:
    edges = next(
        (r.results.get("plots", {}).get("length_edges") for r in runs if r.results.get("plots")), None
    )
    if not edges:
        return "<p>No length data stored.</p>"
    buckets = sorted(
        {b for r in runs for b in r.results.get("plots", {}).get("lengths", {})}, key=BucketKey.sort_key_of
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
                series.append((colour(i), _hist(lengths["model"], edges)))
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


def maps_html(runs: Sequence[Run]) -> str:
    figures = []
    for i, run in enumerate(runs):
        emap = run.results.get("plots", {}).get("embedding_map")
        if not emap:
            figures.append(
                f"<p>{html.escape(run.name)}: no embedding map in its results (evaluated without an embedder?).</p>"
            )
            continue
        figures.append(
            f"<figure>{_map_svg(emap, colour(i))}<figcaption>{html.escape(run.name)}: {html.escape(emap['method'])}; "
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


def curves_html(names: Sequence[str], trainings: Mapping[str, Training], titles: Mapping[str, str]) -> str:
    """Per run (in its colour), every loss term of its training against step, one small chart each."""
    blocks = []
    for i, name in enumerate(names):
        training = trainings.get(name)
        if training is None:
            blocks.append(
                f"<p>{html.escape(name)}: no training given (an untrained model, or no --training).</p>"
            )
            continue
        figures = [
            f"<figure>{_line_svg(points, colour(i))}<figcaption>{html.escape(term)}</figcaption></figure>"
            for term, points in training.curves.items()
        ]
        body = "".join(figures) or "<p>No loss was logged.</p>"
        blocks.append(
            f"<h3>{html.escape(name)}: {html.escape(titles[name])}</h3><div class='grid'>{body}</div>"
        )
    return (
        "".join(blocks)
        + "<p>Each logged value against the optimiser step (one point per logging interval).</p>"
    )


def _line_svg(points: Sequence[tuple[int, float]], colour: str) -> str:
    """A line of (step, value) points with its first and last step and its value range marked."""
    width, height, left, pad = 220, 110, 40, 14
    steps, values = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(steps), max(steps), min(values), max(values)
    sx, sy = (width - left - pad) / ((x1 - x0) or 1), (height - 2 * pad) / ((y1 - y0) or 1)
    xy = [(left + (x - x0) * sx, height - pad - (y - y0) * sy) for x, y in points]
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='8' font-family='sans-serif'>",
        f"<line x1='{left}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' stroke='#999'/>",
        f"<line x1='{left}' y1='{pad}' x2='{left}' y2='{height - pad}' stroke='#999'/>",
        f"<text x='{left - 3}' y='{pad + 3}' text-anchor='end'>{y1:.3g}</text>",
        f"<text x='{left - 3}' y='{height - pad}' text-anchor='end'>{y0:.3g}</text>",
        f"<text x='{left}' y='{height - 3}'>{x0}</text>",
        f"<text x='{width - pad}' y='{height - 3}' text-anchor='end'>{x1}</text>",
        f"<polyline points='{' '.join(f'{x:.1f},{y:.1f}' for x, y in xy)}' fill='none' stroke='{colour}' stroke-width='1.6'/>",
    ]
    if len(xy) < 3:  # a line of one or two points is hard to see: mark them
        parts += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2' fill='{colour}'/>" for x, y in xy]
    parts.append("</svg>")
    return "".join(parts)
