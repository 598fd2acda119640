"""Typed records of the project schema (METHOD.md §1) and their JSONL form.

A record is one conversation whose last assistant message is the human reference response. Prepared
records also carry the fields that `prepare` derives (split, group, length, bucket); they are optional
so that raw and prepared records share one type and one serialisation. Owns: the schema and its checks.
Reads/writes: JSONL files of records, through `artifacts.read_jsonl`/`write_jsonl` (nothing else).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.data.buckets import BucketKey

ROLES = ("system", "user", "assistant")
SCHEMA_FIELDS = ("id", "source", "language", "track", "family", "messages", "meta")
DERIVED_FIELDS = ("split", "group", "length_units", "length_bin", "bucket", "reference_bucket")


class RecordError(ValueError):
    """A record that does not fit the schema; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


@dataclass(slots=True)
class Record:
    """One conversation; `messages[-1]` is the human reference response."""

    id: str
    source: str
    language: str | None
    track: str | None
    family: str | None
    messages: tuple[Message, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    split: str | None = None
    group: str | None = None
    length_units: int | None = None
    length_bin: str | None = None
    bucket: str | None = None
    reference_bucket: str | None = None

    @property
    def response(self) -> str:
        return self.messages[-1].content

    @property
    def prompt_messages(self) -> tuple[Message, ...]:
        return self.messages[:-1]

    @property
    def n_user_turns(self) -> int:
        return sum(m.role == "user" for m in self.messages)

    @property
    def cell(self) -> str:
        """The context cell `language|track|family`, known at inference without the answer."""
        if self.language is None or self.track is None or self.family is None:
            raise RecordError(
                "schema", f"record {self.id!r} has no language, track or family yet: prepare labels them"
            )
        return str(BucketKey(self.language, self.track, self.family))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "language": self.language,
            "track": self.track,
            "family": self.family,
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
            "meta": self.meta,
        }
        for name in DERIVED_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Build and validate a record from its JSON object; raises RecordError with a reason code."""
        if not isinstance(data, dict):
            raise RecordError("schema", f"expected a JSON object, got {type(data).__name__}")
        unknown = set(data) - set(SCHEMA_FIELDS) - set(DERIVED_FIELDS)
        if unknown:
            raise RecordError(
                "schema", f"unknown field(s) {sorted(unknown)}; allowed: {[*SCHEMA_FIELDS, *DERIVED_FIELDS]}"
            )
        meta = data.get("meta") or {}
        if not isinstance(meta, dict):
            raise RecordError("schema", "'meta' must be an object")
        record = cls(
            id=_text_field(data, "id", required=True),
            source=_text_field(data, "source", required=False) or "unknown",
            language=_text_field(data, "language", required=False),
            track=_text_field(data, "track", required=False),
            family=_text_field(data, "family", required=False),
            messages=parse_messages(data.get("messages")),
            meta=meta,
            **{name: data.get(name) for name in DERIVED_FIELDS},
        )
        validate_messages(record.messages)
        return record


def _text_field(data: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise RecordError("schema", f"missing field '{name}'")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and name == "id":
        return str(value)
    if not isinstance(value, str):
        raise RecordError("schema", f"field '{name}' must be a string, got {type(value).__name__}")
    return value


def parse_messages(raw: Any) -> tuple[Message, ...]:
    """Turn a JSON list of {role, content} into Messages; only shape is checked here."""
    if not isinstance(raw, list) or not raw:
        raise RecordError("schema", "'messages' must be a non-empty list")
    messages = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "role" not in item or "content" not in item:
            raise RecordError("schema", f"messages[{i}] must be an object with 'role' and 'content'")
        role, content = item["role"], item["content"]
        if role not in ROLES:
            raise RecordError("wrong_role_order", f"messages[{i}] has role {role!r}; allowed: {list(ROLES)}")
        if not isinstance(content, str):
            raise RecordError("schema", f"messages[{i}].content must be a string")
        messages.append(Message(role, content))
    return tuple(messages)


def validate_messages(messages: tuple[Message, ...]) -> None:
    """An optional system prompt, then user/assistant alternating, ending with the assistant reference."""
    body = messages[1:] if messages and messages[0].role == "system" else messages
    if not body:
        raise RecordError("wrong_role_order", "no user/assistant turns after the system prompt")
    for i, message in enumerate(body):
        expected = "user" if i % 2 == 0 else "assistant"
        if message.role != expected:
            where = "first turn" if i == 0 else f"turn {i + 1}"
            raise RecordError(
                "wrong_role_order",
                f"{where} is {message.role!r} but {expected!r} was expected "
                "(conversations start with the user and alternate)",
            )
    if body[-1].role != "assistant":
        raise RecordError("wrong_role_order", "the last message must be the assistant reference response")
    if not body[-1].content.strip():
        raise RecordError("empty_response", "the reference response is empty")


def write_records(path: Path, records: Iterable[Record]) -> int:
    """Write records one per line through the artefact JSONL writer; returns the count."""
    return artifacts.write_jsonl(path, (record.to_dict() for record in records))


def read_records(path: Path) -> Iterator[Record]:
    """Read records written by `write_records`; a bad line raises `InputError` naming the file and line."""
    return artifacts.read_jsonl(path, Record.from_dict)
