"""Stage `pairs`: HDPO preference pairs (METHOD.md §5) from the train split and a start policy.

For every train record (sorted by id) the prompt is the one the start policy was trained on: its
conversation without the answer, with the record's own profile when the policy trained with one, history
fitted to the policy's `max_length` (`train.data.records_to_dataset`, reading the policy's
`train_config.json`; fitted by the budget of the prompt with profile, whatever the policy, so SFT and
Bucket-SFT pairs share their histories). Chosen = the human response; rejected = k samples of the policy
under `pairs.decoding`, sample j of record r seeded by `record_seed(pairs.seed, "r#j")` through the
generate package's backends (transformers, or vLLM). Empty and identical pairs, and the samples of a
record the policy did not train on (`prompt_too_long`), are dropped and counted per bucket.
d_c and d_r are the support distance `SupportScorer(reference).score` (or a validated critic's P(model));
the weights (`pair_weights`) are computed once over the kept set.

Writes `<root>/pairs/<key>/`: `pairs.jsonl` (one pair a line: id, record_id, sample_index, bucket, prompt,
chosen, rejected in TRL's conversational format, d_chosen, d_rejected, weight, truncated, and
profile_prompt_tokens: the tokens of the prompt as Bucket-SFT sees it, by which the preference stage fits
every method's pairs to its `max_length`), `dropped.jsonl`
(id, record_id, sample_index, bucket, reason), `pair_report.json`, `pair_report.md` and the manifest
(written last; provenance: policy key, decoding, seed, k, scorer, counts).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from tqdm import tqdm

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.config import config_hash, from_mapping
from polyalign.data.prepare import PreparedData
from polyalign.data.records import Record
from polyalign.errors import InputError, NothingUsable
from polyalign.generate.backends import Backend, load_backend
from polyalign.generate.config import GenerateConfig
from polyalign.generate.sampling import record_seed
from polyalign.reference.critic import MIN_SCORE_SPREAD, CriticError, HumanModelCritic
from polyalign.reference.embedders import Embedder, load_embedder
from polyalign.reference.reference import HumanReference
from polyalign.reference.stage import CRITIC_FILE, CRITIC_STAGE, ReferenceContent
from polyalign.reference.support import SupportScorer
from polyalign.train.config import TrainConfig
from polyalign.train.data import PROMPT_TOO_LONG
from polyalign.train.pair_report import build_pair_report, pair_report_markdown
from polyalign.train.pair_weights import pair_weights
from polyalign.train.pairs_config import PairsConfig

if TYPE_CHECKING:
    from datasets import Dataset

STAGE, STAGE_VERSION = "pairs", 2  # 2: profile_prompt_tokens; fitted by the profile budget
PAIRS_FILE, DROPPED_FILE, REPORT_FILE = "pairs.jsonl", "dropped.jsonl", "pair_report.json"
DATASET_COLUMNS = ("prompt", "chosen", "rejected", "bucket", "weight", "d_chosen", "d_rejected")
SCORE_CHUNK = 1024  # responses per scoring call: a progress bar that moves, arrays that stay small


@dataclass
class PairSet:
    """The content of a pairs artefact: one dict per kept pair (file order) and the pair report."""

    rows: list[dict[str, Any]]
    report: dict[str, Any]

    def to_dataset(self) -> Dataset:
        """The HDPO trainer's input: prompt, chosen, rejected (conversational), bucket, weight, d_c, d_r."""
        from datasets import Dataset

        return Dataset.from_list([{c: row[c] for c in DATASET_COLUMNS} for row in self.rows])


def load_pairs(folder: Path) -> PairSet:
    """The pairs and report of a pairs artefact folder."""
    report = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
    return PairSet(list(artifacts.read_jsonl(folder / PAIRS_FILE)), report)


class PairScorer(Protocol):
    def score(self, texts: Sequence[str], buckets: Sequence[str]) -> np.ndarray: ...


@dataclass
class CriticScorer:
    """A validated critic in the place of d: P(model | response, bucket), higher = less human."""

    critic: HumanModelCritic
    reference: HumanReference
    embedder: Embedder | None

    def score(self, texts: Sequence[str], buckets: Sequence[str]) -> np.ndarray:
        return self.critic.score(self.reference, texts, buckets, self.embedder)


