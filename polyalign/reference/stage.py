"""The reference stage: prepared train split → human references per bucket + the held-out human floor.

Reads the prepare artefact; writes `reference.json` (and `embeddings.npy` with an embedder), the reference
report (`report.json`, `report.md`) and the manifest, through `artifacts.run_stage`. Val and test records
are only scored by the report, never used to build a reference. The optional human-vs-model critic is an
artefact of its own (`critic_stage`, `root/critic/<key>`), trained from a reference and model responses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.config import config_hash
from polyalign.data.prepare import PreparedData
from polyalign.errors import InputError
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.critic import HumanModelCritic
from polyalign.reference.embedders import load_embedder
from polyalign.reference.reference import HumanReference, build_reference
from polyalign.reference.report import ReferenceReport, build_reference_report

STAGE, STAGE_VERSION = "reference", 2  # 2: sparse buckets borrow length-nearest responses; support terms
REPORT_FILE = "report.json"
CRITIC_STAGE, CRITIC_STAGE_VERSION = "critic", 1
CRITIC_FILE = "critic.json"


@dataclass(frozen=True)
class ReferenceContent:
    """What a reference artefact holds: the references themselves and the held-out human floor."""

    reference: HumanReference
    report: ReferenceReport


ReferenceArtifact = Artifact[ReferenceContent]


def reference_key(prepare_key: str, config: ReferenceConfig) -> str:
    return artifacts.artifact_key(STAGE, STAGE_VERSION, prepare_key, config_hash(config))


def reference_stage(
    prepared: Artifact[PreparedData],
    config: ReferenceConfig,
    *,
    root: Path,
    out: Path | None = None,
    force: bool = False,
) -> ReferenceArtifact:
    """Build the bucket references from the train split and score the held-out humans for the floor."""
    prepare_key = prepared.key
    key = reference_key(prepare_key, config)

    def build(target: Path) -> dict[str, Any]:
        source = {"prepare_key": prepare_key, "prepare_folder": str(prepared.folder)}
        embedder = load_embedder(config.embedder) if config.embedder else None
        edges = prepared.content.report.edges
        reference = build_reference(prepared.content.splits["train"], config, source, embedder, edges)
        all_buckets = [str(r.bucket) for split in prepared.content.splits.values() for r in split]
        heldout = {s: prepared.content.splits[s] for s in ("val", "test")}
        report = build_reference_report(reference, all_buckets, heldout)
        reference.save(target)
        artifacts.write_json(target / REPORT_FILE, report.to_json())
        (target / "report.md").write_text(report.to_markdown(), encoding="utf-8")
        levels = [s.level for s in reference.stats.values()]
        return {
            "feature_names": list(reference.feature_names),
            "references": {level: levels.count(level) for level in ("bucket", "borrowed", "cell")},
        }

    return artifacts.run_stage(
        STAGE,
        STAGE_VERSION,
        key,
        out or root / STAGE / key,
        build,
        load_reference,
        parents={"prepare": prepare_key},
        config=config,
        force=force,
    )


def open_reference(folder: Path) -> ReferenceArtifact:
    """A complete reference artefact read back from its folder."""
    return artifacts.open_artifact(
        folder, STAGE, load_reference, "give the folder `polyalign reference build` wrote"
    )


def load_reference(folder: Path) -> ReferenceContent:
    """The content of a complete reference artefact folder."""
    report = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
    return ReferenceContent(HumanReference.load(folder), ReferenceReport.from_json(report))


def critic_stage(
    reference: Path,
    responses: Path,
    *,
    seed: int,
    root: Path,
    out: Path | None = None,
    force: bool = False,
) -> Artifact[HumanModelCritic]:
    """Train (or reuse) the critic on a reference artefact and model responses into `root/critic/<key>`.

    Key = hash(reference key, the responses file's sha256, seed): the same inputs give the same folder.
    """
    from polyalign.reference.scoring import train_critic_from_files

    if artifacts.stage_of(reference) != STAGE or not artifacts.is_complete(reference):
        raise InputError(
            f"{reference} is not a complete reference artefact: give the folder reference build wrote"
        )
    if not responses.is_file():
        raise InputError(f"{responses} does not exist")
    parents = {"reference": str(artifacts.read_manifest(reference)["key"])}
    key = artifacts.artifact_key(
        CRITIC_STAGE, CRITIC_STAGE_VERSION, parents["reference"], artifacts.file_sha256(responses), str(seed)
    )

    def build(target: Path) -> dict[str, Any]:
        train_critic_from_files(reference, responses, seed=seed).save(target / CRITIC_FILE)
        return {"responses": str(responses), "seed": seed}

    return artifacts.run_stage(
        CRITIC_STAGE,
        CRITIC_STAGE_VERSION,
        key,
        out or root / CRITIC_STAGE / key,
        build,
        lambda folder: HumanModelCritic.load(folder / CRITIC_FILE),
        parents=parents,
        force=force,
    )
