"""The HTML report: one self-contained page (inline CSS and SVG, no scripts, no CDN) of `tables.sections`.

The page is at most 1,360 px wide and never scrolls sideways: every table and every wide plot sits in
its own horizontal scroll box (`svg.SCROLL`), and long words in paragraphs wrap.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from polyalign.report import svg
from polyalign.report.tables import Block, Figure, Notes, Section, Table

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans CJK SC',sans-serif;
margin:24px auto;padding:0 24px;color:#222;background:#fff;max-width:1360px}p,li{overflow-wrap:anywhere}
.scroll{overflow-x:auto;max-width:100%}.foot{font-size:12px;color:#444;margin:2px 0}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:1.6em}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f0f0f0;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.better{background:#d9f2d9}.worse{background:#f8d7d7}.note{background:#fff4ce;padding:8px;border:1px solid #e0c860}
.design{background:#eef3fa;padding:8px;border:1px solid #b8c8e0}
.grid{display:flex;flex-wrap:wrap;gap:10px}.grid figure{margin:0;border:1px solid #eee;padding:4px}
figcaption{font-size:11px;color:#444;max-width:260px;word-break:break-all}.legend span{margin-right:14px}
code{background:#f5f5f5;padding:0 3px}details{margin:4px 0}summary{cursor:pointer;font-weight:600}
"""


def render(title: str, runs: Sequence[str], sections: Sequence[Section]) -> str:
    toc = " · ".join(f"<a href='#{_anchor(s.title)}'>{html.escape(s.title)}</a>" for s in sections)
    legend = "".join(
        f"<span style='color:{svg.colour(i)}'>■ {html.escape(r)}</span>" for i, r in enumerate(runs)
    )
    body = [
        f"<h2 id='{_anchor(s.title)}'>{html.escape(s.title)}</h2>\n" + "".join(_block(b) for b in s.blocks)
        for s in sections
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>PolyAlign report: {html.escape(', '.join(runs))}</title><style>{CSS}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p class='legend'>{legend}"
        f"<span style='color:{svg.HUMAN_COLOUR}'>■ human</span></p><p>{toc}</p>"
        + "\n".join(body)
        + "</body></html>"
    )


def _anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower())


def _block(block: Block) -> str:
    if isinstance(block, Table):
        return table(block)
    if isinstance(block, Notes):
        items = "".join(f"<li>{html.escape(item)}</li>" for item in block.items)
        tone = "note" if block.warning else "design"
        return f"<div class='{tone}'><b>{html.escape(block.title)}</b><ul>{items}</ul></div>"
    if isinstance(block, Figure):
        return block.html
    return f"<p>{html.escape(block)}</p>"


def table(model: Table) -> str:
    """A table in its scroll box, its footnotes under it; a captioned one folds under its caption."""
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in model.head) + "</tr>"]
    for r, row in enumerate(model.rows):
        cells = []
        for c, cell in enumerate(row):
            cls = model.marks[r][c] if model.marks else ""
            cells.append(f"<td class='{cls}'>{html.escape(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f"<p class='foot'>{html.escape(note)}</p>" for note in model.notes)
    page = svg.SCROLL.format("".join(out) + "</table>") + notes
    if model.caption is None:
        return page
    return f"<details><summary>{html.escape(model.caption)}</summary>{page}</details>"
