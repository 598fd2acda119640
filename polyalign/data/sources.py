"""Input adapters: every supported shape becomes a `Record`, or a `RecordError` tied to its file and line.

Shapes: the project schema (`polyalign`), chat `messages`, ShareGPT (`conversations` of from/value),
Alpaca (`instruction`, `input`, `output`, `history`), and `columns` (a mapping from record fields to the
columns of any Hugging Face `datasets` dataset or table file). Loaders never drop anything: each input
line or row yields exactly one item, which `prepare` accounts for. Reads: JSONL files (UTF-8 with or
without a BOM, or a source's `encoding`), `.json` files holding an array, CSV/TSV/Parquet tables, and
`datasets` datasets. Split names are kept as found; `prepare` maps them (`splits.names`, aliases).
"""

from __future__ import annotations

import codecs
import glob
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from polyalign.data.config import SPLIT_ALIASES, SourceConfig
from polyalign.data.records import Message, Record, RecordError, parse_messages, validate_messages
from polyalign.errors import InputError

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "model": "assistant",
    "system": "system",
}
COLUMN_FIELDS = (
    "id",
    "prompt",
    "context",
    "response",
    "system",
    "history",
    "messages",
    "conversations",
    "language",
    "track",
    "family",
    "source",
    "split",
    "group",
)
JSONL_SUFFIXES = (".jsonl", ".json")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
UTF8_BOM = codecs.BOM_UTF8


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an input item came from: a file and 1-based line, or a dataset split and 0-based row."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class LoadedItem:
    origin: Origin
    record: Record | None
    error: RecordError | None
    raw: str  # the input as read, kept for the quarantine file
    record_id: str | None = None  # the input's own id when it has one but cannot become a record


def iter_source(source: SourceConfig) -> Iterator[LoadedItem]:
    """Every item of one file (`path`) or `datasets` (`hf`) source, in input order.

    Registered corpora are read by `polyalign.data.corpora`, which builds on this module; `prepare`
    dispatches each source to its reader, so this module never imports the corpora.
    """
    if source.path is not None:
        for path in resolve_paths(source.path):
            if path.suffix.lower() in TABLE_SUFFIXES:
                yield from _iter_table(path, source)
            elif path.suffix.lower() == ".json" and _starts_array(path):
                yield from _iter_json_array(path, source)
            else:
                yield from _iter_jsonl(path, source)
    elif source.hf is not None:
        yield from _iter_hf(source)
    else:
        raise InputError(f"{source} is neither a JSONL `path` nor an `hf` dataset: prepare reads it")


def resolve_paths(spec: str) -> list[Path]:
    """A file, a directory (its input files, by suffix) or a glob, sorted; an error if nothing matches."""
    path = Path(spec).expanduser()
    if path.is_file():
        return [path]
    suffixes = (*JSONL_SUFFIXES, *TABLE_SUFFIXES)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    else:
        files = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
    if not files:
        raise InputError(
            f"no input files match {spec!r}: give a file, a folder of {'/'.join(suffixes)} files, or a glob"
        )
    return files


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from error


def _is_utf8(encoding: str | None) -> bool:
    return encoding is None or codecs.lookup(encoding).name == "utf-8"


def _item(obj: Any, source: SourceConfig, origin: Origin, raw: str) -> LoadedItem:
    """One parsed input object as a record, or as a rejection that keeps the raw input and its id."""
    try:
        return LoadedItem(origin, to_record(obj, source, origin), None, "")
    except RecordError as error:
        return LoadedItem(origin, None, error, raw, _own_id(obj))


def _own_id(obj: Any) -> str | None:
    """The id an input object carries, for the quarantine row of an object that is not a record."""
    value = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
        return str(value)
    return None


