"""Deliberately degraded responses, to check that every metric moves the expected way (and to bench them).

`truncate` keeps the first sentence (or a quarter of a one-sentence text), `template` wraps a response in
the global assistant style PolyAlign moves away from (opening formula, bullets, closing offer), and
`shuffle_between_cells` answers each record with a response of another context cell. Deterministic;
reads and writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from polyalign.data.records import Record

_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")


def truncate(text: str) -> str:
    """The first sentence; a text of one sentence keeps its first quarter (at least one character)."""
    stripped = text.strip()
    first = _SENTENCE.split(stripped, maxsplit=1)[0]
    return first if first and first != stripped else stripped[: max(1, len(stripped) // 4)]


def template(text: str, language: str) -> str:
    """The response in an assistant template: formula, one bullet per sentence, closing offer."""
    sentences = [s for s in _SENTENCE.split(text.strip()) if s]
    bullets = "\n".join(f"- {s}" for s in sentences)
    if language == "zh":
        return f"好的！以下是我的回答：\n\n{bullets}\n\n希望对你有帮助！如果你有其他问题，请随时告诉我。"
    closing = "I hope this helps! Let me know if you have any other questions."
    return f"Sure! Here is a detailed answer:\n\n{bullets}\n\n{closing}"


def shuffle_between_cells(
    records: Sequence[Record], responses: Mapping[str, str], seed: int = 0
) -> dict[str, str]:
    """Each record answered by the response of a record from another context cell (seeded)."""
    rng = np.random.default_rng([seed, 13])
    cells = np.array([r.cell for r in records])
    others = {cell: np.flatnonzero(cells != cell) for cell in set(cells.tolist())}
    if any(len(o) == 0 for o in others.values()):
        raise ValueError("shuffling between cells needs records of at least two cells")
    out = {}
    for record in records:
        pool = others[record.cell]
        out[record.id] = responses[records[int(pool[rng.integers(len(pool))])].id]
    return out


def degrade(
    records: Sequence[Record], responses: Mapping[str, str], kind: str, seed: int = 0
) -> dict[str, str]:
    """`truncated`, `templated` or `shuffled` versions of `responses` (keyed by record id)."""
    if kind == "truncated":
        return {r.id: truncate(responses[r.id]) for r in records}
    if kind == "templated":
        return {r.id: template(responses[r.id], str(r.language)) for r in records}
    if kind == "shuffled":
        return shuffle_between_cells(records, responses, seed)
    raise ValueError(f"unknown degradation {kind!r}: truncated, templated or shuffled")


# Neutral wrapper sentences for `wrap`: none holds a marker word or formula of the feature lists
# (`reference/features.py`; a test checks it), so only a support term that learns from the human
# responses themselves can see them. Three openings x three closings, chosen per response.
WRAP_OPENINGS = {
    "en": ("Right, this one comes up a lot.", "Okay, the short version is below.", "Good point to raise."),
    "zh": ("这个问题挺常见的。", "关于这一点，简单说一下。", "先把结论放在前面。"),
}
WRAP_CLOSINGS = {
    "en": ("That should cover the main points.", "Those are the essentials.", "Hopefully that clears it up."),
    "zh": ("以上就是主要的内容。", "大致就是这样。", "这些是值得了解的要点。"),
}


def wrap(text: str, language: str, variant: int) -> str:
    """The response between a neutral opening and closing sentence (`variant` picks the pair)."""
    opening = WRAP_OPENINGS[language][variant % 3]
    closing = WRAP_CLOSINGS[language][variant // 3 % 3]
    sep = "" if language == "zh" else " "
    return f"{opening}{sep}{text.strip()}{sep}{closing}"


def repeat(text: str) -> str:
    """The response followed by its last sentence twice more: degenerate repetition."""
    sentences = [s for s in _SENTENCE.split(text.strip()) if s]
    last = sentences[-1] if sentences else text
    sep = " " if last[-1:].isascii() else ""
    return sep.join([text.strip(), last, last])


def lengthen(records: Sequence[Record], responses: Mapping[str, str], seed: int = 0) -> dict[str, str]:
    """Each response followed by another human response of its own context cell (seeded): a change of
    length, not of cell or style."""
    rng = np.random.default_rng([seed, 17])
    cells = np.array([r.cell for r in records])
    out = {}
    for i, record in enumerate(records):
        pool = np.flatnonzero((cells == record.cell) & (np.arange(len(records)) != i))
        if len(pool) == 0:
            raise ValueError(f"lengthening needs two records of cell {record.cell}")
        sep = "" if record.language == "zh" else " "
        out[record.id] = responses[record.id].strip() + sep + responses[records[int(rng.choice(pool))].id]
    return out
