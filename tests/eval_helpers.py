"""Shared builders for the evaluation tests: a larger fixture test split, its reference, fast configs."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from polyalign.artifacts import Artifact
from polyalign.data.config import PrepareConfig, SourceConfig, SplitConfig
from polyalign.data.prepare import PreparedData, prepare_stage
from polyalign.evaluate.config import EvalConfig
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.reference import HumanReference, build_reference

EDGES = {"en": [40.0, 120.0, 240.0], "zh": [40.0, 120.0, 240.0]}


def fast_config(**overrides) -> EvalConfig:
    """Offline, deterministic and quick: lexical hashing embedder, 50 bootstrap draws, 5 noise repeats;
    every bucket of 2+ records in the macro (the small fixture's test buckets hold 1-7 records)."""
    values = {
        "embedder": "hashing",
        "bootstrap": 50,
        "mauve_noise_repeats": 5,
        "map_points": 100,
        "macro_min_rows": 2,
    }
    return EvalConfig(**{**values, **overrides})


@cache
def big_fixture(tmp: str) -> tuple[PreparedData, HumanReference]:
    """The synthetic corpus split half train, half test (~1,200 test records, ~60 per context cell)."""
    config = PrepareConfig(
        sources=[SourceConfig(fixture=0)], splits=SplitConfig(ratios={"train": 0.5, "val": 0.0, "test": 0.5})
    )
    prepared = prepare_stage(config, root=Path(tmp), out=Path(tmp) / "prepared", progress=False).content
    return prepared, build_reference(prepared.splits["train"], ReferenceConfig())


@cache
def small_prepared(tmp: str) -> Artifact[PreparedData]:
    """The prepare artefact of the default synthetic corpus (235 test records)."""
    config = PrepareConfig(sources=[SourceConfig(fixture=0)])
    return prepare_stage(config, root=Path(tmp), out=Path(tmp) / "prepared", progress=False)


def small_fixture(tmp: str) -> tuple[PreparedData, HumanReference]:
    """The default synthetic corpus (235 test records) and its reference."""
    prepared = small_prepared(tmp).content
    return prepared, build_reference(prepared.splits["train"], ReferenceConfig())