def score_responses(
    scorer: PairScorer, texts: Sequence[str], buckets: Sequence[str], *, progress: bool = True
) -> np.ndarray:
    """d of each text against its bucket, (n,): the stage's scoring step (and the benchmark's)."""
    parts = [np.zeros(0)]
    chunks = range(0, len(texts), SCORE_CHUNK)
    for start in tqdm(chunks, desc="score", unit=" chunk", disable=None if progress else True):
        parts.append(scorer.score(texts[start : start + SCORE_CHUNK], buckets[start : start + SCORE_CHUNK]))
    return np.concatenate(parts)


def critic_key(folder: Path, reference: Artifact[ReferenceContent]) -> str:
    """The key of the critic artefact at `folder`, refused unless it was trained on this reference."""
    if artifacts.stage_of(folder) != CRITIC_STAGE or not artifacts.is_complete(folder):
        raise CriticError(
            f"{folder} is not a complete critic artefact: train one with `polyalign reference critic`"
        )
    manifest = artifacts.read_manifest(folder)
    trained_on = manifest.get("parents", {}).get("reference")
    if trained_on != reference.key:
        raise CriticError(
            f"the critic at {folder} was trained on reference {trained_on}, not {reference.key}: train it "
            "on this reference, or use scorer features"
        )
    return str(manifest["key"])


def load_critic(folder: Path, reference: Artifact[ReferenceContent]) -> tuple[CriticScorer, dict[str, Any]]:
    """The critic at `folder`, refused unless trained on this reference and validated (held-out AUC above
    chance, non-constant held-out scores); returns the scorer and its provenance."""
    key = critic_key(folder, reference)
    critic = HumanModelCritic.load(folder / CRITIC_FILE)
    metrics = critic.metrics
    if metrics.score_spread < MIN_SCORE_SPREAD or not metrics.auc > 0.5:
        raise CriticError(
            f"the critic at {folder} is not validated (held-out AUC {metrics.auc:.3f}, score spread "
            f"{metrics.score_spread:.2g}): it cannot rank human above model responses; use scorer features"
        )
    embedder = load_embedder(critic.embedder) if critic.embedder else None
    provenance = {"key": key, "auc": metrics.auc, "pair_accuracy": metrics.pair_accuracy}
    return CriticScorer(critic, reference.content.reference, embedder), provenance


def policy_prompts(
    records: Sequence[Record], policy: Path, tokenizer: Any
) -> tuple[dict[str, list[dict[str, str]]], dict[str, int]]:
    """Each record's prompt exactly as the policy saw it in training (profile, fitted history), by record
    id, and the tokens of that prompt as Bucket-SFT sees it (`LengthFit.profile_prompt_tokens`). A record
    the policy did not train on (its prompt left no room for a response) has neither."""
    from polyalign.train.data import records_to_dataset

    resolved = json.loads((policy / "train_config.json").read_text(encoding="utf-8"))
    train = from_mapping(TrainConfig, resolved["train"], where=str(policy / "train_config.json"))
    dataset, fit = records_to_dataset(
        records,
        train.use_profile,
        train.profile_length_dropout,
        train.seed,
        tokenizer,
        resolved["trainer_args"].get("max_length"),
    )
    return dict(zip(dataset["id"], dataset["prompt"], strict=True)), fit.profile_prompt_tokens


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())  # whitespace alone carries no preference


