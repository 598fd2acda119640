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
import re
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from polyalign import artifacts
from polyalign.config import artifact_root, config_hash
from polyalign.data.buckets import length_units
from polyalign.data.prompts import Profile, inference_messages
from polyalign.data.records import Record
from polyalign.errors import PolyAlignError
from polyalign.generate.config import DecodingConfig, GenerateConfig
from polyalign.reference.reference import HumanReference

STAGE, STAGE_VERSION = "generate", 1
GENERATIONS_FILE = "generations.jsonl"
SHOWN_IDS = 10
_SPACE = re.compile(r"\s+")


class LeakError(PolyAlignError):
    """A prompt contains its gold response: generating from it would be a reference-conditioned run."""


@dataclass
class PromptPlan:
    record: Record
    messages: list[dict[str, str]]
    profile: Profile | None
    dropped_history: int = 0
    text: str = ""  # the rendered prompt, as the model sees it


@dataclass
class Output:
    text: str
    finish_reason: str  # stop | length
    prompt_tokens: int
    new_tokens: int


class Backend(Protocol):
    name: str

    def count_tokens(self, messages: list[dict[str, str]]) -> int: ...

    def render(self, messages: list[dict[str, str]]) -> str: ...

    def generate(self, prompts: Sequence[str], decoding: DecodingConfig, batch_size: int) -> list[Output]: ...


def _normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def plan_prompts(
    records: Sequence[Record], reference: HumanReference | None, config: GenerateConfig
) -> list[PromptPlan]:
    """Messages and profile of every record (sorted by id); never reads the response, length or bucket."""
    plans = []
    mode = config.profile_mode
    lengths = None
    if reference is not None:  # what length sampling needs of the reference: each cell's human lengths
        lengths = {key: s.lengths for key, s in reference.stats.items() if s.level == "cell"}
    for record in sorted(records, key=lambda r: r.id):
        if mode == "off":
            messages = [{"role": m.role, "content": m.content} for m in record.prompt_messages]
            plans.append(PromptPlan(record, messages, None))
            continue
        rng = np.random.default_rng([config.decoding.seed, zlib.crc32(record.id.encode("utf-8"))])
        messages, profile = inference_messages(record, lengths, mode, rng)
        plans.append(PromptPlan(record, messages, profile))
    return plans


def check_leaks(plans: Sequence[PromptPlan], config: GenerateConfig) -> dict[str, Any]:
    """Refuse prompts that contain their gold response; returns what was allowed and why (for the manifest).

    A gold response inside anything generation added (the profile, the chat template) is always refused.
    `strict` also refuses any gold response found in the record's own conversation. `allow_extractive`
    (default) allows, and counts, three cases that are data, not leaks: a gold shorter than
    `leak_min_units` (a 'yes' is in many prompts by chance); a gold span of the record's own passage in a
    user turn when the record says it has one (`meta.has_context`: extractive QA answers quote the
    passage); a gold that repeats one of the responder's own earlier (assistant) turns. A gold inside a
    system prompt or a user turn of a record without a passage is refused: that is how a
    reference-conditioned prompt looks.
    """
    refused: list[str] = []
    allowed: dict[str, list[str]] = {"short": [], "extractive": [], "history": []}
    for plan in plans:
        gold = _normalise(plan.record.response)
        rendered = _normalise(plan.text or " ".join(m["content"] for m in plan.messages))
        if not gold or gold not in rendered:
            continue
        sources = [(m.role, _normalise(m.content)) for m in plan.record.prompt_messages]
        inside = {role for role, text in sources if gold in text}
        original = {(m.role, m.content) for m in plan.record.prompt_messages}
        new_messages = [m for m in plan.messages if (m["role"], m["content"]) not in original]
        in_plan = sum(_normalise(m["content"]).count(gold) for m in plan.messages)
        added = rendered.count(gold) > in_plan or any(gold in _normalise(m["content"]) for m in new_messages)
        if config.leak_guard == "strict" or added:
            refused.append(plan.record.id)
        elif length_units(plan.record.response) < config.leak_min_units:
            allowed["short"].append(plan.record.id)
        elif inside == {"assistant"}:
            allowed["history"].append(plan.record.id)
        elif inside <= {"user", "assistant"} and plan.record.meta.get("has_context") is True:
            allowed["extractive"].append(plan.record.id)
        else:
            refused.append(plan.record.id)
    if refused:
        raise LeakError(
            f"{len(refused)} prompt(s) contain their gold response (first: {refused[:SHOWN_IDS]}); "
            "generating from them would condition on the reference answer. Remove the answer from the "
            "prompts (or the profile/template that adds it); extractive QA records with a passage should "
            "carry meta.has_context = true"
            + ("" if config.leak_guard == "allow_extractive" else " and use leak_guard: allow_extractive")
        )
    return {
        "mode": config.leak_guard,
        **{f"allowed_{kind}": len(ids) for kind, ids in allowed.items()},
        "allowed_ids": {kind: ids[:20] for kind, ids in allowed.items()},
    }


