"""The HTML report: one self-contained page (inline CSS and SVG, no scripts, no CDN)."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from typing import Any

from polyalign.data.buckets import bucket_sort_key
from polyalign.evaluate.compare import (
    Run,
    compared_metrics,
    like_for_like,
    mauve_cells,
    metric_buckets,
    provenance,
)
from polyalign.report import svg
from polyalign.report.tables import ARROWS, fmt, fmt_ci, fmt_diff, macro_text

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
        ("Heatmap: metric × bucket", lambda: svg.heatmaps_html(runs)),
        ("Length histograms per bucket", lambda: svg.histograms_html(runs)),
        ("Embedding map", lambda: svg.maps_html(runs)),
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
        f"<span style='color:{svg.colour(i)}'>■ {html.escape(r.name)}</span>" for i, r in enumerate(runs)
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>PolyAlign report: {html.escape(', '.join(r.name for r in runs))}</title><style>{CSS}</style></head>"
        f"<body><h1>PolyAlign evaluation report</h1><p class='legend'>{legend}"
        f"<span style='color:{svg.HUMAN_COLOUR}'>■ human</span></p><p>{toc}</p>"
        + "\n".join(body)
        + "</body></html>"
    )


def _anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower())


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
                str(provenance(run, "profile_mode") or "–"),
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
    for metric in compared_metrics(runs):
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
                *[macro_text(r, metric) for r in runs],
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
    cells = mauve_cells(runs)
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


def _bucket_tables_html(runs: Sequence[Run]) -> str:
    out = []
    for metric in compared_metrics(runs):
        if metric.kind == "cell":
            continue
        rows = []
        for bucket in metric_buckets(runs, metric.name):
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
