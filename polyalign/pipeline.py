"""Chains the stages: prepare → reference → train (SFT and Bucket-SFT) → generate → evaluate → report.

Each stage lives in its own package's `stage.py` and is reused when its artefact is complete; the caller
resolves the artefact root once and passes it as `root`. `prepare_and_reference` is the upstream part
every later command builds or reuses first.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.config import RunConfig, config_hash
from polyalign.data.prepare import PreparedData, prepare_stage
from polyalign.errors import PolyAlignError
from polyalign.reference.stage import ReferenceArtifact, reference_stage

if TYPE_CHECKING:
    from polyalign.evaluate.config import EvalConfig
    from polyalign.generate.config import GenerateConfig
    from polyalign.train.config import TrainConfig


@dataclass
class EvaluateArtifact:
    folder: Path
    manifest: dict[str, Any]
    results: dict[str, Any]
    reused: bool = False


def evaluate_stage(
    prepared: Artifact[PreparedData],
    reference: ReferenceArtifact,
    config: EvalConfig,
    generations: Path | None = None,
    *,
    human: str | None = None,
    name: str | None = None,
    root: Path,
    out: Path | None = None,
    force: bool = False,
) -> EvaluateArtifact:
    """Metrics of one generations file (or of the human test responses: `human` = gold | split)."""
    from polyalign.evaluate import suite
    from polyalign.reference.embedders import load_embedder

    records = prepared.content.splits["test"]
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
        suite.STAGE, suite.STAGE_VERSION, prepared.key, reference.manifest["key"], identity,
        config_hash(config), name,
    )  # fmt: skip
    folder = out or root / suite.STAGE / key
    if not force and artifacts.holds(folder, key):
        results, _ = suite.load_results(folder)
        return EvaluateArtifact(folder, artifacts.read_manifest(folder), results, reused=True)
    embedder = load_embedder(config.embedder) if config.embedder else None
    result = suite.evaluate_generations(
        records, gens, reference.content.reference, config,
        edges={lang: list(e) for lang, e in prepared.content.report.edges.items()},
        train_records=prepared.content.splits["train"], embedder=embedder, name=name,
        cache_dir=root / "embeddings",
    )  # fmt: skip
    manifest = {
        **artifacts.manifest_header(suite.STAGE, suite.STAGE_VERSION, key),
        "parents": {
            "prepare": prepared.key,
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
    evaluations: dict[str, EvaluateArtifact]
    report: dict[str, Path]


def full_run(
    config: RunConfig, methods: tuple[str, ...] = ("sft", "bucket_sft"), *, root: Path, force: bool = False
) -> FullRun:
    """Every stage for each method, compared like for like: same data, decoding settings and test set.

    Plain SFT is trained and generates without the profile prompt; Bucket-SFT with it, its target length
    sampled from the cell's human lengths (never the gold one). The first method is the report's baseline.
    """
    from polyalign.generate.stage import generate_stage
    from polyalign.report.render import build_report
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
    keys = [e.manifest["key"] for e in evaluations.values()]
    out = root / "report" / artifacts.artifact_key("report", 1, *keys)
    report = build_report([e.folder for e in evaluations.values()], out)
    return FullRun(prepared, reference, models, generations, evaluations, report)


def _generate_config(config: RunConfig, train: TrainConfig, model: Artifact[Any]) -> GenerateConfig:
    """The shared decoding settings for one trained model: with the profile only if it trained with one."""
    profile = config.generate.profile if train.use_profile else "off"
    return dataclasses.replace(config.generate, model=str(model.folder), profile=profile)
