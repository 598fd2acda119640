"""Stages `evaluate` (one run's generations → results) and `judge` (every run's answers → rubric scores).

`evaluate_stage` reads a generations file (or takes the human test responses as the method), runs the
engine on the prepared test split against the human reference, and writes the results artefact under
`root/evaluate/<key>`; `judge_stage` shows every run's answers to a blind LLM judge and writes
`judge.json` under `root/judge/<key>`. Both go through `artifacts.run_stage`: a complete artefact with
the same key is reused, a new one is built in a temporary folder with its manifest written last.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyalign import artifacts
from polyalign.config import config_hash
from polyalign.data.prepare import PreparedData
from polyalign.errors import NothingUsable, PolyAlignError
from polyalign.evaluate.config import EvalConfig, JudgeConfig
from polyalign.evaluate.engine import evaluate_generations
from polyalign.evaluate.generations import (
    GenerationsError,
    human_generations,
    human_split,
    read_generations,
    run_name,
    unique_names,
)
from polyalign.evaluate.results import STAGE, STAGE_VERSION, load_results, write_results

if TYPE_CHECKING:
    from polyalign.evaluate.judge import CompletionClient
    from polyalign.reference.stage import ReferenceArtifact

JUDGE_STAGE, JUDGE_STAGE_VERSION = "judge", 1
JUDGE_FILE, JUDGE_CACHE = "judge.json", "cache.jsonl"


def evaluate_stage(
    prepared: artifacts.Artifact[PreparedData],
    reference: ReferenceArtifact,
    config: EvalConfig,
    generations: Path | None = None,
    *,
    root: Path,
    human: str | None = None,
    name: str | None = None,
    out: Path | None = None,
    force: bool = False,
) -> artifacts.Artifact[dict[str, Any]]:
    """Metrics of one generations file (or of the human test responses: `human` = gold | split).

    The content is `results.json` as a dict. Embeddings are cached under `root/embeddings`.
    """
    from polyalign.reference.embedders import load_embedder

    records = prepared.content.splits["test"]
    if (generations is None) == (human is None):
        raise PolyAlignError("evaluate needs either a generations file or --human gold|split, not both")
    if human == "gold":
        gens, identity = human_generations(records), "human:gold"
    elif human == "split":
        records, gens = human_split(records, config.seed)
        identity = f"human:split:{config.seed}"
    elif human is not None:
        raise PolyAlignError(f"--human must be 'gold' or 'split', got {human!r}")
    else:
        gens = read_generations(Path(str(generations)), records, config.allow_missing)
        identity = gens.provenance["sha256"]
    name = name or (f"human-{human}" if human else run_name(Path(str(generations))))
    parents = {"prepare": prepared.key, "reference": reference.key}
    key = artifacts.artifact_key(STAGE, STAGE_VERSION, *parents.values(), identity, config_hash(config), name)

    def build(target: Path) -> dict[str, Any]:
        embedder = load_embedder(config.embedder) if config.embedder else None
        result = evaluate_generations(
            records, gens, reference.content.reference, config,
            edges={lang: list(e) for lang, e in prepared.content.report.edges.items()},
            train_records=prepared.content.splits["train"], embedder=embedder, name=name,
            cache_dir=root / "embeddings",
        )  # fmt: skip
        if not any(_has_value(entry) for entry in result.results["metrics"].values()):
            reasons = sorted({row["reason"] for row in result.results["na"]})
            raise NothingUsable(
                f"evaluate of {name!r} gave no metric a value ({len(gens.responses)} generation(s) for "
                f"{len(records)} test record(s); reasons: "
                f"{'; '.join(reasons[:3]) or 'none given'}): give a test split with enough records per "
                "bucket (the *_min_rows settings under evaluate:) and generations that answer them"
            )
        result.results["key"] = key
        result.results["parents"] = {**parents, "generations": identity}
        write_results(target, result)
        return {"run": name}

    return artifacts.run_stage(
        STAGE, STAGE_VERSION, key, out or root / STAGE / key, build, lambda folder: load_results(folder)[0],
        parents={**parents, "generations": identity}, config=config, force=force,
    )  # fmt: skip


def _has_value(entry: dict[str, Any]) -> bool:
    """Whether a metric's results hold a value: its macro-average or record-weighted mean (bucket metrics)
    or its global value (cell)."""
    macro = entry.get("macro") or {}
    scopes = (macro, macro.get("weighted") or {}, entry.get("global") or {})
    return any(scope.get("value") is not None for scope in scopes)


def judge_stage(
    prepared: artifacts.Artifact[PreparedData],
    generations: Sequence[Path],
    config: JudgeConfig,
    client: CompletionClient,
    *,
    root: Path,
    out: Path | None = None,
    force: bool = False,
) -> artifacts.Artifact[dict[str, Any]]:
    """The blind LLM judge over every run's answers to the test split; the content is `judge.json`.

    Key = hash(prepare key, each generations file's sha256 and run name, judge config). Replies are cached
    in `root/judge/cache.jsonl` by request, across artefacts, so an interrupted run asks again only what it
    has not got.
    """
    from polyalign.evaluate.judge import JudgeCache, judge_runs

    if not generations:
        raise PolyAlignError("judge needs at least one generations file (one per method)")
    read, faults = [], []
    for path in generations:  # every file's faults at once
        try:
            read.append(read_generations(Path(path)))
        except GenerationsError as error:
            faults.append(str(error))
    if faults:
        raise GenerationsError("\n".join(faults))
    names = unique_names([run_name(Path(path)) for path in generations])
    runs = {name: gens.responses for name, gens in zip(names, read, strict=True)}
    identities = [f"{name}={gens.provenance['sha256']}" for name, gens in zip(names, read, strict=True)]
    key = artifacts.artifact_key(
        JUDGE_STAGE, JUDGE_STAGE_VERSION, prepared.key, *identities, config_hash(config)
    )

    def build(target: Path) -> dict[str, Any]:
        cache = JudgeCache(root / JUDGE_STAGE / JUDGE_CACHE)
        judged = judge_runs(prepared.content.splits["test"], runs, config, client, cache)
        if len(judged["failures"]) == judged["records"]:
            first = judged["failures"][0]["reason"]
            raise NothingUsable(
                f"the judge gave no usable judgement for any of the {judged['records']} record(s) (first "
                f"reason: {first}): check judge.model and its endpoint (replies must be the rubric's JSON)"
            )
        artifacts.write_json(target / JUDGE_FILE, judged)
        return {"runs": {name: gens.provenance["sha256"] for name, gens in zip(names, read, strict=True)}}

    return artifacts.run_stage(
        JUDGE_STAGE, JUDGE_STAGE_VERSION, key, out or root / JUDGE_STAGE / key, build,
        lambda folder: json.loads((folder / JUDGE_FILE).read_text(encoding="utf-8")),
        parents={"prepare": prepared.key}, config=config, force=force,
    )  # fmt: skip
