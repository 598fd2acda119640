"""The Markdown report: every section of `tables.sections` except the plots, which only the HTML report has."""

from __future__ import annotations

from collections.abc import Sequence

from polyalign.data.bucket_report import table_code
from polyalign.report.tables import Block, Figure, Notes, Section, Table


def render(title: str, runs: Sequence[str], sections: Sequence[Section]) -> str:
    lines = [f"# {title}", "", f"Runs: {', '.join(runs)}.", ""]
    for section in sections:
        if section.plots:
            continue
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            lines += _block(block)
    lines += ["Plots (training curves, heatmap, length histograms, embedding map) are in report.html.", ""]
    return "\n".join(lines)


def _block(block: Block) -> list[str]:
    if isinstance(block, Table):
        return table(block)
    if isinstance(block, Notes):
        return [f"**{block.title}**", "", *[f"- {item}" for item in block.items], ""]
    if isinstance(block, Figure):
        return []
    return [block, ""]


def table(model: Table) -> list[str]:
    """A pipe table; key columns as code, every other pipe escaped (bucket keys contain pipes)."""

    def cell(text: str, column: int) -> str:
        return table_code(text) if column in model.keys and text else text.replace("|", "\\|")

    lines = [f"### {model.caption}", ""] if model.caption else []
    lines += [
        "| " + " | ".join(cell(h, -1) for h in model.head) + " |",
        "|" + "".join(" --- |" if c < model.labels else " ---: |" for c in range(len(model.head))),
    ]
    lines += ["| " + " | ".join(cell(text, c) for c, text in enumerate(row)) + " |" for row in model.rows]
    return [*lines, "", *[line for note in model.notes for line in (note, "")]]
