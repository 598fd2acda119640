"""Stage `generate`: one decoding path for every method — same test set, same settings, same profiles.

Reads the prepared split (the full test set by default), the human reference (for profile lengths) and a
model folder. For every record, sorted by id, the prompt is its conversation without the gold answer,
with the response profile as system prompt when the shared `profile` mode asks for one; in `sample` mode
the target length is drawn from the context cell's human lengths with a generator seeded by (decoding
seed, record id), so every method compared with the same seed states the same length for a record, and
nothing about the gold response reaches a prompt. A leak guard refuses prompts that contain their gold
response. Prompts are rendered with the tokenizer's chat template, the oldest history exchanges dropped
when they exceed `max_prompt_tokens`, and generated in batches (transformers; vLLM as an option).

Writes `$POLYALIGN_HOME/generate/<key>/generations.jsonl`, one line per record: id, bucket, cell, the
response, the prompt actually used (rendered text and messages), the profile, the decoding settings,
the model and backend, the finish reason and token counts; then `manifest.json` (written last).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.config import artifact_root, config_hash
from polyalign.data.records import Record
from polyalign.errors import PolyAlignError
from polyalign.generate.backends import Backend, load_backend
from polyalign.generate.config import GenerateConfig
from polyalign.generate.plan import check_leaks, fit_prompt, plan_prompts
from polyalign.reference.reference import HumanReference

STAGE, STAGE_VERSION = "generate", 1
GENERATIONS_FILE = "generations.jsonl"


def model_identity(model_path: str) -> dict[str, Any]:
    """What identifies the model: its train artefact key when it is one, else a hash of its files."""
    path = Path(model_path)
    if artifacts.is_complete(path):
        manifest = artifacts.read_manifest(path)
        return {"path": str(path), "key": manifest.get("key"), "stage": manifest.get("stage")}
    digest = hashlib.sha256()
    if path.is_dir():
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
    outputs = backend.generate([p.text for p in plans], config.decoding, config.batch_size)
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


@dataclass
class GenerateArtifact:
    folder: Path
    manifest: dict[str, Any]
    reused: bool = False

    @property
    def file(self) -> Path:
        return self.folder / GENERATIONS_FILE


def generate_key(prepare_key: str, reference_key: str | None, config: GenerateConfig) -> str:
    return artifacts.artifact_key(
        STAGE,
        STAGE_VERSION,
        prepare_key,
        reference_key or "-",
        model_identity(config.model)["key"],
        config_hash(config),
    )


def generate_stage(
    records: Sequence[Record],
    reference: HumanReference | None,
    config: GenerateConfig,
    *,
    parents: dict[str, str | None],
    out: Path | None = None,
    force: bool = False,
    backend: Backend | None = None,
) -> GenerateArtifact:
    """Generate (or reuse) the artefact of `config` for `records` (the prepared split)."""
    if not config.model:
        raise PolyAlignError("generate.model is not set: give a model folder (--model or generate.model)")
    key = generate_key(str(parents.get("prepare")), parents.get("reference"), config)
    folder = out or artifact_root() / STAGE / key
    if not force and artifacts.holds(folder, key):
        return GenerateArtifact(folder, artifacts.read_manifest(folder), reused=True)
    rows, info = generate_rows(records, reference, config, backend or load_backend(config))
    manifest = {
        **artifacts.manifest_header(STAGE, STAGE_VERSION, key),
        "parents": parents,
        "config_hash": config_hash(config),
        "config": dataclasses.asdict(config),
        "model": model_identity(config.model),
        **info,
    }
    with artifacts.atomic_folder(folder) as staging:
        with (staging / GENERATIONS_FILE).open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        artifacts.write_json(staging / artifacts.MANIFEST, manifest)
    return GenerateArtifact(folder, manifest)
