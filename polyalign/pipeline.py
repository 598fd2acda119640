"""One function per stage after `prepare`: (config, input artefact) → output artefact, reused when complete.

`run` chains the stages that exist so far: prepare → reference (with its held-out human floor report).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.config import ReferenceConfig, RunConfig, artifact_root, config_hash
from polyalign.embedders import load_embedder
from polyalign.prepare import PreparedData, prepare
from polyalign.reference import STAGE, STAGE_VERSION, HumanReference, build_reference, reference_key
from polyalign.reference_report import ReferenceReport, build_reference_report


@dataclass
class ReferenceArtifact:
    folder: Path
    manifest: dict[str, Any]
    reference: HumanReference
    report: ReferenceReport
    reused: bool = False


def reference_stage(
    prepared: PreparedData, config: ReferenceConfig, out: Path | None = None, *, force: bool = False
) -> ReferenceArtifact:
    """Build the bucket references from the train split and score the held-out humans for the floor."""
    key = reference_key(prepared.manifest["key"], config)
    folder = out or artifact_root() / STAGE / key
    if not force and artifacts.is_complete(folder) and artifacts.read_manifest(folder).get("key") == key:
        return _load_reference_artifact(folder)
    source = {"prepare_key": prepared.manifest["key"], "prepare_folder": str(prepared.folder)}
    embedder = load_embedder(config.embedder) if config.embedder else None
    reference = build_reference(prepared.splits["train"], config, source, embedder)
    all_buckets = [str(r.bucket) for split in prepared.splits.values() for r in split]
    report = build_reference_report(reference, all_buckets, {s: prepared.splits[s] for s in ("val", "test")})
    manifest = {
        **artifacts.manifest_header(STAGE, STAGE_VERSION, key),
        "parents": {"prepare": prepared.manifest["key"]},
        "config_hash": config_hash(config),
        "config": dataclasses.asdict(config),
        "feature_names": list(reference.feature_names),
        "references": {"buckets": sum(s.level == "bucket" for s in reference.stats.values()),
                       "cells": sum(s.level == "cell" for s in reference.stats.values())},
    }  # fmt: skip
    with artifacts.atomic_folder(folder) as staging:
        reference.save(staging)
        artifacts.write_json(staging / "report.json", report.to_json())
        (staging / "report.md").write_text(report.to_markdown(), encoding="utf-8")
        artifacts.write_json(staging / artifacts.MANIFEST, manifest)
    return ReferenceArtifact(folder, manifest, reference, report)


def _load_reference_artifact(folder: Path) -> ReferenceArtifact:
    report = ReferenceReport.from_json(json.loads((folder / "report.json").read_text(encoding="utf-8")))
    return ReferenceArtifact(
        folder, artifacts.read_manifest(folder), HumanReference.load(folder), report, reused=True
    )


def run(
    config: RunConfig, *, force: bool = False, progress: bool = True
) -> tuple[PreparedData, ReferenceArtifact]:
    """Every stage that exists so far, each reused when its artefact is complete."""
    prepared = prepare(config.prepare, force=force, progress=progress)
    return prepared, reference_stage(prepared, config.reference, force=force)
