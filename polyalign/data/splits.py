"""Exact deduplication and group-aware, seeded, deterministic train/val/test splits.

Records that share a conversation, a passage, an opening prompt or an identical response are merged into
one group (union-find), and a group never crosses splits. Unsplit groups are placed per context cell in
an order fixed by hashing (seed, group name), so the result depends on neither input order nor machine.
Records that arrive with a split keep it; a group whose records arrive in different splits is reported.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from polyalign.data.config import SPLITS, SplitConfig
from polyalign.data.records import Record

EXPLICIT_GROUP_FIELDS = ("group", "dialogue", "dialogue_id", "conversation_id", "conversation")


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def dedup_key(record: Record) -> str:
    """Identity of a (prompt, response) pair after normalisation; the system prompt is part of the prompt."""
    return _digest("\x1e".join(f"{m.role}\x1f{m.content}" for m in record.messages))


def group_keys(record: Record, config: SplitConfig) -> list[str]:
    """The keys that tie a record to others: sharing any one puts them in the same group."""
    body = [m for m in record.messages if m.role != "system"]
    keys = [
        f"x:{_digest(str(record.meta[f]))}" for f in EXPLICIT_GROUP_FIELDS if record.meta.get(f) is not None
    ]
    if record.group is not None:
        keys.append(f"x:{_digest(record.group)}")
    # The opening exchange: records cut from one dialogue all start with it.
    keys.append("c:" + _digest(body[0].content + "\x1f" + body[1].content))
    opening = body[0].content
    if len(body) == 2 or len(opening) >= config.min_shared_prompt_chars:
        keys.append("p:" + _digest(opening))
    for message in body[:-1]:
        if message.role == "user" and len(message.content) >= config.min_passage_chars:
            keys.extend(
                "d:" + _digest(paragraph)
                for paragraph in message.content.split("\n\n")
                if len(paragraph) >= config.min_passage_chars
            )
    if len(record.response) >= config.min_shared_response_chars:
        keys.append("r:" + _digest(record.response))
    return keys


def find_groups(records: Sequence[Record], config: SplitConfig) -> list[str]:
    """Union-find over shared keys; each record gets its group's name (the smallest member id)."""
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, record in enumerate(records):
        for key in group_keys(record, config):
            j = owner.setdefault(key, i)
            ri, rj = root(i), root(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    name: dict[int, str] = {}
    for i, record in enumerate(records):
        r = root(i)
        if r not in name or record.id < name[r]:
            name[r] = record.id
    return [name[root(i)] for i in range(len(records))]


@dataclass(frozen=True)
class SplitOutcome:
    splits: list[str]
    groups_total: int
    groups_crossing_existing: list[str]  # groups whose records arrived in different splits (kept as given)


def assign_splits(records: Sequence[Record], groups: Sequence[str], config: SplitConfig) -> SplitOutcome:
    members: dict[str, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        members[group].append(i)
    splits: list[str | None] = [r.split if config.respect_existing else None for r in records]
    crossing = []
    unsplit_by_cell: dict[str, list[str]] = defaultdict(list)
    for group, idx in members.items():
        given = Counter(splits[i] for i in idx if splits[i] is not None)
        if len(given) > 1:
            crossing.append(group)
        if given:
            majority = max(SPLITS, key=lambda s: (given[s], -SPLITS.index(s)))
            for i in idx:
                splits[i] = splits[i] or majority
        else:
            unsplit_by_cell[records[idx[0]].cell].append(group)
    bounds = _cumulative_bounds(config.ratios)
    for cell in sorted(unsplit_by_cell):
        ordered = sorted(unsplit_by_cell[cell], key=lambda g: _digest(f"{config.seed}\x1f{g}"))
        total = sum(len(members[g]) for g in ordered)
        seen = 0
        for group in ordered:
            size = len(members[group])
            position = (seen + size / 2) / total
            split = next((s for s, upper in bounds if position < upper), SPLITS[-1])
            for i in members[group]:
                splits[i] = split
            seen += size
    return SplitOutcome(cast(list[str], splits), len(members), sorted(crossing))


def _cumulative_bounds(ratios: dict[str, float]) -> list[tuple[str, float]]:
    bounds, upper = [], 0.0
    for split in SPLITS:
        upper += ratios[split]
        bounds.append((split, upper))
    return bounds