def _iter_jsonl(path: Path, source: SourceConfig) -> Iterator[LoadedItem]:
    with _open(path) as handle:
        for line_no, raw_bytes in enumerate(handle, start=1):
            origin = Origin(str(path), line_no)
            if line_no == 1 and raw_bytes.startswith(UTF8_BOM) and _is_utf8(source.encoding):
                raw_bytes = raw_bytes[len(UTF8_BOM) :]  # an editor's byte-order mark, not content
            if not raw_bytes.strip():
                continue  # blank lines hold no record
            try:
                obj, text = _decode_line(raw_bytes, source.encoding)
            except RecordError as error:
                yield LoadedItem(origin, None, error, raw_bytes.decode(source.encoding or "utf-8", "replace"))
                continue
            yield _item(obj, source, origin, text)


def _decode_line(raw_bytes: bytes, encoding: str | None = None) -> tuple[Any, str]:
    """The parsed JSON value of one line, and the line's text."""
    if b"\x00" in raw_bytes:
        raise RecordError("binary_data", "the line contains NUL bytes (binary data, not JSON text)")
    text = _decode(raw_bytes.rstrip(b"\r\n"), encoding, "line")
    try:
        return json.loads(text), text
    except json.JSONDecodeError as error:
        raise RecordError("unparsable_json", f"{_json_error(error)} (truncated or corrupted line?)") from None


def _decode(raw_bytes: bytes, encoding: str | None, what: str) -> str:
    try:
        return raw_bytes.decode(encoding or "utf-8")
    except UnicodeDecodeError as error:
        raise _decode_error(error, raw_bytes, encoding, what) from None


def _decode_error(
    error: UnicodeDecodeError, raw_bytes: bytes, encoding: str | None, what: str
) -> RecordError:
    """Bytes that are not UTF-8 get a hint naming the encoding they look like."""
    if not _is_utf8(encoding):
        return RecordError("invalid_encoding", f"byte {error.start} is not {encoding}: {error.reason}")
    if error.reason == "unexpected end of data":  # cut inside a multi-byte character
        return RecordError("unparsable_json", f"the {what} ends inside a UTF-8 character (truncated {what}?)")
    return RecordError(
        "invalid_utf8", f"byte {error.start} is not UTF-8 ({error.reason}); {encoding_hint(raw_bytes)}"
    )


def encoding_hint(raw_bytes: bytes) -> str:
    """What to set for bytes that are not UTF-8: GB18030 when the high bytes come in pairs (Chinese),
    Windows-1252 when they stand alone between ASCII letters (accented Latin text)."""
    high = {i for i, byte in enumerate(raw_bytes) if byte >= 0x80}
    paired = sum(1 for i in high if i - 1 in high or i + 1 in high)
    candidates = ("gb18030", "cp1252") if paired >= len(high) / 2 else ("cp1252", "gb18030")
    for candidate in candidates:
        try:
            raw_bytes.decode(candidate)
        except UnicodeDecodeError:
            continue
        name = {"gb18030": "GB18030", "cp1252": "Windows-1252"}[candidate]
        return f"looks like {name}: set `encoding: {candidate}` on this source (`--encoding {candidate}`)"
    return "set `encoding:` on this source (`--encoding`) to the file's encoding"


def _json_error(error: json.JSONDecodeError) -> str:
    """json's message with its position ("Unterminated string starting at" ends waiting for one)."""
    message = error.msg.removesuffix(" at")
    hint = " (a raw tab or newline inside a string: write it as \\t or \\n)" if "control" in message else ""
    where = f"line {error.lineno} column {error.colno}" if error.lineno > 1 else f"column {error.colno}"
    return f"{message} at {where}{hint}"


def _starts_array(path: Path) -> bool:
    """A `.json` file whose first character is `[` holds one JSON array (the usual Alpaca layout)."""
    with _open(path) as handle:
        head = handle.read(4096).removeprefix(UTF8_BOM).lstrip()
    return head.startswith(b"[")


