from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyalign.data.records import Message, Record, RecordError, read_records, write_records
from polyalign.errors import InputError


def _record(**overrides: object) -> dict:
    data = {
        "id": "x:1",
        "source": "unit",
        "language": "en",
        "track": "multi",
        "family": "open_chat",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi there"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "How are you?"},
            {"role": "assistant", "content": "Fine, thanks. 你呢？"},
        ],
        "meta": {"nested": {"a": [1, 2]}, "note": "ünïcödé"},
    }
    data.update(overrides)
    return data


def test_round_trip_is_lossless(tmp_path: Path) -> None:
    original = Record.from_dict(_record(split="train", length_units=5, length_bin="short"))
    path = tmp_path / "r.jsonl"
    write_records(path, [original])
    (loaded,) = read_records(path)
    assert loaded == original
    assert loaded.to_dict() == _record(split="train", length_units=5, length_bin="short")
    assert "你呢" in path.read_text(encoding="utf-8")  # written as UTF-8, not \u escapes


def test_properties() -> None:
    record = Record.from_dict(_record())
    assert record.response == "Fine, thanks. 你呢？"
    assert record.n_user_turns == 2
    assert record.cell == "en|multi|open_chat"
    assert record.prompt_messages[-1] == Message("user", "How are you?")


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}], "wrong_role_order"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "wrong_role_order"),
        ([{"role": "user", "content": "a"}], "wrong_role_order"),
        ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "  "}], "empty_response"),
        ([{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}], "wrong_role_order"),
        ([{"role": "system", "content": "s"}], "wrong_role_order"),
        ([], "schema"),
        ([{"role": "user"}], "schema"),
    ],
)
def test_invalid_conversations_name_their_reason(messages: list, reason: str) -> None:
    with pytest.raises(RecordError) as caught:
        Record.from_dict(_record(messages=messages))
    assert caught.value.reason == reason


def test_unknown_field_and_missing_id_are_schema_errors() -> None:
    with pytest.raises(RecordError, match="unknown field"):
        Record.from_dict(_record(colour="red"))
    data = _record()
    del data["id"]
    with pytest.raises(RecordError, match="missing field 'id'"):
        Record.from_dict(data)


def test_read_records_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_record()) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:2: not valid JSON"):
        list(read_records(path))
    path.write_text(json.dumps(_record()) + "\n" + json.dumps({**_record(), "messages": []}) + "\n")
    with pytest.raises(InputError, match=r"bad\.jsonl:2: .*messages"):
        list(read_records(path))


def test_cell_needs_a_labelled_record() -> None:
    record = Record.from_dict({**_record(), "language": None})
    with pytest.raises(RecordError, match="no language, track or family"):
        _ = record.cell
