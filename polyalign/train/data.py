"""Project records → TRL conversational prompt/completion rows with a `bucket` column, fitted to `max_length`.

Each record becomes `{"id", "bucket", "prompt": [system?, user, assistant, ..., user], "completion":
[{"role": "assistant", "content": response}]}`. Prompt/completion (rather than one `messages` list with
`assistant_only_loss`) puts the loss on the final, human reference response only, never on earlier
assistant turns of a multi-turn history, and works with any chat template (no `{% generation %}`
markers needed). With the profile on, the record's own profile is the system prompt; a seeded share
(`length_dropout`) of records states no length, so the model also learns the `none` inference mode.

Fitting to `max_length` (given a tokenizer) is the same for every method, so that SFT and Bucket-SFT train
on the same records, histories and response tokens: the budget is always counted on the prompt as
Bucket-SFT sees it, the record's profile with its length stated (the longest profile; the length-dropout
coin does not matter). By that budget (1) the oldest history exchanges are dropped (never the profile,
the last user turn or the response); (2) a response that still does not fit is cut to its longest token
prefix that does (a prefix of the text, at a character boundary), so TRL truncates nothing; (3) a record
whose prompt leaves no room for one response token is dropped, with its reason. The cut response is
rendered by the chat template like any response, so it ends with the template's end of turn in every
method. Preference pairs are fitted by the same rule (`fit_pairs`), each pair carrying the token count of
its prompt as Bucket-SFT sees it. Reads and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polyalign.data.prompts import drop_exchanges, fit_history, training_profile, with_profile
from polyalign.data.records import Record
from polyalign.errors import PolyAlignError

if TYPE_CHECKING:
    from datasets import Dataset

PROMPT_TOO_LONG = "prompt_too_long"  # the fitted prompt with profile leaves no room for one response token
Messages = list[dict[str, str]]


def _keeps_length(record_id: str, dropout: float, seed: int) -> bool:
    """A per-record coin that depends only on (seed, id): same choice in every process and run."""
    if dropout <= 0:
        return True
    digest = hashlib.sha256(f"{seed}\x1f{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 >= dropout


def record_row(record: Record, profile: bool, length_dropout: float = 0.0, seed: int = 0) -> dict[str, Any]:
    if record.bucket is None:
        raise PolyAlignError(
            f"record {record.id} has no bucket: train on prepared data (`polyalign prepare`)"
        )
    chosen = training_profile(record, _keeps_length(record.id, length_dropout, seed)) if profile else None
    return {
        "id": record.id,
        "bucket": record.bucket,
        "prompt": with_profile(record.prompt_messages, chosen),
        "completion": [{"role": "assistant", "content": record.response}],
    }


@dataclass
class LengthFit:
    """What fitting to `max_length` did, per bucket; empty without a tokenizer and `max_length`."""

    history_exchanges_trimmed: dict[str, int] = field(default_factory=dict)
    responses_cut: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)  # bucket → reason → records
    # record id → tokens of its fitted prompt as Bucket-SFT sees it (length stated, generation prompt
    # included): the pairs stage stores it with each pair, and the preference stage fits pairs by it
    profile_prompt_tokens: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The training summary's keys."""
        return {
            "history_exchanges_trimmed": _sorted(self.history_exchanges_trimmed),
            "responses_cut": _sorted(self.responses_cut),
            "dropped_for_length": _sorted(self.dropped),
        }


def records_to_dataset(
    records: Sequence[Record],
    profile: bool,
    length_dropout: float = 0.0,
    seed: int = 0,
    tokenizer: Any = None,
    max_length: int | None = None,
) -> tuple[Dataset, LengthFit]:
    """A `datasets.Dataset` of prompt/completion rows in record order, fitted to `max_length` tokens of
    `tokenizer`'s chat template when both are given (module doc), and what the fitting did (with a
    tokenizer, the profile prompt's tokens of each record too)."""
    from datasets import Dataset

    if not records:
        raise PolyAlignError("no records to train on")
    rows = [record_row(r, profile, length_dropout, seed) for r in records]
    fit = LengthFit()
    if tokenizer is not None:
        count = token_counter(tokenizer)
        kept = []
        for record, row in zip(records, rows, strict=True):
            if _fit_row(record, row, tokenizer, count, max_length, fit):
                kept.append(row)
        rows = kept
    if not rows:
        raise PolyAlignError(
            f"every record's prompt leaves no room for a response in max_length {max_length} tokens: "
            "raise max_length"
        )
    return Dataset.from_list(rows), fit


def _fit_row(
    record: Record,
    row: dict[str, Any],
    tokenizer: Any,
    count: Callable[..., int],
    max_length: int | None,
    fit: LengthFit,
) -> bool:
    """Fit `row` in place by the budget of `record`'s Bucket-SFT prompt (length stated); False: drop it."""
    bucket = row["bucket"]
    budget = record_row(record, profile=True)  # the longest prompt any method gives this record
    if max_length is not None:
        trimmed = fit_history(budget, count, max_length)
        row["prompt"] = drop_exchanges(row["prompt"], trimmed)
        _add(fit.history_exchanges_trimmed, bucket, trimmed)
        response = row["completion"][0]["content"]
        kept = fit_response(budget["prompt"], response, tokenizer, max_length, count)
        if kept is None:
            _add(fit.dropped.setdefault(bucket, {}), PROMPT_TOO_LONG, 1)
            return False
        if kept != response:
            row["completion"] = [_assistant(kept)]
            _add(fit.responses_cut, bucket, 1)
    fit.profile_prompt_tokens[record.id] = count(budget["prompt"], add_generation_prompt=True)
    return True