def _iter_json_array(path: Path, source: SourceConfig) -> Iterator[LoadedItem]:
    """Each element of the file's array is one item, located at the line where it starts."""
    with _open(path) as handle:
        data = handle.read()
    if _is_utf8(source.encoding):
        data = data.removeprefix(UTF8_BOM)
    try:
        text = data.decode(source.encoding or "utf-8")
    except UnicodeDecodeError as error:
        origin = Origin(str(path), data.count(b"\n", 0, error.start) + 1)
        yield LoadedItem(origin, None, _decode_error(error, data, source.encoding, "file"), "")
        return
    decoder = json.JSONDecoder()
    pos, line, counted = _skip_space(text, text.index("[") + 1), 1, 0
    if text[pos : pos + 1] == "]":
        return
    while True:
        line += text.count("\n", counted, pos)
        counted = pos
        origin = Origin(str(path), line)
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as error:
            detail = f"{_json_error(error)}; the array cannot be read on from line {line}"
            yield LoadedItem(origin, None, RecordError("unparsable_json", detail), text[pos : pos + 2000])
            return
        yield _item(obj, source, origin, text[pos:end])
        pos = _skip_space(text, end)
        if text[pos : pos + 1] == ",":
            pos = _skip_space(text, pos + 1)
            continue
        if text[pos : pos + 1] == "]" and not text[pos + 1 :].strip():
            return
        line += text.count("\n", counted, pos)
        counted = pos
        detail = f"expected ',' or the closing ']' of the array at line {line}; the rest cannot be read"
        yield LoadedItem(
            Origin(str(path), line), None, RecordError("unparsable_json", detail), text[pos : pos + 2000]
        )
        return


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _iter_table(path: Path, source: SourceConfig) -> Iterator[LoadedItem]:
    """Rows of a CSV, TSV or Parquet file, read like a `datasets` dataset's (`columns:` or the shape)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except (pa.ArrowException, OSError) as error:
            raise InputError(f"cannot read {path} as Parquet: {error}") from error
        first_line = 1  # Parquet has no lines: the origin is the 1-based row
    else:
        import pandas as pd

        try:
            frame = pd.read_csv(
                path,
                sep="\t" if suffix == ".tsv" else ",",
                dtype=str,
                keep_default_na=False,
                encoding=source.encoding or "utf-8-sig",
            )
        except UnicodeDecodeError as error:
            hint = encoding_hint(path.read_bytes()) if _is_utf8(source.encoding) else ""
            raise InputError(f"cannot read {path}: {error.reason} at byte {error.start}; {hint}") from error
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as error:
            raise InputError(f"cannot read {path} as {suffix[1:].upper()}: {error}") from error
        rows = frame.to_dict("records")
        first_line = 2  # after the header line (a quoted cell holding newlines shifts the lines below it)
    for number, row in enumerate(rows, start=first_line):
        yield _item(row, source, Origin(str(path), number), json.dumps(row, ensure_ascii=False, default=str))


def _iter_hf(source: SourceConfig) -> Iterator[LoadedItem]:
    name = source.hf or ""
    for split_name, dataset in _load_hf(source).items():
        file = f"{name}[{split_name}]"
        split = source.split or SPLIT_ALIASES.get(split_name.lower())  # others: the splitter's
        for row_no, row in enumerate(dataset):
            origin = Origin(file, row_no)
            try:
                record = to_record(dict(row), source, origin, dataset_split=split)
            except RecordError as error:
                raw = json.dumps(row, ensure_ascii=False, default=str)[:4000]
                yield LoadedItem(origin, None, error, raw, _own_id(row))
                continue
            yield LoadedItem(origin, record, None, "")


def _load_hf(source: SourceConfig) -> Mapping[str, Any]:
    """Load a dataset saved with `save_to_disk`, a folder of data files, or a hub dataset (online only)."""
    hint = "Offline, give a local copy (a folder saved with `save_to_disk`, or data files) as `hf:`"
    splits = load_splits(source.hf or "", source.hf_config, hint=hint)
    if source.hf_split is not None:
        if source.hf_split not in splits:
            raise InputError(
                f"dataset {source.hf!r} has no split {source.hf_split!r}; it has {sorted(splits)}"
            )
        splits = {source.hf_split: splits[source.hf_split]}
    return splits


def is_saved_dataset(folder: Path) -> bool:
    """A folder written by `save_to_disk` (read with `load_from_disk`, not `load_dataset`)."""
    return (folder / "dataset_info.json").exists() or (folder / "dataset_dict.json").exists()


def load_splits(name: str, config: str | None = None, *, hint: str, **load_kwargs: Any) -> dict[str, Any]:
    """Every split of a `datasets` dataset (saved folder, data-file builder, hub id); errors end in `hint`.

    `load_kwargs` go to `datasets.load_dataset` (e.g. `revision`, `data_dir`, `data_files`); the built-in
    corpora (`polyalign.corpora`) load their hub parts and local copies through here too.
    """
    import datasets

    try:
        if is_saved_dataset(Path(name)):
            loaded = datasets.load_from_disk(name)
        else:
            loaded = datasets.load_dataset(name, config, **load_kwargs)
    except (FileNotFoundError, ConnectionError, ValueError, OSError) as error:
        raise InputError(f"cannot load the datasets dataset {name!r}: {error}. {hint}") from error
    return {"train": loaded} if isinstance(loaded, datasets.Dataset) else dict(loaded)


def detect_shape(obj: Mapping[str, Any]) -> str:
    if "messages" in obj:
        return "polyalign" if "id" in obj and ("language" in obj or "family" in obj) else "messages"
    if "conversations" in obj:
        return "sharegpt"
    if "instruction" in obj and "output" in obj:
        return "alpaca"
    raise RecordError(
        "unknown_shape",
        f"cannot tell the format from the keys {sorted(obj)[:8]}: expected 'messages', 'conversations' "
        "or 'instruction'+'output' (or set `format: columns` with a column mapping)",
    )


def to_record(obj: Any, source: SourceConfig, origin: Origin, *, dataset_split: str | None = None) -> Record:
    """Convert one parsed input object to a Record, filling what it lacks from the source defaults."""
    if not isinstance(obj, dict):
        raise RecordError("schema", f"expected a JSON object, got {type(obj).__name__}")
    shape = source.format
    if shape == "auto":
        shape = "columns" if source.columns else detect_shape(obj)
    return _apply_defaults(_ADAPTERS[shape](obj, source), source, origin, dataset_split)


def _apply_defaults(
    record: Record, source: SourceConfig, origin: Origin, dataset_split: str | None
) -> Record:
    default_source = source.source or Path(origin.file.split("[")[0]).stem
    if record.source == "unknown" or not record.source:
        record.source = default_source
    if not record.id:
        record.id = f"{record.source}:{Path(origin.file).name}:{origin.line}"
    record.language = record.language or source.language
    record.track = record.track or source.track
    record.family = record.family or source.family
    existing = source.split or record.split or record.meta.get("split") or dataset_split
    record.split = None if existing is None else str(existing)  # as found: prepare maps the name
    record.meta["input"] = str(origin)
    return record


def _new_record(obj: Mapping[str, Any], turns: list[Message], **fields: Any) -> Record:
    """A record from loosely shaped turns: consecutive turns of one speaker are joined with a newline,
    and `meta.merged_turns` says how many were joined."""
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise RecordError("schema", "'meta' must be an object")
    merged: list[Message] = []
    for turn in turns:
        if merged and merged[-1].role == turn.role:
            merged[-1] = Message(turn.role, merged[-1].content + "\n" + turn.content)
        else:
            merged.append(turn)
    if len(merged) < len(turns):
        meta = {**meta, "merged_turns": len(turns) - len(merged)}  # counted in prepare's accounting
    record = Record(
        id=_optional_str(obj.get("id"), "id") or "",
        source=_optional_str(obj.get("source"), "source") or "unknown",
        language=_optional_str(obj.get("language"), "language"),
        track=_optional_str(obj.get("track"), "track"),
        family=_optional_str(obj.get("family"), "family"),
        messages=tuple(merged),
        meta=dict(meta),
        **fields,
    )
    validate_messages(record.messages)
    return record


def _optional_str(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise RecordError("schema", f"field '{name}' must be a string, got {type(value).__name__}")


def _from_messages(obj: Mapping[str, Any], source: SourceConfig) -> Record:
    return _new_record(obj, list(parse_messages(obj["messages"])), split=obj.get("split"))


def _from_sharegpt(obj: Mapping[str, Any], source: SourceConfig) -> Record:
    turns = obj["conversations"]
    if not isinstance(turns, list) or not turns:
        raise RecordError("schema", "'conversations' must be a non-empty list")
    messages = [Message("system", _require_str(obj["system"], "system"))] if obj.get("system") else []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            raise RecordError("schema", f"conversations[{i}] must be an object with 'from' and 'value'")
        role = SHAREGPT_ROLES.get(str(turn["from"]).lower())
        if role is None:
            raise RecordError(
                "wrong_role_order",
                f"conversations[{i}] has speaker {turn['from']!r}; known: {sorted(SHAREGPT_ROLES)}",
            )
        messages.append(Message(role, _require_str(turn["value"], f"conversations[{i}].value")))
    return _new_record(obj, messages, split=obj.get("split"))


def _from_alpaca(obj: Mapping[str, Any], source: SourceConfig) -> Record:
    messages = [Message("system", _require_str(obj["system"], "system"))] if obj.get("system") else []
    messages += _history_turns(obj.get("history"))
    instruction = _require_str(obj["instruction"], "instruction")
    extra = obj.get("input") or ""
    user = f"{instruction}\n\n{_require_str(extra, 'input')}" if extra else instruction
    messages += [Message("user", user), Message("assistant", _require_str(obj["output"], "output"))]
    return _new_record(obj, messages, split=obj.get("split"))


def _from_columns(obj: Mapping[str, Any], source: SourceConfig) -> Record:
    """Map dataset columns to record fields (`source.columns`: field -> column)."""
    mapping = source.columns
    unknown = set(mapping) - set(COLUMN_FIELDS)
    if unknown:
        raise RecordError(
            "schema", f"column mapping has unknown field(s) {sorted(unknown)}; use {COLUMN_FIELDS}"
        )
    missing = [column for column in mapping.values() if column not in obj]
    if missing:
        raise RecordError("schema", f"row has no column(s) {missing}; it has {sorted(obj)}")
    values = {name: obj[column] for name, column in mapping.items()}
    if "messages" in values:
        record = _from_messages({**values, "messages": values["messages"]}, source)
    elif "conversations" in values:
        record = _from_sharegpt(values, source)
    else:
        if "prompt" not in values or "response" not in values:
            raise RecordError("schema", "a column mapping needs 'prompt' and 'response' (or 'messages')")
        prompt = _require_str(values["prompt"], "prompt")
        context = values.get("context") or ""
        user = f"{_require_str(context, 'context')}\n\n{prompt}" if context else prompt
        messages = (
            [Message("system", _require_str(values["system"], "system"))] if values.get("system") else []
        )
        messages += _history_turns(values.get("history"))
        messages += [
            Message("user", user),
            Message("assistant", _require_str(values["response"], "response")),
        ]
        record = _new_record(values, messages, split=values.get("split"))
    if values.get("group") is not None:
        record.group = str(values["group"])
    return record


def _history_turns(history: Any) -> list[Message]:
    """Alpaca-style history: a list of [user, assistant] pairs, oldest first."""
    if not history:
        return []
    if not isinstance(history, list):
        raise RecordError("schema", "'history' must be a list of [user, assistant] pairs")
    turns = []
    for i, pair in enumerate(history):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise RecordError("schema", f"history[{i}] must be a [user, assistant] pair")
        turns += [
            Message("user", _require_str(pair[0], "history")),
            Message("assistant", _require_str(pair[1], "history")),
        ]
    return turns


def _require_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise RecordError("schema", f"'{name}' must be a string, got {type(value).__name__}")
    return value


_ADAPTERS = {
    "polyalign": lambda obj, source: Record.from_dict(obj),
    "messages": _from_messages,
    "sharegpt": _from_sharegpt,
    "alpaca": _from_alpaca,
    "columns": _from_columns,
}
