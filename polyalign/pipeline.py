"""Chains the stages: prepare → reference → train (SFT and Bucket-SFT) → generate → evaluate → report.

Each stage lives in its own package's `stage.py` and is reused when its artefact is complete; the caller
resolves the artefact root once and passes it as `root`. `prepare_and_reference` is the upstream part
every later command builds or reuses first. No stage body lives here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyalign.artifacts import Artifact
from polyalign.config import RunConfig
from polyalign.data.prepare import PreparedData, prepare_stage
from polyalign.reference.stage import ReferenceArtifact, reference_stage

if TYPE_CHECKING:
    from polyalign.generate.config import GenerateConfig
    from polyalign.report.stage import ReportFiles
    from polyalign.train.config import TrainConfig


def prepare_and_reference(
    config: RunConfig, *, root: Path, force: bool = False, progress: bool = True
) -> tuple[Artifact[PreparedData], ReferenceArtifact]:
    """The upstream stages, each reused when its artefact is complete."""
    prepared = prepare_stage(config.prepare, root=root, force=force, progress=progress)
    reference = reference_stage(prepared, config.reference, root=root, force=force)
    return prepared, reference


@dataclass
class FullRun:
    prepared: Artifact[PreparedData]
    reference: ReferenceArtifact
    models: dict[str, Artifact[dict[str, Any]]]
    generations: dict[str, Artifact[Path]]
    evaluations: dict[str, Artifact[dict[str, Any]]]
    report: Artifact[ReportFiles]


def full_run(
    config: RunConfig, methods: tuple[str, ...] = ("sft", "bucket_sft"), *, root: Path, force: bool = False
) -> FullRun:
    """Every stage for each method, compared like for like: same data, decoding settings and test set.

    Plain SFT is trained and generates without the profile prompt; Bucket-SFT with it, its target length
    sampled from the cell's human lengths (never the gold one). The first method is the report's baseline.
    """
    from polyalign.evaluate.stage import evaluate_stage
    from polyalign.generate.stage import generate_stage
    from polyalign.report.stage import report_stage
    from polyalign.train.stage import train_stage

    prepared, reference = prepare_and_reference(config, root=root, force=force)
    models, generations, evaluations = {}, {}, {}
    for method in methods:
        train_config = dataclasses.replace(config.train, method=method)
        model = train_stage(prepared, reference, train_config, root=root, force=force)
        generate_config = _generate_config(config, train_config, model)
        generated = generate_stage(prepared, reference, generate_config, root=root, force=force)
        evaluated = evaluate_stage(
            prepared, reference, config.evaluate, generated.content, name=method, root=root, force=force
        )
        models[method], generations[method], evaluations[method] = model, generated, evaluated
    report = report_stage([e.folder for e in evaluations.values()], root=root, force=force)
    return FullRun(prepared, reference, models, generations, evaluations, report)


def _generate_config(config: RunConfig, train: TrainConfig, model: Artifact[Any]) -> GenerateConfig:
    """The shared decoding settings for one trained model: with the profile only if it trained with one."""
    profile = config.generate.profile if train.use_profile else "off"
    return dataclasses.replace(config.generate, model=str(model.folder), profile=profile)
