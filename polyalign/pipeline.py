"""Chains the stages: prepare → reference → train (SFT and Bucket-SFT) → generate → evaluate → report.

Each stage lives in its own package's `stage.py` and is reused when its artefact is complete; the caller
resolves the artefact root once and passes it as `root`. `prepare_and_reference` is the upstream part
every later command builds or reuses first. No stage body lives here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from polyalign.artifacts import Artifact
from polyalign.config import RunConfig
from polyalign.data.prepare import PreparedData, prepare_stage
from polyalign.reference.stage import ReferenceArtifact, reference_stage

if TYPE_CHECKING:
    from polyalign.generate.config import GenerateConfig
    from polyalign.report.stage import ReportFiles
    from polyalign.train.config import TrainConfig


class StageReporter(Protocol):
    """Told as each stage starts and as it is done, so a caller can show progress while the run goes on;
    the pipeline itself prints nothing."""

    def start(self, stage: str, method: str | None = None) -> None: ...

    def done(self, stage: str, artifact: Artifact[Any], method: str | None = None) -> None: ...


class _Silent:
    def start(self, stage: str, method: str | None = None) -> None:
        pass

    def done(self, stage: str, artifact: Artifact[Any], method: str | None = None) -> None:
        pass


def prepare_and_reference(
    config: RunConfig,
    *,
    root: Path,
    force: bool = False,
    progress: bool = True,
    reporter: StageReporter | None = None,
) -> tuple[Artifact[PreparedData], ReferenceArtifact]:
    """The upstream stages, each reused when its artefact is complete."""
    reporter = reporter or _Silent()
    reporter.start("prepare")
    prepared = prepare_stage(config.prepare, root=root, force=force, progress=progress)
    reporter.done("prepare", prepared)
    reporter.start("reference")
    reference = reference_stage(prepared, config.reference, root=root, force=force)
    reporter.done("reference", reference)
    return prepared, reference


@dataclass
class PreferenceRun:
    prepared: Artifact[PreparedData]
    reference: ReferenceArtifact
    policy: Artifact[dict[str, Any]]  # the start policy (SFT or Bucket-SFT)
    pairs: Artifact[Any]
    model: Artifact[dict[str, Any]]


def preference_run(
    config: RunConfig,
    *,
    root: Path,
    out: Path | None = None,
    force: bool = False,
    resume: bool = True,
    verbose: bool = False,
    reporter: StageReporter | None = None,
) -> PreferenceRun:
    """prepare → reference → the start policy (`preference.start_method`) → pairs sampled from it →
    DPO, DPO + anchor or HDPO (`preference.method`, into `out` if given), each stage reused when its
    artefact is complete."""
    from polyalign.train.pairs import pairs_stage
    from polyalign.train.preference import preference_stage
    from polyalign.train.stage import train_stage

    reporter = reporter or _Silent()
    method = config.preference.method
    prepared, reference = prepare_and_reference(config, root=root, force=force, reporter=reporter)
    start = dataclasses.replace(config.train, method=config.preference.start_method)
    reporter.start("train", start.method)
    policy = train_stage(
        prepared, reference, start, root=root, resume=resume and not force, force=force, verbose=verbose
    )
    reporter.done("train", policy, start.method)
    reporter.start("pairs", method)
    pairs = pairs_stage(prepared, reference, policy, config.pairs, root=root, force=force)
    reporter.done("pairs", pairs, method)
    reporter.start("preference", method)
    model = preference_stage(
        pairs, policy, reference, config.preference, root=root, out=out, resume=resume and not force,
        force=force, verbose=verbose,
    )  # fmt: skip
    reporter.done("preference", model, method)
    return PreferenceRun(prepared, reference, policy, pairs, model)


@dataclass
class FullRun:
    prepared: Artifact[PreparedData]
    reference: ReferenceArtifact
    models: dict[str, Artifact[dict[str, Any]]]
    generations: dict[str, Artifact[Path]]
    evaluations: dict[str, Artifact[dict[str, Any]]]
    report: Artifact[ReportFiles]


def full_run(
    config: RunConfig,
    methods: tuple[str, ...] = ("sft", "bucket_sft"),
    *,
    root: Path,
    force: bool = False,
    resume: bool = True,
    verbose: bool = False,
    reporter: StageReporter | None = None,
) -> FullRun:
    """Every stage for each method, compared like for like: same data, decoding settings and test set.

    Plain SFT is trained and generates without the profile prompt; Bucket-SFT with it, its target length
    sampled from the cell's human lengths (never the gold one). The first method is the report's baseline.
    An interrupted training continues from its last checkpoint unless `resume` is off; `verbose` lets the
    trainer print every log dict.
    """
    from polyalign.evaluate.stage import evaluate_stage
    from polyalign.generate.stage import generate_stage
    from polyalign.report.stage import report_stage
    from polyalign.train.stage import train_stage

    reporter = reporter or _Silent()
    prepared, reference = prepare_and_reference(config, root=root, force=force, reporter=reporter)
    models, generations, evaluations = {}, {}, {}
    for method in methods:
        train_config = dataclasses.replace(config.train, method=method)
        reporter.start("train", method)
        model = train_stage(
            prepared, reference, train_config, root=root, resume=resume and not force, force=force,
            verbose=verbose,
        )  # fmt: skip
        reporter.done("train", model, method)
        generate_config = _generate_config(config, train_config, model)
        reporter.start("generate", method)
        generated = generate_stage(prepared, reference, generate_config, root=root, force=force)
        reporter.done("generate", generated, method)
        reporter.start("evaluate", method)
        evaluated = evaluate_stage(
            prepared, reference, config.evaluate, generated.content, name=method, root=root, force=force
        )
        reporter.done("evaluate", evaluated, method)
        models[method], generations[method], evaluations[method] = model, generated, evaluated
    reporter.start("report")
    report = report_stage([e.folder for e in evaluations.values()], root=root, force=force)
    reporter.done("report", report)
    return FullRun(prepared, reference, models, generations, evaluations, report)


def _generate_config(config: RunConfig, train: TrainConfig, model: Artifact[Any]) -> GenerateConfig:
    """The shared decoding settings for one trained model: with the profile only if it trained with one."""
    profile = config.generate.profile if train.use_profile else "off"
    return dataclasses.replace(config.generate, model=str(model.folder), profile=profile)
