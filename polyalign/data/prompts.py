"""The response profile (METHOD.md §4): a system prompt stating language, track, family and target length.

In training the profile is the record's own, target length included (its gold length: that is what the
model learns to follow). At inference the length part is chosen *without the gold answer*:

- `"sample"` (default): drawn from the human length distribution of the context cell (`CellLengths`:
  the human reference's cell lengths, training split only), with an explicit seeded generator, so the
  lengths of many generations reproduce the human distribution of that cell;
- `"none"`: no length part at all;
- an integer: the user's target length.

`inference_profile` takes only the context cell (language, track, family), the cells' human lengths and
the generator: it cannot see the response, its length or its bucket. The chosen `Profile` is returned so the
caller stores it with the generation. Owns the prompt texts (EN, ZH); reads and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from polyalign.data.buckets import BucketKey
from polyalign.data.records import Message, Record
from polyalign.errors import PolyAlignError

LENGTH_MODES = ("sample", "none")
# Human response lengths (training split) of each context cell `language|track|family`: all that length
# sampling needs of the human reference, so prompts do not depend on the reference package.
CellLengths = Mapping[str, Sequence[int]]

_TEXT = {
    "en": {
        "head": "Response profile",
        "sep": "; ",
        "end": ".",
        "language": "language: {}",
        "track": "conversation: {}",
        "family": "style: {}",
        "length": "target length: about {} words",
        "languages": {"en": "English", "zh": "Chinese"},
        "tracks": {"single": "single-turn", "multi": "multi-turn"},
        "families": {
            "open_chat": "open chat",
            "assistant_like": "assistant answer",
            "longform_qa": "long-form answer",
            "qa_search": "question answering",
            "task_dialogue": "task dialogue",
        },
    },
    "zh": {
        "head": "回复画像",
        "sep": "；",
        "end": "。",
        "language": "语言：{}",
        "track": "对话：{}",
        "family": "风格：{}",
        "length": "目标长度：约{}字",
        "languages": {"en": "英文", "zh": "中文"},
        "tracks": {"single": "单轮", "multi": "多轮"},
        "families": {
            "open_chat": "开放闲聊",
            "assistant_like": "助手回答",
            "longform_qa": "长篇回答",
            "qa_search": "问答",
            "task_dialogue": "任务对话",
        },
    },
}


@dataclass(frozen=True)
class Profile:
    """What the system prompt states; stored with each generation."""

    language: str
    track: str
    family: str
    target_length: int | None  # length units (words / CJK characters / punctuation); None: not stated
    length_source: str  # "gold" (training), "sample", "none" or "user"

    @property
    def cell(self) -> str:
        return str(BucketKey(self.language, self.track, self.family))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return profile_text(self.language, self.track, self.family, self.target_length)


def round_length(units: int) -> int:
    """A target a person would state: exact to 20, then to 5, 10 beyond 100, 50 beyond 300."""
    step = 1 if units <= 20 else 5 if units <= 100 else 10 if units <= 300 else 50
    return max(1, round(units / step) * step)


def profile_text(language: str, track: str, family: str, target_length: int | None) -> str:
    """The system prompt, in the response language; a language without its own wording is an error."""
    if language not in _TEXT:
        raise PolyAlignError(
            f"no response-profile wording for language {language!r}; profile texts exist for "
            f"{sorted(_TEXT)}. Add its wording to `polyalign.data.prompts._TEXT`, or train and generate "
            "without the profile"
        )
    t = _TEXT[language]
    parts = [
        t["language"].format(t["languages"].get(language, language)),
        t["track"].format(t["tracks"].get(track, track)),
        t["family"].format(t["families"].get(family, family.replace("_", " "))),
    ]
    if target_length is not None:
        parts.append(t["length"].format(round_length(target_length)))
    colon = "：" if language == "zh" else ": "
    return t["head"] + colon + t["sep"].join(parts) + t["end"]


def with_profile(messages: Sequence[Message], profile: Profile | None) -> list[dict[str, str]]:
    """Chat messages with the profile as system prompt (merged in front of an existing system prompt)."""
    out = [{"role": m.role, "content": m.content} for m in messages]
    if profile is None:
        return out
    if out and out[0]["role"] == "system":
        out[0] = {"role": "system", "content": profile.text() + "\n\n" + out[0]["content"]}
    else:
        out.insert(0, {"role": "system", "content": profile.text()})
    return out


def training_profile(record: Record, keep_length: bool = True) -> Profile:
    """The record's own profile, its gold length included (training only)."""
    if record.language is None or record.track is None or record.family is None:
        raise PolyAlignError(f"record {record.id} has no language/track/family: train on prepared data")
    if keep_length and record.length_units is None:
        raise PolyAlignError(f"record {record.id} has no length_units: train on prepared data")
    length = record.length_units if keep_length else None
    return Profile(record.language, record.track, record.family, length, "gold" if keep_length else "none")


