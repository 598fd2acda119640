"""The report stage: the comparison of evaluated runs as an artefact (report.html, .md, comparison.json).

Reads only evaluate artefacts (and, optionally, a judge results file and the training artefacts of the
runs' models, whose loss curves it plots); it recomputes no metric. Its key hashes the evaluate artefacts'
keys in order (the first run is the baseline), the judge file's checksum and each training summary's
checksum, so the same runs give the same folder, `root/report/<key>`, reused when complete.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.errors import InputError, PolyAlignError
from polyalign.evaluate.compare import comparison, load_runs
from polyalign.report import html, markdown, training
from polyalign.report.tables import sections

STAGE, STAGE_VERSION = "report", 2  # 2: glossary first, human column, design note, training curves
TITLE = "PolyAlign evaluation report"


@dataclass(frozen=True)
class ReportFiles:
    """The report artefact's files."""

    html: Path
    markdown: Path
    comparison: Path


def report_stage(
    evaluations: Sequence[Path],
    *,
    root: Path,
    out: Path | None = None,
    force: bool = False,
    judge: Path | None = None,
    trainings: Mapping[str, Path] | None = None,
) -> Artifact[ReportFiles]:
    """Compare evaluate artefacts (the first is the baseline) into `out or root/report/<key>`.

    `trainings`: run name → the training artefact folder of that run's model (none for an untrained one),
    whose loss terms the report plots against step."""
    if not evaluations:
        raise PolyAlignError("give at least one evaluate artefact folder (polyalign evaluate ...)")
    folders = [Path(f) for f in evaluations]
    parents: dict[str, str | None] = {f"evaluate:{i}": _evaluate_key(f) for i, f in enumerate(folders)}
    judge_file = _judge_file(judge) if judge is not None else None
    if judge_file is not None:
        parents["judge"] = artifacts.file_sha256(judge_file)
    trainings = {name: Path(trainings[name]) for name in sorted(trainings or {})}
    parents |= {f"training:{name}": training.checksum(folder) for name, folder in trainings.items()}
    identity = [f"{role}={k}" for role, k in parents.items() if k is not None]  # which input in which role
    key = artifacts.artifact_key(STAGE, STAGE_VERSION, *identity)
    folder = out or root / STAGE / key

    def build(target: Path) -> Mapping[str, Any]:
        runs = load_runs(folders)
        judged = json.loads(judge_file.read_text(encoding="utf-8")) if judge_file is not None else None
        comp, names = comparison(runs), [r.name for r in runs]
        parts = sections(runs, comp, judged, training.open_trainings(trainings, names))
        (target / "report.html").write_text(html.render(TITLE, names, parts), encoding="utf-8")
        (target / "report.md").write_text(markdown.render(TITLE, names, parts), encoding="utf-8")
        artifacts.write_json(target / "comparison.json", comp)
        return {"runs": names}

    def load(done: Path) -> ReportFiles:
        return ReportFiles(done / "report.html", done / "report.md", done / "comparison.json")

    return artifacts.run_stage(STAGE, STAGE_VERSION, key, folder, build, load, parents=parents, force=force)


def _evaluate_key(folder: Path) -> str:
    """The key of a complete evaluate artefact, which the report's key hashes."""
    if not artifacts.is_complete(folder):
        raise InputError(
            f"{folder} is not a complete evaluate artefact (no {artifacts.MANIFEST}): "
            "give the folder polyalign evaluate wrote"
        )
    manifest = artifacts.read_manifest(folder)
    if manifest.get("stage") != "evaluate":
        raise InputError(f"{folder} is a {manifest.get('stage')!r} artefact, not an evaluate one")
    return str(manifest["key"])


def _judge_file(judge: Path) -> Path:
    """judge.json (or the folder holding it), checked for the shape the judge table reads."""
    path = judge / "judge.json" if judge.is_dir() else judge
    if not path.is_file():
        raise PolyAlignError(f"no judge results at {path}: run polyalign judge first")
    data = json.loads(path.read_text(encoding="utf-8"))
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, dict) or not all(
        isinstance(scores, dict)
        and all(isinstance(s, dict) and isinstance(s.get("macro"), dict) for s in scores.values())
        for scores in runs.values()
    ):
        raise InputError(
            f"{path} is not a judge results file (runs → criterion → macro): re-run polyalign judge"
        )
    return path