def sample_candidates(
    records: Sequence[Record], prompts: Sequence[list[dict[str, str]]], config: PairsConfig, backend: Backend
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """k rejected samples per record, seeded per (record, sample); returns (kept rows, dropped rows)."""
    texts = [backend.render(messages) for messages in prompts]
    ids = [(r, j) for r in range(len(records)) for j in range(config.samples)]
    seeds = [record_seed(config.seed, f"{records[r].id}#{j}") for r, j in ids]
    outputs = backend.generate([texts[r] for r, _ in ids], seeds, config.decoding, config.batch_size)
    kept, dropped = [], []
    for (r, j), output in zip(ids, outputs, strict=True):
        record = records[r]
        row = {"id": f"{record.id}#{j}", "record_id": record.id, "sample_index": j, "bucket": record.bucket}
        if not output.text.strip() or not record.response.strip():
            dropped.append({**row, "reason": "empty"})
        elif _same_text(output.text, record.response):
            dropped.append({**row, "reason": "identical"})
        else:
            kept.append(
                {
                    **row,
                    "prompt": prompts[r],
                    "chosen": [{"role": "assistant", "content": record.response}],
                    "rejected": [{"role": "assistant", "content": output.text}],
                    "truncated": output.finish_reason == "length",
                }
            )
    return kept, dropped


def too_long(records: Sequence[Record], prompts: Mapping[str, Any], samples: int) -> list[dict[str, Any]]:
    """Dropped rows for the records the policy did not train on: no room for a response in max_length."""
    return [
        {
            "id": f"{r.id}#{j}",
            "record_id": r.id,
            "sample_index": j,
            "bucket": r.bucket,
            "reason": PROMPT_TOO_LONG,
        }
        for r in records
        if r.id not in prompts
        for j in range(samples)
    ]


def score_pairs(scorer: PairScorer, rows: Sequence[dict[str, Any]], *, progress: bool = True) -> None:
    """Set d_chosen and d_rejected of each pair; each human response is scored once, however many k."""
    chosen = {row["record_id"]: (row["chosen"][0]["content"], row["bucket"]) for row in rows}
    texts = [text for text, _ in chosen.values()] + [row["rejected"][0]["content"] for row in rows]
    buckets = [bucket for _, bucket in chosen.values()] + [row["bucket"] for row in rows]
    d = score_responses(scorer, texts, buckets, progress=progress)
    d_human = dict(zip(chosen, d[: len(chosen)].tolist(), strict=True))
    for row, d_rejected in zip(rows, d[len(chosen) :].tolist(), strict=True):
        row["d_chosen"], row["d_rejected"] = d_human[row["record_id"]], d_rejected


def weigh_pairs(rows: Sequence[dict[str, Any]], config: PairsConfig) -> None:
    """Set each pair's weight, once over the whole set; refuse a set whose scores carry no signal."""
    d_c, d_r = (np.array([row[k] for row in rows]) for k in ("d_chosen", "d_rejected"))
    if config.scorer == "critic" and np.ptp(np.concatenate([d_c, d_r])) < MIN_SCORE_SPREAD:
        raise CriticError(
            "the critic gives every response of the pair set the same score; use scorer features"
        )
    if np.all(d_c == d_r):
        raise NothingUsable(
            "no pair has a distance gap (d_r = d_c everywhere): HDPO's support terms would be zero. Check "
            "the reference (its bands) and the policy's samples"
        )
    w = config.weights
    buckets = [row["bucket"] for row in rows]
    weights = pair_weights(buckets, d_c, d_r, w.bucket_coef, w.gap_coef, (w.clip[0], w.clip[1]))
    for row, weight in zip(rows, weights.tolist(), strict=True):
        row["weight"] = weight


def pairs_key(
    prepare_key: str, reference_key: str, policy_key: str, config: PairsConfig, critic: str | None
) -> str:
    """Hashes the parents and the config, less what changes no pair: the batch size (each sample has its
    own seed) and the critic's path (its key, `critic`, stands in for it)."""
    invariant = dataclasses.replace(config, batch_size=PairsConfig.batch_size, critic=critic)
    return artifacts.artifact_key(
        STAGE, STAGE_VERSION, prepare_key, reference_key, policy_key, config_hash(invariant)
    )


def stage_key(
    prepared: Artifact[PreparedData],
    reference: Artifact[ReferenceContent],
    policy: Artifact[Any],
    config: PairsConfig,
) -> str:
    """The key `pairs_stage` will use (the CLI prints it first)."""
    critic = critic_key(Path(config.critic), reference) if config.critic else None
    return pairs_key(prepared.key, reference.key, policy.key, config, critic)


def _check_lineage(prepared: Artifact[Any], reference: Artifact[Any], policy: Artifact[Any]) -> None:
    """Reference and policy must come from this prepare artefact: same prompts, same buckets."""
    for name, parent in (("reference", reference), ("policy", policy)):
        source = parent.manifest.get("parents", {}).get("prepare")
        if source != prepared.key:
            raise InputError(
                f"the {name} at {parent.folder} was built from prepare {source}, not {prepared.key} "
                f"({prepared.folder}): pass the prepared data it was built from"
            )


def pairs_stage(
    prepared: Artifact[PreparedData],
    reference: Artifact[ReferenceContent],
    policy: Artifact[Any],
    config: PairsConfig,
    *,
    root: Path,
    out: Path | None = None,
    force: bool = False,
    backend: Backend | None = None,
    progress: bool = True,
) -> Artifact[PairSet]:
    """Build (or reuse) the HDPO pairs of the prepared train split and the start policy `policy`.

    `backend` replaces the one `config` names (tests pass a loaded one). Raises `NothingUsable` when every
    pair is dropped or no pair has a distance gap, `CriticError` for a critic that is not validated.
    """
    _check_lineage(prepared, reference, policy)
    scorer: PairScorer = SupportScorer(reference.content.reference)
    scorer_info: dict[str, Any] = {"kind": config.scorer, "reference": reference.key}
    if config.critic:
        scorer, scorer_info["critic"] = load_critic(Path(config.critic), reference)
    critic = scorer_info["critic"]["key"] if config.critic else None
    key = pairs_key(prepared.key, reference.key, policy.key, config, critic)
    parents = {"prepare": prepared.key, "reference": reference.key, "policy": policy.key, "critic": critic}

    def build(folder: Path) -> dict[str, Any]:
        from transformers import AutoTokenizer

        records = sorted(prepared.content.splits["train"], key=lambda r: r.id)
        if not records:
            raise NothingUsable("the prepared train split has no record: no prompt to build pairs for")
        tokenizer = AutoTokenizer.from_pretrained(policy.folder)
        prompts, profile_tokens = policy_prompts(records, policy.folder, tokenizer)
        usable = [r for r in records if r.id in prompts]
        model = backend or load_backend(
            GenerateConfig(model=str(policy.folder), backend=config.backend, dtype=config.dtype)
        )
        started = time.perf_counter()
        kept, dropped = sample_candidates(usable, [prompts[r.id] for r in usable], config, model)
        generated = time.perf_counter()
        dropped += too_long(records, prompts, config.samples)
        for row in kept:
            row["profile_prompt_tokens"] = profile_tokens[row["record_id"]]
        if not kept:
            raise NothingUsable(
                f"every one of the {len(dropped)} sampled responses was empty or identical to the human "
                "response: no pair is left. Check the policy and pairs.decoding (a larger max_new_tokens, "
                "sampling on)"
            )
        score_pairs(scorer, kept, progress=progress)
        weigh_pairs(kept, config)
        scored = time.perf_counter()
        report = build_pair_report(kept, dropped)
        artifacts.write_jsonl(folder / PAIRS_FILE, kept)
        artifacts.write_jsonl(folder / DROPPED_FILE, dropped)
        artifacts.write_json(folder / REPORT_FILE, report)
        title = f"HDPO pairs {key}: start policy {policy.key}, k = {config.samples}, scorer {config.scorer}"
        (folder / "pair_report.md").write_text(pair_report_markdown(report, title), encoding="utf-8")
        return {
            "policy": {"key": policy.key, "path": str(policy.folder), "method": policy.content.get("method")},
            "decoding": dataclasses.asdict(config.decoding),
            "seed": config.seed,
            "samples": config.samples,
            "backend": model.name,
            "scorer": scorer_info,
            "counts": {"prompts": len(records), "candidates": len(kept) + len(dropped), "kept": len(kept)},
            "dropped": report["all"]["dropped"],
            "seconds": {"generate": round(generated - started, 3), "score": round(scored - generated, 3)},
        }

    return artifacts.run_stage(
        STAGE,
        STAGE_VERSION,
        key,
        out or root / STAGE / key,
        build,
        load_pairs,
        parents=parents,
        config=config,
        force=force,
    )
