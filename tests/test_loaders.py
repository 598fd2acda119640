from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyalign.data.config import SourceConfig
from polyalign.data.sources import iter_source, resolve_paths
from polyalign.errors import InputError


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _records(source: SourceConfig) -> list:
    items = list(iter_source(source))
    assert all(item.error is None for item in items), [str(item.error) for item in items]
    return [item.record for item in items]


def test_messages_shape_with_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "chat.jsonl",
        [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}],
    )
    (record,) = _records(SourceConfig(path=str(path), language="en", family="open_chat", source="mychat"))
    assert (record.id, record.source, record.language, record.family) == (
        "mychat:chat.jsonl:1",
        "mychat",
        "en",
        "open_chat",
    )
    assert record.track is None  # derived later from the user turns
    assert record.meta["input"] == f"{path}:1"


def test_sharegpt_shape_merges_consecutive_turns(tmp_path: Path) -> None:
    row = {
        "id": "sg-1",
        "system": "You are helpful.",
        "conversations": [
            {"from": "human", "value": "Hello"},
            {"from": "human", "value": "Are you there?"},
            {"from": "gpt", "value": "Yes."},
        ],
    }
    (record,) = _records(SourceConfig(path=str(_write(tmp_path / "sg.jsonl", [row]))))
    assert [(m.role, m.content) for m in record.messages] == [
        ("system", "You are helpful."),
        ("user", "Hello\nAre you there?"),
        ("assistant", "Yes."),
    ]


def test_alpaca_shape_with_history(tmp_path: Path) -> None:
    row = {"instruction": "Translate", "input": "bonjour", "output": "hello", "history": [["hi", "hey"]]}
    (record,) = _records(SourceConfig(path=str(_write(tmp_path / "a.jsonl", [row]))))
    assert [(m.role, m.content) for m in record.messages] == [
        ("user", "hi"),
        ("assistant", "hey"),
        ("user", "Translate\n\nbonjour"),
        ("assistant", "hello"),
    ]


def test_project_schema_keeps_the_split_name_as_found(tmp_path: Path) -> None:
    row = {
        "id": "p1",
        "source": "s",
        "language": "zh",
        "track": "single",
        "family": "qa_search",
        "messages": [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}],
        "meta": {"split": "validation"},
    }
    (record,) = _records(SourceConfig(path=str(_write(tmp_path / "p.jsonl", [row]))))
    assert record.split == "validation"  # prepare maps it (aliases, `splits.names`)


def test_every_line_yields_exactly_one_item(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    path.write_bytes(
        (good + "\n\n" + good[:20] + "\n").encode() + b"\xff\xfe\x00garbage\n" + b'{"foo": 1}\n' + b"[1, 2]\n"
    )
    items = list(iter_source(SourceConfig(path=str(path))))
    assert [item.origin.line for item in items] == [1, 3, 4, 5, 6]  # line 2 is blank: no record
    assert [item.error.reason if item.error else "ok" for item in items] == [
        "ok",
        "unparsable_json",
        "binary_data",
        "unknown_shape",
        "schema",
    ]


def test_resolve_paths_errors_when_nothing_matches(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no input files match"):
        resolve_paths(str(tmp_path / "nothing*.jsonl"))


def test_hf_dataset_through_a_column_mapping(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    data = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {
                    "qid": ["a", "b"],
                    "passage": ["Paris is the capital of France.", ""],
                    "question": ["What is the capital of France?", "Say hi"],
                    "answer": ["Paris", "hi"],
                }
            ),
            "validation": datasets.Dataset.from_dict(
                {
                    "qid": ["c"],
                    "passage": [""],
                    "question": ["2+2?"],
                    "answer": [""],
                }
            ),
        }
    )
    folder = tmp_path / "saved"
    data.save_to_disk(str(folder))
    source = SourceConfig(
        hf=str(folder),
        columns={"id": "qid", "context": "passage", "prompt": "question", "response": "answer"},
        language="en",
        family="qa_search",
    )
    items = list(iter_source(source))
    assert [item.origin.line for item in items] == [0, 1, 0]
    first, second, third = items
    assert (
        first.record.messages[0].content
        == "Paris is the capital of France.\n\nWhat is the capital of France?"
    )
    assert (first.record.id, first.record.split, second.record.split) == ("a", "train", "train")
    assert third.error is not None and third.error.reason == "empty_response"
    assert third.origin.file.endswith("[validation]")


def test_missing_hf_dataset_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    source = SourceConfig(hf=str(tmp_path / "not-there"), columns={"prompt": "q", "response": "a"})
    with pytest.raises(InputError, match="cannot load the datasets dataset"):
        list(iter_source(source))


@pytest.mark.parametrize("source", [SourceConfig(corpus="dolly"), SourceConfig(fixture=0)])
def test_sources_reads_files_and_datasets_only(source: SourceConfig) -> None:
    """Corpora and the fixture have their own readers (prepare dispatches); sources never imports them."""
    with pytest.raises(InputError, match="neither a JSONL `path` nor an `hf` dataset"):
        list(iter_source(source))
