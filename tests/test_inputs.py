"""Inputs people actually have (BOM, JSON arrays, other encodings, tables), values checked up front, split
names, and exit codes that scripts can trust (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyalign.cli import app
from polyalign.data.config import PrepareConfig, SourceConfig, SplitConfig
from polyalign.data.prepare import prepare_stage
from polyalign.data.sources import iter_source
from polyalign.errors import ConfigError

runner = CliRunner()
EN = [(f"What is the answer to question {i}?", f"The answer to question {i} is here.") for i in range(40)]
ZH = [(f"第{i}个问题的答案是什么？", f"第{i}个问题的答案在这里。") for i in range(40)]


def _chat(user: str, assistant: str, **extra: object) -> dict:
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    } | extra


def _jsonl(path: Path, rows: list[dict], encoding: str = "utf-8", bom: bool = False) -> Path:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def _prepare(tmp_path: Path, *sources: SourceConfig, **options: object) -> dict:
    config = PrepareConfig(sources=list(sources), **options)  # type: ignore[arg-type]
    return prepare_stage(config, root=tmp_path, out=tmp_path / "out", progress=False).manifest


def _items(source: SourceConfig) -> list:
    return list(iter_source(source))


def test_a_utf8_bom_costs_no_record(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "bom.jsonl", [_chat(*EN[0]), _chat(*EN[1])], bom=True)
    items = _items(SourceConfig(path=str(path), family="open_chat"))
    assert [item.error for item in items] == [None, None]


def test_a_json_array_file_is_read_element_by_element(tmp_path: Path) -> None:
    rows = [{"instruction": q, "input": "", "output": a} for q, a in EN[:3]]
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8-sig")  # with a BOM too
    items = _items(SourceConfig(path=str(path), family="assistant_like"))
    assert [item.error for item in items] == [None] * 3
    assert [item.origin.line for item in items] == [2, 7, 12]  # where each element starts
    assert items[1].record.messages[0].content == EN[1][0]

    broken = tmp_path / "broken.json"
    broken.write_text('[\n {"instruction": "a", "output": "b"},\n {"instruction": "c" "output": "d"}\n]\n')
    first, second = _items(SourceConfig(path=str(broken), family="assistant_like"))
    assert first.error is None and second.origin.line == 3 and second.error.reason == "unparsable_json"
    assert "Expecting ',' delimiter at line 3 column" in second.error.detail


@pytest.mark.parametrize(
    ("encoding", "text", "hint"),
    [("gb18030", "第一个问题的答案是什么？", "gb18030"), ("cp1252", "Qu’est-ce qu’un café naïf ?", "cp1252")],
)
def test_bytes_that_are_not_utf8_name_the_encoding(
    tmp_path: Path, encoding: str, text: str, hint: str
) -> None:
    path = _jsonl(tmp_path / "x.jsonl", [_chat(text, text + " answer")], encoding=encoding)
    (item,) = _items(SourceConfig(path=str(path), family="open_chat"))
    assert item.error.reason == "invalid_utf8"
    assert f"set `encoding: {hint}` on this source" in item.error.detail
    (item,) = _items(SourceConfig(path=str(path), family="open_chat", encoding=encoding))
    assert item.error is None and item.record.messages[0].content == text


def test_csv_tsv_and_parquet_through_the_column_mapping(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"qid": ["1", "2"], "question": [q for q, _ in EN[:2]], "answer": ["42", EN[1][1]]})
    frame.to_csv(tmp_path / "t.csv", index=False, encoding="utf-8-sig")
    frame.to_csv(tmp_path / "t.tsv", index=False, sep="\t")
    frame.to_parquet(tmp_path / "t.parquet")
    columns = {"id": "qid", "prompt": "question", "response": "answer"}
    for name, first_line in (("t.csv", 2), ("t.tsv", 2), ("t.parquet", 1)):
        items = _items(SourceConfig(path=str(tmp_path / name), columns=columns, family="qa_search"))
        assert [item.error for item in items] == [None, None], name
        assert items[0].origin.line == first_line and items[0].record.id == "1"
        assert items[0].record.response == "42"  # a CSV cell stays text
    alpaca = pd.DataFrame({"instruction": ["Say hi"], "input": [""], "output": ["Hi there"]})
    alpaca.to_csv(tmp_path / "alpaca.csv", index=False)
    (item,) = _items(SourceConfig(path=str(tmp_path / "alpaca.csv"), family="assistant_like"))
    assert item.record.messages[0].content == "Say hi"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"track": "triple"}, "source track 'triple' must be one of ['single', 'multi']"),
        ({"family": "chat"}, "source family 'chat' must be one of ['open_chat'"),
        ({"encoding": "klingon"}, "not a known codec"),
    ],
)
def test_source_values_are_checked_with_the_allowed_list(fields: dict, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[")):
        SourceConfig(path="x.jsonl", **fields)


def test_a_language_the_filters_drop_fails_before_any_reading(tmp_path: Path) -> None:
    missing = SourceConfig(path=str(tmp_path / "absent.jsonl"), language="fr")  # never read
    with pytest.raises(ConfigError, match=r"source language 'fr' is not one of filters.languages"):
        _prepare(tmp_path, missing)


def test_a_given_language_that_detection_contradicts_is_a_warning(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "zh.jsonl", [_chat(*pair) for pair in ZH])
    manifest = _prepare(tmp_path, SourceConfig(path=str(path), language="en", family="open_chat"))
    (warning,) = manifest["warnings"]
    assert "40 of 40 records with a given language read as another: given en, detected zh × 40" in warning
    assert f"(e.g. {path}:1)" in warning


def test_split_aliases_names_and_unknown_names(tmp_path: Path) -> None:
    names = ["validation", "dev", "testing", "valid_freq", "test_rare"]
    rows = [_chat(*EN[i], meta={"split": names[i % 5]}) for i in range(40)]
    path = _jsonl(tmp_path / "s.jsonl", rows)
    source = SourceConfig(path=str(path), family="open_chat", language="en")
    with pytest.raises(ConfigError) as raised:
        _prepare(tmp_path, source)
    message = str(raised.value)
    assert "'test_rare' × 8, 'valid_freq' × 8" in message and "    names:\n      test_rare: val" in message

    mapped = SplitConfig(names={"valid_freq": "val", "test_rare": "test"})
    manifest = _prepare(tmp_path, source, splits=mapped)
    assert manifest["counts"]["kept_by_split"] == {"train": 0, "val": 24, "test": 16}

    ignored = _prepare(tmp_path, source, splits=SplitConfig(respect_existing=False))
    assert ignored["counts"]["kept"] == 40
    assert any("'test_rare' × 8" in w and "respect_existing is false" in w for w in ignored["warnings"])


def test_quarantine_keeps_ids_and_merged_turns_are_counted(tmp_path: Path) -> None:
    rows = [_chat(*pair, id=f"r{i}") for i, pair in enumerate(EN[:30])]
    rows.append({"id": "bad", "messages": [{"role": "user", "content": 3}]})
    rows.append(
        {
            "id": "two-users",
            "conversations": [
                {"from": "human", "value": "First part of the question"},
                {"from": "human", "value": "and its second part?"},
                {"from": "gpt", "value": "One answer for both parts of the question."},
            ],
        }
    )
    path = _jsonl(tmp_path / "q.jsonl", rows)
    manifest = _prepare(tmp_path, SourceConfig(path=str(path), family="open_chat", language="en"))
    (rejection,) = [json.loads(x) for x in (tmp_path / "out" / "quarantine.jsonl").open(encoding="utf-8")]
    assert rejection["id"] == "bad"
    assert manifest["counts"]["merged_turns"] == 1


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"messages": "unterminated\n', "Unterminated string starting at column 14 (truncated"),
        ('{"messages": "a\tb"}\n', "Invalid control character at column 16 (a raw tab or newline"),
    ],
)
def test_json_error_texts_read_well(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(line, encoding="utf-8")
    (item,) = _items(SourceConfig(path=str(path)))
    assert item.error.detail.startswith(expected)


def test_nothing_kept_exits_1_with_the_top_reasons(tmp_path: Path, artifact_home: Path) -> None:
    path = _jsonl(tmp_path / "zh.jsonl", [_chat(*pair) for pair in ZH[:5]], encoding="gb18030")
    result = runner.invoke(app, ["prepare", str(path), "--family", "open_chat", "-o", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    assert (
        "0 of 5 input records kept" in result.output and f"invalid_utf8 × 5, e.g. {path}:1" in result.output
    )
    assert "set `encoding: gb18030`" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    result = runner.invoke(app, ["prepare", str(empty), "--family", "open_chat"])
    assert result.exit_code == 1 and "read no records" in result.output

    result = runner.invoke(app, ["prepare", str(path), "--track", "triple"])
    assert result.exit_code == 2 and "must be one of ['single', 'multi']" in result.output


def test_over_5_percent_rejected_warns_and_strict_fails(tmp_path: Path, artifact_home: Path) -> None:
    path = tmp_path / "some-bad.jsonl"
    _jsonl(path, [_chat(*pair) for pair in EN[:30]])
    with path.open("a", encoding="utf-8") as handle:
        handle.write("{broken\n{broken again\n")
    args = ["prepare", str(path), "--family", "open_chat", "--language", "en"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "30 of 32 input records kept" in result.output
    strict = runner.invoke(app, [*args, "--strict"])
    assert strict.exit_code == 1 and "unparsable_json × 2" in strict.output and "--strict" in strict.output


def test_a_folder_gives_its_input_files_and_a_json_file_may_hold_lines(tmp_path: Path) -> None:
    from polyalign.data.sources import resolve_paths

    for name in ("a.jsonl", "b.json", "c.csv", "d.tsv", "e.parquet", "notes.txt"):
        (tmp_path / name).write_text("", encoding="utf-8")
    assert [p.name for p in resolve_paths(str(tmp_path))] == [
        "a.jsonl",
        "b.json",
        "c.csv",
        "d.tsv",
        "e.parquet",
    ]
    lines = _jsonl(tmp_path / "lines.json", [_chat(*EN[0]), _chat(*EN[1])])
    assert [item.origin.line for item in _items(SourceConfig(path=str(lines)))] == [1, 2]
