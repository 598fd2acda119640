"""Project records → TRL conversational prompt/completion rows with a `bucket` column.

Each record becomes `{"id", "bucket", "prompt": [system?, user, assistant, ..., user], "completion":
[{"role": "assistant", "content": response}]}`. Prompt/completion (rather than one `messages` list with
`assistant_only_loss`) puts the loss on the final, human reference response only, never on earlier
assistant turns of a multi-turn history, and works with any chat template (no `{% generation %}`
markers needed). With the profile on, the record's own profile is the system prompt; a seeded share
(`length_dropout`) of records states no length, so the model also learns the `none` inference mode.
Given a tokenizer and `max_length`, the oldest history exchanges of over-long conversations are dropped
(never the profile, the last user turn or the response). Reads and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from polyalign.data.prompts import fit_history, training_profile, with_profile
from polyalign.data.records import Record
from polyalign.errors import PolyAlignError

if TYPE_CHECKING:
    from datasets import Dataset


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


def records_to_dataset(
    records: Sequence[Record],
    profile: bool,
    length_dropout: float = 0.0,
    seed: int = 0,
    tokenizer: Any = None,
    max_length: int | None = None,
) -> tuple[Dataset, dict[str, int]]:
    """A `datasets.Dataset` of prompt/completion rows in record order, and the history exchanges dropped
    per bucket to fit `max_length` tokens of `tokenizer`'s chat template (when both are given)."""
    from datasets import Dataset

    if not records:
        raise PolyAlignError("no records to train on")
    rows = [record_row(r, profile, length_dropout, seed) for r in records]
    trimmed: dict[str, int] = {}
    if tokenizer is not None and max_length is not None:

        def count_tokens(messages: list[dict[str, str]]) -> int:
            ids = tokenizer.apply_chat_template(messages, tokenize=True)
            return len(ids["input_ids"] if isinstance(ids, Mapping) else ids)

        for row in rows:
            dropped = fit_history(row, count_tokens, max_length)
            if dropped:
                trimmed[row["bucket"]] = trimmed.get(row["bucket"], 0) + dropped
    return Dataset.from_list(rows), dict(sorted(trimmed.items()))
