"""Stage `generate`: one decoding path for every method — same test set, same settings, same profiles.

Reads the prepared split (the full test set by default), the human reference (for profile lengths) and a
model folder. For every record, sorted by id, the prompt is its conversation without the gold answer,
with the response profile as system prompt when the shared `profile` mode asks for one; in `sample` mode
the target length is drawn from the context cell's human lengths with a generator seeded by (decoding
seed, record id), so every method compared with the same seed states the same length for a record, and
nothing about the gold response reaches a prompt. A leak guard refuses prompts that contain their gold
response. Prompts are rendered with the tokenizer's chat template, the oldest history exchanges dropped
when they exceed `max_prompt_tokens`, and generated in batches (transformers; vLLM as an option).

Writes `<root>/generate/<key>/generations.jsonl`, one line per record: id, bucket, cell, the
response, the prompt actually used (rendered text and messages), the profile, the decoding settings,
the model and backend, the finish reason and token counts; then `manifest.json` (written last).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.config import config_hash
from polyalign.data.prepare import PreparedData
from polyalign.data.records import Record
from polyalign.errors import NothingUsable, PolyAlignError
from polyalign.generate.backends import Backend, load_backend
from polyalign.generate.config import GenerateConfig
from polyalign.generate.plan import check_leaks, fit_prompt, plan_prompts
from polyalign.generate.sampling import record_seed
from polyalign.reference.reference import HumanReference

STAGE, STAGE_VERSION = "generate", 2  # 2: per-record sampling seeds
GENERATIONS_FILE = "generations.jsonl"


def model_identity(model_path: str) -> dict[str, Any]:
    """What identifies the model: its train artefact key when it is one, else a hash of its files (of its
    name for a hub model)."""
    path = Path(model_path)
    if artifacts.is_complete(path):
        manifest = artifacts.read_manifest(path)
        return {"path": str(path), "key": manifest.get("key"), "stage": manifest.get("stage")}
    digest = hashlib.sha256()
    if not path.is_dir():
        digest.update(model_path.encode())  # a hub name: the name is all that identifies it here
    else:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{file.relative_to(path)}\x1f{file.stat().st_size}\x1f".encode())
        if (path / "config.json").is_file():
            digest.update((path / "config.json").read_bytes())
    return {"path": str(path), "key": digest.hexdigest()[:16], "stage": None}


def generate_rows(
    records: Sequence[Record], reference: HumanReference | None, config: GenerateConfig, backend: Backend
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Generate for every record; returns the output rows (sorted by id) and run information."""
    chosen = sorted(records, key=lambda r: r.id)[: config.limit] if config.limit else list(records)
    plans = plan_prompts(chosen, reference, config)
    for plan in plans:
        fit_prompt(plan, backend, config.max_prompt_tokens)
    leak_guard = check_leaks(plans, config)
    start = time.perf_counter()
    seeds = [record_seed(config.decoding.seed, p.record.id) for p in plans]
    outputs = backend.generate([p.text for p in plans], seeds, config.decoding, config.batch_size)
    elapsed = time.perf_counter() - start
    model = model_identity(config.model)
    decoding = dataclasses.asdict(config.decoding)
    rows = []
    for plan, output in zip(plans, outputs, strict=True):
        rows.append(
            {
                "id": plan.record.id,
                "bucket": plan.record.bucket,
                "cell": plan.record.cell,
                "response": output.text,
                "prompt": plan.text,
                "messages": plan.messages,
                "profile": plan.profile.to_dict() if plan.profile else None,
                "profile_mode": config.profile,
                "decoding": decoding,
                "model": model,
                "backend": backend.name,
                "finish_reason": output.finish_reason,
                "prompt_tokens": output.prompt_tokens,
                "new_tokens": output.new_tokens,
                "dropped_history": plan.dropped_history,
            }
        )
    info = {
        "records": len(rows),
        "limit": config.limit,
        "full_split": config.limit is None or config.limit >= len(records),
        "leak_guard": leak_guard,
        "seconds": round(elapsed, 3),
        "truncated_by_budget": sum(r["finish_reason"] == "length" for r in rows),
        "history_dropped": sum(r["dropped_history"] > 0 for r in rows),
    }
    return rows, info


def generate_key(prepare_key: str, reference_key: str | None, config: GenerateConfig) -> str:
    """Hashes the parents, the model's identity (its train key, or its files) and the config, less what
    does not change a response: the model's path (the same model under another root gives the same key)
    and the batch size (each record samples from its own seed)."""
    if not config.model:
        raise PolyAlignError("generate.model is not set: give a model folder (--model or generate.model)")
    return artifacts.artifact_key(
        STAGE,
        STAGE_VERSION,
        prepare_key,
        reference_key or "-",
        model_identity(config.model)["key"],
        config_hash(dataclasses.replace(config, model="", batch_size=GenerateConfig.batch_size)),
    )


def generate_stage(
    prepared: Artifact[PreparedData],
    reference: Artifact[Any] | None,
    config: GenerateConfig,
    *,
    root: Path,
    out: Path | None = None,
    force: bool = False,
    backend: Backend | None = None,
) -> Artifact[Path]:
    """Generate (or reuse) the responses of `config.model` to the prepared `config.split`.

    The content is the generations file (`evaluate` reads it); `backend` replaces the one `config` names
    (tests pass a loaded one). The human reference, read from the reference artefact's folder, gives the
    cells' human lengths for `profile: sample`.
    """
    parents = {
        "prepare": prepared.key,
        "reference": reference.manifest["key"] if reference is not None else None,
    }
    key = generate_key(parents["prepare"], parents["reference"], config)

    def build(folder: Path) -> dict[str, Any]:
        records = prepared.content.splits[config.split]
        human = HumanReference.load(reference.folder) if reference is not None else None
        rows, info = generate_rows(records, human, config, backend or load_backend(config))
        if not rows:
            raise NothingUsable(
                f"generate produced no generation: the prepared {config.split!r} split has no record; "
                "prepare a dataset with records in that split, or choose another with generate.split"
            )
        artifacts.write_jsonl(folder / GENERATIONS_FILE, rows)
        return {"model": model_identity(config.model), **info}

    return artifacts.run_stage(
        STAGE,
        STAGE_VERSION,
        key,
        out or root / STAGE / key,
        build,
        lambda folder: folder / GENERATIONS_FILE,
        parents=parents,
        config=config,
        force=force,
    )