def choose_target_length(
    cell: str, lengths: CellLengths | None, mode: str | int, rng: np.random.Generator
) -> tuple[int | None, str]:
    """Target length for a prompt of context cell `cell`, and where it came from. Never sees an answer."""
    if isinstance(mode, bool) or not isinstance(mode, str | int):
        raise PolyAlignError(f"length mode must be 'sample', 'none' or a number of units, got {mode!r}")
    if isinstance(mode, int):
        if mode < 1:
            raise PolyAlignError(f"a user-given target length must be at least 1 unit, got {mode}")
        return mode, "user"
    if mode == "none":
        return None, "none"
    if mode != "sample":
        raise PolyAlignError(f"length mode must be one of {LENGTH_MODES} or a number of units, got {mode!r}")
    if lengths is None:
        raise PolyAlignError("length mode 'sample' needs the human reference (its cell length distributions)")
    human = lengths.get(cell)
    if not human:
        raise PolyAlignError(
            f"no human lengths for context cell {cell!r} in the reference; known cells: {sorted(lengths)}. "
            "Use length mode 'none' or give a target length."
        )
    return int(human[int(rng.integers(len(human)))]), "sample"


def inference_profile(
    language: str,
    track: str,
    family: str,
    lengths: CellLengths | None,
    mode: str | int = "sample",
    rng: np.random.Generator | None = None,
) -> Profile:
    """The profile of an inference prompt: context cell given, length chosen by `mode` (see module doc)."""
    if mode == "sample" and rng is None:
        raise PolyAlignError("length mode 'sample' needs an explicit seeded numpy Generator")
    cell = str(BucketKey(language, track, family))
    length, source = choose_target_length(cell, lengths, mode, rng or np.random.default_rng(0))
    return Profile(language, track, family, length, source)


def inference_messages(
    record: Record,
    lengths: CellLengths | None,
    mode: str | int = "sample",
    rng: np.random.Generator | None = None,
) -> tuple[list[dict[str, str]], Profile]:
    """Prompt messages of `record` (its gold answer dropped) with an inference profile, and that profile.

    Reads only the record's context cell and prompt turns: never its response, length or bucket.
    """
    profile = inference_profile(
        str(record.language), str(record.track), str(record.family), lengths, mode, rng
    )
    return with_profile(record.prompt_messages, profile), profile


def fit_history(
    row: dict[str, Any], count_tokens: Callable[[list[dict[str, str]]], int], max_length: int
) -> int:
    """Drop the oldest (user, assistant) exchanges of the prompt until prompt + completion fit in
    `max_length` tokens; the system prompt (profile), the last user turn and the response are kept.

    TRL truncates the end of a too-long sequence, which cuts the response and drops the example when
    nothing of it is left; trimming the history first keeps every example. Returns the exchanges dropped.
    """
    dropped = 0
    while len(row["prompt"]) - _head(row["prompt"]) > 1:
        if count_tokens(row["prompt"] + row["completion"]) <= max_length:
            break
        row["prompt"] = drop_exchanges(row["prompt"], 1)
        dropped += 1
    return dropped


def drop_exchanges(prompt: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    """`prompt` without its `n` oldest (user, assistant) exchanges; a system prompt stays first.

    The same `n` drops the same turns from a prompt with and without the profile (`with_profile` puts the
    profile in the system prompt), which is how `train.data` gives every method the same history.
    """
    head = _head(prompt)
    return prompt[:head] + prompt[head + 2 * n :]


def _head(prompt: list[dict[str, str]]) -> int:
    return 1 if prompt and prompt[0]["role"] == "system" else 0
