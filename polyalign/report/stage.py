"""Build the comparison report of evaluated runs: report.html, report.md and comparison.json.

Reads only evaluate artefacts and, optionally, a judge results file; it recomputes no metric.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from polyalign import artifacts
from polyalign.errors import PolyAlignError
from polyalign.evaluate.compare import comparison, load_runs
from polyalign.report import html, markdown
from polyalign.report.tables import sections

TITLE = "PolyAlign evaluation report"


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
    parts, names = sections(runs, comp, judge), [r.name for r in runs]
    paths["html"].write_text(html.render(TITLE, names, parts), encoding="utf-8")
    paths["markdown"].write_text(markdown.render(TITLE, names, parts), encoding="utf-8")
    artifacts.write_json(paths["comparison"], comp)
    return paths