def fit_prompt(plan: PromptPlan, backend: Backend, max_prompt_tokens: int) -> None:
    """Drop the oldest (user, assistant) exchanges until the prompt fits; never the profile or last turn."""
    from polyalign.data.prompts import fit_history

    row = {"prompt": plan.messages, "completion": []}
    plan.dropped_history = fit_history(row, backend.count_tokens, max_prompt_tokens)
    plan.messages = row["prompt"]
    plan.text = backend.render(plan.messages)


class TransformersBackend:
    """Batched `model.generate` with left padding; batches are formed from length-sorted prompts."""

    name = "transformers"

    def __init__(self, model_path: str, dtype: str = "auto") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise PolyAlignError(
                f"no model at {model_path!r}: give a local model folder (save_pretrained layout), e.g. a "
                "train artefact; nothing is downloaded"
            )
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if self.tokenizer.chat_template is None:
            raise PolyAlignError(f"the tokenizer in {model_path} has no chat template; prompts are chats")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
        self.model.eval()

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return len(self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"])

    def generate(self, prompts: Sequence[str], decoding: DecodingConfig, batch_size: int) -> list[Output]:
        import torch

        encoded = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        outputs: list[Output | None] = [None] * len(prompts)
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        settings = {
            "max_new_tokens": decoding.max_new_tokens,
            "do_sample": decoding.do_sample,
            "repetition_penalty": decoding.repetition_penalty,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if decoding.do_sample:
            settings.update(
                temperature=decoding.temperature, top_p=decoding.top_p, top_k=decoding.top_k or None
            )
        for batch_index, start in enumerate(range(0, len(order), batch_size)):
            chosen = order[start : start + batch_size]
            batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in chosen]}, return_tensors="pt")
            torch.manual_seed(decoding.seed + batch_index)  # same settings, same batches → same samples
            with torch.no_grad():
                generated = self.model.generate(**batch, **settings)  # (b, prompt + new)
            new = generated[:, batch["input_ids"].shape[1] :]
            for row, i in enumerate(chosen):
                tokens = new[row].tolist()
                stop = next((j for j, t in enumerate(tokens) if t in eos_ids), None)
                kept = tokens if stop is None else tokens[:stop]
                outputs[i] = Output(
                    text=self.tokenizer.decode(kept, skip_special_tokens=True).strip(),
                    finish_reason="stop" if stop is not None else "length",
                    prompt_tokens=len(encoded[i]),
                    new_tokens=len(kept),
                )
        return [o for o in outputs if o is not None]


class VLLMBackend:
    """vLLM (`pip install polyalign[vllm]` on a GPU machine): same prompts, same sampling settings."""

    name = "vllm"

    def __init__(self, model_path: str, dtype: str = "auto", seed: int = 0) -> None:
        try:
            import vllm
        except ImportError as error:
            raise PolyAlignError(
                "backend 'vllm' needs the vllm package (a GPU extra: pip install 'polyalign[vllm]'); "
                "use backend 'transformers' on CPU"
            ) from error
        self._vllm = vllm
        self.llm = vllm.LLM(model=model_path, dtype=dtype, seed=seed)
        self.tokenizer = self.llm.get_tokenizer()

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return len(self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"])

    def generate(self, prompts: Sequence[str], decoding: DecodingConfig, batch_size: int) -> list[Output]:
        params = self._vllm.SamplingParams(
            n=1,
            temperature=decoding.temperature if decoding.do_sample else 0.0,
            top_p=decoding.top_p if decoding.do_sample else 1.0,
            top_k=(decoding.top_k or -1) if decoding.do_sample else -1,
            repetition_penalty=decoding.repetition_penalty,
            max_tokens=decoding.max_new_tokens,
            seed=decoding.seed,
        )
        results = self.llm.generate(list(prompts), params)
        return [
            Output(
                r.outputs[0].text.strip(),
                "length" if r.outputs[0].finish_reason == "length" else "stop",
                len(r.prompt_token_ids or []),
                len(r.outputs[0].token_ids),
            )
            for r in results
        ]


def load_backend(config: GenerateConfig) -> Backend:
    if config.backend == "vllm":
        return VLLMBackend(config.model, config.dtype, config.decoding.seed)
    return TransformersBackend(config.model, config.dtype)


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
