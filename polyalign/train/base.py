"""The untrained start model as a method of its own (`base`): generated and evaluated like the trained ones,
it shows what training changed.

A pretrained model needs no artefact: its name or folder is the model. The tiny offline model exists only
once built, so its untrained weights and tokenizer — exactly those every tiny training starts from (same
texts, settings and seed) — are saved as a `base` artefact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.config import config_hash
from polyalign.data.prepare import PreparedData
from polyalign.train.config import BASE, TrainConfig

STAGE, STAGE_VERSION = "base", 1


def base_stage(
    prepared: Artifact[PreparedData], config: TrainConfig, *, root: Path, force: bool = False
) -> Artifact[dict[str, Any]]:
    """The untrained tiny model of `config` (`model: tiny`; a pretrained model is its own base)."""
    key = artifacts.artifact_key(STAGE, STAGE_VERSION, prepared.key, config_hash(config.tiny))
    return artifacts.run_stage(
        STAGE,
        STAGE_VERSION,
        key,
        root / STAGE / key,
        lambda folder: _save_tiny(prepared, config, folder),
        lambda folder: {"method": BASE, "model": config.model},
        parents={"prepare": prepared.key},
        config=config.tiny,
        force=force,
    )


def _save_tiny(prepared: Artifact[PreparedData], config: TrainConfig, folder: Path) -> dict[str, Any]:
    from polyalign.train.stage import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(config, prepared.content.splits["train"])
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return {}