def fit_response(
    prompt: Messages, response: str, tokenizer: Any, limit: int, count: Callable[..., int] | None = None
) -> str | None:
    """`response` if `prompt` + it render in at most `limit` tokens, else its longest prefix (ending at a
    token's last character) that does; None when not even one token of it fits.

    The prefix is cut from the text by the tokenizer's character offsets, never decoded from token ids:
    a token that covers half a character (byte-level BPE splits a CJK character in three) keeps the
    whole character or none of it. Prefix and context may tokenise a little differently at the cut, so
    the length is checked again after each cut.
    """
    count = count or token_counter(tokenizer)
    over = count([*prompt, _assistant(response)]) - limit
    if over <= 0:
        return response
    offsets = tokenizer(response, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    ends = [end for _, end in offsets]  # the character each token of the response ends at
    keep = len(ends) - over  # tokens of the response to keep
    while keep > 0:
        text = response[: ends[keep - 1]]
        if not text.strip():
            return None
        over = count([*prompt, _assistant(text)]) - limit
        if over <= 0:
            return text
        keep -= over
    return None


@dataclass
class PairFit:
    """What fitting preference pairs to `max_length` did, per bucket (`fit_pairs`)."""

    history_exchanges_trimmed: dict[str, int] = field(default_factory=dict)
    chosen_cut: dict[str, int] = field(default_factory=dict)
    rejected_cut: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)  # bucket → reason → pairs

    def summary(self) -> dict[str, Any]:
        return {
            "history_exchanges_trimmed": _sorted(self.history_exchanges_trimmed),
            "chosen_cut": _sorted(self.chosen_cut),
            "rejected_cut": _sorted(self.rejected_cut),
            "dropped_for_length": _sorted(self.dropped),
        }


def fit_pairs(
    rows: Sequence[dict[str, Any]], tokenizer: Any, max_length: int | None
) -> tuple[list[dict[str, Any]], PairFit]:
    """Pair rows fitted to `max_length` by the rule of `records_to_dataset`, whatever the start policy.

    Each row's `profile_prompt_tokens` (the pairs stage) is its prompt's length as Bucket-SFT sees it;
    the tokens the profile would add to this prompt count against `max_length`. By that budget the oldest
    history exchanges are dropped (fitting the chosen, human response: the same for every method), then
    chosen and rejected are cut to fit; a pair with no room for a response is dropped.
    """
    fit = PairFit()
    if max_length is None:
        return list(rows), fit
    count = token_counter(tokenizer)
    out = []
    for pair in rows:
        if "profile_prompt_tokens" not in pair:
            raise PolyAlignError(
                f"pair {pair.get('id')} has no profile_prompt_tokens: these pairs were built by an older "
                "polyalign; build them again (`polyalign pairs`)"
            )
        bucket = pair["bucket"]
        # the tokens Bucket-SFT's profile adds to this prompt (0 when it is Bucket-SFT's, length stated)
        profile = max(0, pair["profile_prompt_tokens"] - count(pair["prompt"], add_generation_prompt=True))
        limit = max_length - profile
        row = {"prompt": pair["prompt"], "completion": pair["chosen"]}
        _add(fit.history_exchanges_trimmed, bucket, fit_history(row, count, limit))
        kept = {
            side: fit_response(row["prompt"], pair[side][0]["content"], tokenizer, limit, count)
            for side in ("chosen", "rejected")
        }
        if kept["chosen"] is None or kept["rejected"] is None:
            _add(fit.dropped.setdefault(bucket, {}), PROMPT_TOO_LONG, 1)
            continue
        for side, cut in (("chosen", fit.chosen_cut), ("rejected", fit.rejected_cut)):
            _add(cut, bucket, int(kept[side] != pair[side][0]["content"]))
        out.append({**pair, "prompt": row["prompt"], **{side: [_assistant(kept[side])] for side in kept}})
    return out, fit


def token_counter(tokenizer: Any) -> Callable[..., int]:
    """`count(messages, add_generation_prompt=False)`: tokens of `messages` in the chat template."""

    def count(messages: Messages, add_generation_prompt: bool = False) -> int:
        ids = tokenizer.apply_chat_template(
            messages, tokenize=True, add_generation_prompt=add_generation_prompt
        )
        return len(ids["input_ids"] if isinstance(ids, Mapping) else ids)

    return count


def record_ids_digest(ids: Sequence[str]) -> str:
    """sha256 of the sorted record ids a model trained on: equal digests, same records."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def _assistant(content: str) -> dict[str, str]:
    return {"role": "assistant", "content": content}


def _add(counts: dict[str, int], key: str, n: int) -> None:
    if n:
        counts[key] = counts.get(key, 0) + n


def _sorted(counts: Mapping[str, Any]) -> dict[str, Any]:
    return {k: dict(sorted(v.items())) if isinstance(v, Mapping) else v for k, v in sorted(counts.items())}
