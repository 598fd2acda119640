"""Deliberately degraded responses, to check that every metric moves the expected way (and to bench them).

`truncate` keeps the first sentence (or a quarter of a one-sentence text; `first_sentence` leaves that
one as it is), `template` wraps a response in the global assistant style PolyAlign moves away from
(opening formula, bullets, closing offer), `plain_template` is that template in neutral phrases that no
feature list names (so only its shape can give it away), `repeat` says the response twice (degenerate
looping), `halve` keeps the first half of the sentences (the length changes, the sentences do not) and
`shuffle_between_cells` answers each record with a response of another context cell (optionally of the
same language). Deterministic; reads and writes nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from polyalign.data.records import Record

# A sentence ends at . ! ? before whitespace (so "3.5" is no boundary), or at 。！？ anywhere.
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*")


def first_sentence(text: str) -> str:
    """The first sentence; a text of one sentence stays as it is."""
    stripped = text.strip()
    return _SENTENCE.split(stripped, maxsplit=1)[0] or stripped


def truncate(text: str) -> str:
    """The first sentence; a text of one sentence keeps its first quarter (at least one character)."""
    stripped = text.strip()
    first = first_sentence(stripped)
    return first if first != stripped else stripped[: max(1, len(stripped) // 4)]


def template(text: str, language: str) -> str:
    """The response in an assistant template: formula, one bullet per sentence, closing offer."""
    sentences = [s for s in _SENTENCE.split(text.strip()) if s]
    bullets = "\n".join(f"- {s}" for s in sentences)
    if language == "zh":
        return f"好的！以下是我的回答：\n\n{bullets}\n\n希望对你有帮助！如果你有其他问题，请随时告诉我。"
    closing = "I hope this helps! Let me know if you have any other questions."
    return f"Sure! Here is a detailed answer:\n\n{bullets}\n\n{closing}"


# The phrases of a template with nothing a feature list names: no marker word, no stock formula (a test
# checks), so a metric that catches `plain_template` reads the template's shape, not a phrase list.
PLAIN_PHRASES = {
    "en": ("The text below contains the requested information:", "The text above covers the main points."),
    "zh": ("下面是相关内容的说明：", "上述内容涵盖了主要的要点。"),
}


def plain_template(text: str, language: str) -> str:
    """`template` with neutral phrases: an opening line, one bullet per sentence, a closing line."""
    opening, closing = PLAIN_PHRASES[language]
    bullets = "\n".join(f"- {s}" for s in _SENTENCE.split(text.strip()) if s)
    return f"{opening}\n\n{bullets}\n\n{closing}"


def repeat(text: str) -> str:
    """The response said twice, as a looping model does."""
    stripped = text.strip()
    return f"{stripped} {stripped}"


def halve(text: str) -> str:
    """The first half of the sentences (rounded up): shorter, same sentences. One sentence stays as it is."""
    stripped = text.strip()
    ends: list[int] = []  # where each sentence but the last ends (a run like "..." ends one sentence)
    for match in _SENTENCE.finditer(stripped):
        start = ends[-1] if ends else 0
        if 0 < match.start() < len(stripped) and stripped[start : match.start()].strip(".!?。！？ \n"):
            ends.append(match.start())
    return stripped[: ends[len(ends) // 2]] if ends else text


def shuffle_between_cells(
    records: Sequence[Record], responses: Mapping[str, str], seed: int = 0, *, same_language: bool = False
) -> dict[str, str]:
    """Each record answered by the response of a record from another context cell (seeded); with
    `same_language`, from another cell of its own language (a wrong-language answer is easier to catch)."""
    rng = np.random.default_rng([seed, 13])
    cells = np.array([r.cell for r in records])
    languages = np.array([str(r.language) for r in records])
    others = {}
    for record in records:
        if record.cell not in others:
            other = cells != record.cell
            if same_language:
                other &= languages == str(record.language)
            others[record.cell] = np.flatnonzero(other)
    if any(len(o) == 0 for o in others.values()):
        where = " of the same language" if same_language else ""
        raise ValueError(f"shuffling between cells needs records of at least two cells{where}")
    out = {}
    for record in records:
        pool = others[record.cell]
        out[record.id] = responses[records[int(pool[rng.integers(len(pool))])].id]
    return out


DEGRADATIONS = (
    "truncated",
    "first_sentence",
    "templated",
    "plain_templated",
    "repeated",
    "halved",
    "shuffled",
    "swapped",
)


def degrade(
    records: Sequence[Record], responses: Mapping[str, str], kind: str, seed: int = 0
) -> dict[str, str]:
    """A degraded version (one of DEGRADATIONS) of `responses` (keyed by record id)."""
    if kind == "truncated":
        return {r.id: truncate(responses[r.id]) for r in records}
    if kind == "first_sentence":
        return {r.id: first_sentence(responses[r.id]) for r in records}
    if kind == "templated":
        return {r.id: template(responses[r.id], str(r.language)) for r in records}
    if kind == "plain_templated":
        return {r.id: plain_template(responses[r.id], str(r.language)) for r in records}
    if kind == "repeated":
        return {r.id: repeat(responses[r.id]) for r in records}
    if kind == "halved":
        return {r.id: halve(responses[r.id]) for r in records}
    if kind == "shuffled":
        return shuffle_between_cells(records, responses, seed)
    if kind == "swapped":
        return shuffle_between_cells(records, responses, seed, same_language=True)
    raise ValueError(f"unknown degradation {kind!r}: {', '.join(DEGRADATIONS)}")
