"""One function per stage after `prepare`: (config, input artefact) → output artefact, reused when complete.

`full_run` chains them all: prepare → reference → train (SFT and Bucket-SFT) → generate → evaluate →
report; `prepare_and_reference` is the upstream part every later command builds or reuses first.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyalign import artifacts
from polyalign.config import RunConfig, artifact_root, config_hash
from polyalign.data.prepare import PreparedData, prepare
from polyalign.errors import PolyAlignError
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.embedders import load_embedder
from polyalign.reference.reference import STAGE, STAGE_VERSION, HumanReference, build_reference, reference_key
from polyalign.reference.report import ReferenceReport, build_reference_report

if TYPE_CHECKING:
    from polyalign.artifacts import Artifact
    from polyalign.evaluate.config import EvalConfig
    from polyalign.generate.config import GenerateConfig
    from polyalign.generate.stage import GenerateArtifact
    from polyalign.report.stage import ReportFiles
    from polyalign.train.config import TrainConfig
    from polyalign.train.stage import TrainArtifact


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
    if not force and artifacts.holds(folder, key):
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


def train_stage(
    prepared: PreparedData,
    reference: ReferenceArtifact | None,
    config: TrainConfig,
    out: Path | None = None,
    *,
    resume: bool = False,
    force: bool = False,
) -> TrainArtifact:
    """SFT or Bucket-SFT (`polyalign.train.stage`); torch and TRL are imported only when it runs."""
    from polyalign.train.stage import train_stage as run_train

    reference_key = reference.manifest["key"] if reference is not None else None
    return run_train(prepared, config, reference_key, out, resume=resume, force=force)


def generate_stage(
    prepared: PreparedData,
    reference: ReferenceArtifact | None,
    config: GenerateConfig,
    out: Path | None = None,
    *,
    force: bool = False,
) -> GenerateArtifact:
    """Generations of one model on the full prepared split with the shared decoding config."""
    from polyalign.generate.stage import generate_stage as run_generate

    reference_key = reference.manifest["key"] if reference else None
    parents = {"prepare": prepared.manifest["key"], "reference": reference_key}
    human = reference.reference if reference is not None else None
    return run_generate(prepared.splits[config.split], human, config, parents=parents, out=out, force=force)


@dataclass
class EvaluateArtifact:
    folder: Path
    manifest: dict[str, Any]
    results: dict[str, Any]
    reused: bool = False


def evaluate_stage(
    prepared: PreparedData,
    reference: ReferenceArtifact,
    config: EvalConfig,
    generations: Path | None = None,
    *,
    human: str | None = None,
    name: str | None = None,
    out: Path | None = None,
    force: bool = False,
) -> EvaluateArtifact:
    """Metrics of one generations file (or of the human test responses: `human` = gold | split)."""
    from polyalign.evaluate import suite
    from polyalign.reference.embedders import load_embedder

    records = prepared.splits["test"]
    if (generations is None) == (human is None):
        raise PolyAlignError("evaluate needs either a generations file or --human gold|split, not both")
    if human == "gold":
        gens, identity = suite.human_generations(records), "human:gold"
    elif human == "split":
        records, gens = suite.human_split(records, config.seed)
        identity = f"human:split:{config.seed}"
    elif human is not None:
        raise PolyAlignError(f"--human must be 'gold' or 'split', got {human!r}")
    else:
        gens = suite.read_generations(Path(str(generations)))
        identity = gens.provenance["sha256"]
    name = name or (f"human-{human}" if human else Path(str(generations)).stem)
    if name == "generations" and generations is not None:
        name = Path(str(generations)).resolve().parent.name
    key = artifacts.artifact_key(
        suite.STAGE, suite.STAGE_VERSION, prepared.manifest["key"], reference.manifest["key"], identity,
        config_hash(config), name,
    )  # fmt: skip
    folder = out or artifact_root() / suite.STAGE / key
    if not force and artifacts.holds(folder, key):
        results, _ = suite.load_results(folder)
        return EvaluateArtifact(folder, artifacts.read_manifest(folder), results, reused=True)
    embedder = load_embedder(config.embedder) if config.embedder else None
    result = suite.evaluate_generations(
        records, gens, reference.reference, config,
        edges={lang: list(e) for lang, e in prepared.report.edges.items()},
        train_records=prepared.splits["train"], embedder=embedder, name=name,
        cache_dir=artifact_root() / "embeddings",
    )  # fmt: skip
    manifest = {
        **artifacts.manifest_header(suite.STAGE, suite.STAGE_VERSION, key),
        "parents": {
            "prepare": prepared.manifest["key"],
            "reference": reference.manifest["key"],
            "generations": identity,
        },
        "run": name,
        "config_hash": config_hash(config),
        "config": dataclasses.asdict(config),
    }
    result.results["key"] = key
    result.results["parents"] = manifest["parents"]
    suite.write_results(folder, result, manifest)
    return EvaluateArtifact(folder, manifest, result.results)


def prepare_and_reference(
    config: RunConfig, *, force: bool = False, progress: bool = True
) -> tuple[PreparedData, ReferenceArtifact]:
    """The upstream stages, each reused when its artefact is complete."""
    prepared = prepare(config.prepare, force=force, progress=progress)
    return prepared, reference_stage(prepared, config.reference, force=force)


@dataclass
class FullRun:
    prepared: PreparedData
    reference: ReferenceArtifact
    models: dict[str, TrainArtifact]
    evaluations: dict[str, EvaluateArtifact]
    report: Artifact[ReportFiles]


def full_run(
    config: RunConfig, methods: tuple[str, ...] = ("sft", "bucket_sft"), *, force: bool = False
) -> FullRun:
    """Every stage for each method, compared like for like: same data, decoding settings and test set.

    Plain SFT is trained and generates without the profile prompt; Bucket-SFT with it, its target length
    sampled from the cell's human lengths (never the gold one). The first method is the report's baseline.
    """
    from polyalign.report.stage import report_stage

    prepared, reference = prepare_and_reference(config, force=force)
    models, evaluations = {}, {}
    for method in methods:
        train_config = dataclasses.replace(config.train, method=method)
        models[method] = train_stage(prepared, reference, train_config, force=force)
        profile = config.generate.profile if train_config.use_profile else "off"
        generate_config = dataclasses.replace(
            config.generate, model=str(models[method].folder), profile=profile
        )
        generations = generate_stage(prepared, reference, generate_config, force=force)
        evaluations[method] = evaluate_stage(
            prepared, reference, config.evaluate, generations.file, name=method, force=force
        )
    report = report_stage([e.folder for e in evaluations.values()], root=artifact_root(), force=force)
    return FullRun(prepared, reference, models, evaluations, report)
