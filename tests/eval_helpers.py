"""Shared builders for the evaluation tests: a larger fixture test split, its reference, fast configs, and
evaluated runs for the report tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.data.config import PrepareConfig, SourceConfig, SplitConfig
from polyalign.data.prepare import PreparedData, prepare_stage
from polyalign.evaluate.config import EvalConfig
from polyalign.evaluate.degrade import degrade
from polyalign.evaluate.engine import evaluate_generations
from polyalign.evaluate.generations import Generations, human_generations
from polyalign.evaluate.results import write_results
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.embedders import load_embedder
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


def evaluated_runs(tmp: Path) -> list[Path]:
    """Three evaluate artefacts on the small fixture's test records (each keyed by its name): human gold,
    templated answers, and a partial run (150 records cut to 40 characters)."""
    prepared, reference = small_fixture(str(tmp))
    test = prepared.splits["test"]
    embedder = load_embedder("hashing")
    gold = human_generations(test)
    variants = {
        "gold": (gold, fast_config()),
        "templated": (
            Generations(degrade(test, gold.responses, "templated"), {"method": "templated"}),
            fast_config(),
        ),
        "partial": (
            Generations({r.id: r.response[:40] for r in test[:150]}, {}),
            fast_config(allow_missing=True),
        ),
    }
    folders = []
    for name, (generations, config) in variants.items():
        result = evaluate_generations(
            test,
            generations,
            reference,
            config,
            edges=EDGES,
            embedder=embedder,
            train_records=prepared.splits["train"],
            name=name,
        )

        def build(target: Path, result=result) -> dict[str, str]:
            write_results(target, result)
            return {"run": result.results["run"]}

        folders.append(artifacts.run_stage("evaluate", 1, name, tmp / name, build, lambda f: f).folder)
    return folders
