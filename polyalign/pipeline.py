"""Chains the stages: prepare → reference → train (SFT, Bucket-SFT; pairs → DPO, DPO + anchor, HDPO) →
generate → evaluate → report.

Each stage lives in its own package's `stage.py` and is reused when its artefact is complete; the caller
resolves the artefact root once and passes it as `root`. `prepare_and_reference` is the upstream part
every later command builds or reuses first. No stage body lives here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.config import RunConfig
from polyalign.data.prepare import PreparedData, prepare_stage
from polyalign.errors import ConfigError
from polyalign.reference.stage import ReferenceArtifact, reference_stage
from polyalign.train.config import ALL_METHODS, BASE, PREFERENCE_METHODS

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
class Models:
    """Trains (or reuses) the models of a run, each once: SFT and Bucket-SFT, and the preference methods
    with the pairs sampled from their start policy."""

    config: RunConfig
    prepared: Artifact[PreparedData]
    reference: ReferenceArtifact
    root: Path
    force: bool = False
    resume: bool = True
    verbose: bool = False
    reporter: StageReporter = dataclasses.field(default_factory=lambda: _Silent())
    trained: dict[str, Artifact[dict[str, Any]]] = dataclasses.field(default_factory=dict)

    def sft(self, method: str) -> Artifact[dict[str, Any]]:
        """SFT or Bucket-SFT (`method`) with the run's `train` settings."""
        from polyalign.train.stage import train_stage

        if method not in self.trained:
            self.reporter.start("train", method)
            self.trained[method] = train_stage(
                self.prepared, self.reference, dataclasses.replace(self.config.train, method=method),
                root=self.root, resume=self.resume and not self.force, force=self.force, verbose=self.verbose,
            )  # fmt: skip
            self.reporter.done("train", self.trained[method], method)
        return self.trained[method]

    def preference(self, method: str, out: Path | None = None) -> PreferenceRun:
        """DPO, DPO + anchor or HDPO (`method`): its start policy, the pairs sampled from it, the model."""
        from polyalign.train.pairs import pairs_stage
        from polyalign.train.preference import preference_stage

        config = self.config.preference.for_method(method)
        policy = self.sft(config.start_method)
        self.reporter.start("pairs", method)
        pairs = pairs_stage(
            self.prepared, self.reference, policy, self.config.pairs, root=self.root, force=self.force
        )
        self.reporter.done("pairs", pairs, method)
        self.reporter.start("preference", method)
        model = preference_stage(
            pairs, policy, self.reference, config, root=self.root, out=out,
            resume=self.resume and not self.force, force=self.force, verbose=self.verbose,
        )  # fmt: skip
        self.reporter.done("preference", model, method)
        self.trained[method] = model
        return PreferenceRun(self.prepared, self.reference, policy, pairs, model)

    def base(self) -> str:
        """The untrained start model (a name or folder), generated like every trained method."""
        from polyalign.train.base import base_stage

        if self.config.train.model != "tiny":
            return self.config.train.model
        self.reporter.start("base")
        built = base_stage(self.prepared, self.config.train, root=self.root, force=self.force)
        self.reporter.done("base", built)
        return str(built.folder)

    def train_config(self, method: str) -> TrainConfig:
        """The SFT settings a method's model was trained with (a preference method's: its start policy's)."""
        if method in PREFERENCE_METHODS:
            method = self.config.preference.for_method(method).start_method
        return dataclasses.replace(self.config.train, method=method)


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
    artefact is complete. A refused `out` is refused before any upstream stage runs."""
    from polyalign.train.preference import STAGE as PREFERENCE_STAGE

    if out is not None:
        artifacts.check_replaceable(out, PREFERENCE_STAGE)
    reporter = reporter or _Silent()
    prepared, reference = prepare_and_reference(config, root=root, force=force, reporter=reporter)
    models = Models(config, prepared, reference, root, force, resume, verbose, reporter)
    return models.preference(config.preference.method, out=out)


@dataclass
class FullRun:
    prepared: Artifact[PreparedData]
    reference: ReferenceArtifact
    models: dict[str, Artifact[dict[str, Any]]]  # the trained methods (not `base`)
    generations: dict[str, Artifact[Path]]
    evaluations: dict[str, Artifact[dict[str, Any]]]
    report: Artifact[ReportFiles]


def full_run(
    config: RunConfig,
    methods: tuple[str, ...] = ALL_METHODS,
    *,
    root: Path,
    force: bool = False,
    resume: bool = True,
    verbose: bool = False,
    reporter: StageReporter | None = None,
) -> FullRun:
    """Every stage for each method, compared like for like: same data, decoding settings and test set.

    Methods: `sft`, `bucket_sft`, the preference methods `dpo`, `dpo_anchor`, `hdpo` (each trained from
    its start policy on pairs sampled from it; a start policy or a pair set is built once however many
    methods use it) and `base`, the untrained start model. A model trained with the profile prompt
    generates with it (its target length sampled from the cell's human lengths, never the gold one); plain
    SFT, DPO and the base model without. The first method is the report's baseline. An interrupted training
    continues from its last checkpoint unless `resume` is off; `verbose` lets the trainer print every log
    dict.
    """
    from polyalign.evaluate.stage import evaluate_stage
    from polyalign.generate.stage import generate_stage
    from polyalign.report.stage import report_stage

    unknown = sorted(set(methods) - set(ALL_METHODS))
    if unknown:
        raise ConfigError(f"unknown method(s) {unknown}; choose from {list(ALL_METHODS)}")
    reporter = reporter or _Silent()
    prepared, reference = prepare_and_reference(config, root=root, force=force, reporter=reporter)
    trainer = Models(config, prepared, reference, root, force, resume, verbose, reporter)
    models, generations, evaluations = {}, {}, {}
    for method in methods:
        if method == BASE:
            generate_config = dataclasses.replace(config.generate, model=trainer.base(), profile="off")
        else:
            model = trainer.preference(method).model if method in PREFERENCE_METHODS else trainer.sft(method)
            generate_config = _generate_config(config, trainer.train_config(method), model)
            models[method] = model
        reporter.start("generate", method)
        generated = generate_stage(prepared, reference, generate_config, root=root, force=force)
        reporter.done("generate", generated, method)
        reporter.start("evaluate", method)
        evaluated = evaluate_stage(
            prepared, reference, config.evaluate, generated.content, name=method, root=root, force=force
        )
        reporter.done("evaluate", evaluated, method)
        generations[method], evaluations[method] = generated, evaluated
    reporter.start("report")
    trainings = {method: model.folder for method, model in models.items()}
    report = report_stage(
        [e.folder for e in evaluations.values()], root=root, force=force, trainings=trainings
    )
    reporter.done("report", report)
    return FullRun(prepared, reference, models, generations, evaluations, report)


def _generate_config(config: RunConfig, train: TrainConfig, model: Artifact[Any]) -> GenerateConfig:
    """The shared decoding settings for one trained model: with the profile only if it trained with one."""
    profile = config.generate.profile if train.use_profile else "off"
    return dataclasses.replace(config.generate, model=str(model.folder), profile=profile)
