"""What each record's prompt is: its conversation without the gold answer, the shared profile, and a
history cut to the token budget; and the leak guard that refuses prompts containing their gold response.

Reads records and the human reference (profile lengths of a cell); writes nothing.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from polyalign.data.buckets import length_units
from polyalign.data.prompts import Profile, inference_messages
from polyalign.data.records import Record
from polyalign.errors import PolyAlignError
from polyalign.generate.backends import Backend
from polyalign.generate.config import GenerateConfig
from polyalign.reference.reference import HumanReference

SHOWN_IDS = 10
_SPACE = re.compile(r"\s+")


class LeakError(PolyAlignError):
    """A prompt contains its gold response: generating from it would be a reference-conditioned run."""


@dataclass
@dataclass
class PromptPlan:
    record: Record
    messages: list[dict[str, str]]
    profile: Profile | None
    dropped_history: int = 0
    text: str = ""  # the rendered prompt, as the model sees it


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
