"""The one stage seam (`run_stage`) and the one JSONL reader/writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyalign import artifacts
from polyalign.errors import InputError, PolyAlignError


def _build(calls: list[Path]):
    def build(target: Path) -> dict[str, object]:
        calls.append(target)
        (target / "data.txt").write_text("hello", encoding="utf-8")
        return {"rows": 1}

    return build


def _load(folder: Path) -> str:
    return (folder / "data.txt").read_text(encoding="utf-8")


def test_stage_builds_once_then_reuses_and_writes_the_manifest_last(tmp_path: Path) -> None:
    calls: list[Path] = []
    folder = tmp_path / "stage" / "k1"
    first = artifacts.run_stage("demo", 3, "k1", folder, _build(calls), _load, parents={"up": "k0"})
    assert (first.content, first.reused, first.key) == ("hello", False, "k1")
    assert calls[0] != folder and calls[0].parent == folder.parent  # built in a staging folder beside it
    manifest = artifacts.read_manifest(folder)
    assert (manifest["stage"], manifest["stage_version"], manifest["rows"]) == ("demo", 3, 1)
    assert manifest["parents"] == {"up": "k0"}
    again = artifacts.run_stage("demo", 3, "k1", folder, _build(calls), _load)
    assert again.reused and again.content == "hello" and len(calls) == 1
    assert sorted(p.name for p in folder.parent.iterdir()) == ["k1"]  # no staging folder left behind


def test_stage_rebuilds_another_key_and_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "k"
    calls: list[Path] = []
    artifacts.run_stage("demo", 1, "old", folder, _build(calls), _load)
    artifacts.run_stage("demo", 1, "new", folder, _build(calls), _load)
    assert len(calls) == 2 and artifacts.read_manifest(folder)["key"] == "new"

    def broken(target: Path) -> dict[str, object]:
        (target / "half.txt").write_text("x", encoding="utf-8")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        artifacts.run_stage("demo", 1, "other", tmp_path / "b", broken, _load)
    assert not (tmp_path / "b").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".b")]


def test_in_place_stage_is_incomplete_until_its_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "train"
    seen: list[bool] = []

    def build(target: Path) -> dict[str, object]:
        seen.append(artifacts.is_complete(target))
        (target / "data.txt").write_text("hello", encoding="utf-8")
        return {}

    artifacts.run_stage("train", 1, "a", folder, build, _load, in_place=True)
    artifacts.run_stage("train", 1, "b", folder, build, _load, in_place=True)
    assert seen == [False, False]  # the old manifest is gone while the folder is rebuilt
    assert artifacts.read_manifest(folder)["key"] == "b"


def test_jsonl_round_trip_and_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    assert artifacts.write_jsonl(path, [{"id": "a", "text": "中文"}, {"id": "b"}]) == 2
    assert "中文" in path.read_text(encoding="utf-8")  # not ASCII-escaped
    assert [row["id"] for row in artifacts.read_jsonl(path)] == ["a", "b"]
    path.write_text(json.dumps({"id": "a"}) + "\n\n[1]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"rows\.jsonl:3: expected a JSON object, got list"):
        list(artifacts.read_jsonl(path))
    path.write_text('{"id": "a"}\n{"id": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"rows\.jsonl:2: not valid JSON"):
        list(artifacts.read_jsonl(path))

    def needs_text(row: dict[str, object]) -> str:
        if "text" not in row:
            raise ValueError("missing 'text'")
        return str(row["text"])

    path.write_text('{"text": "x"}\n{"id": 1}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"rows\.jsonl:2: missing 'text'"):
        list(artifacts.read_jsonl(path, needs_text))


def test_only_an_empty_folder_or_the_same_stage_is_replaced(tmp_path: Path) -> None:
    """A user's folder, a file or another stage's artefact is refused and left as it was."""
    calls: list[Path] = []
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep", encoding="utf-8")
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep", encoding="utf-8")
    other = tmp_path / "other"
    artifacts.run_stage("other", 1, "k", other, _build(calls), _load)
    for folder, message in (
        (mine, "a folder PolyAlign did not write"),
        (a_file, "exists and is not a folder"),
        (other, "a PolyAlign 'other' artefact"),
        (a_file / "below", "cannot create the folder"),
    ):
        for in_place in (False, True):
            with pytest.raises(PolyAlignError, match=message) as refused:
                artifacts.run_stage("demo", 1, "k2", folder, _build(calls), _load, in_place=in_place)
            assert "another --out" in str(refused.value)
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "keep" and len(calls) == 1
    assert a_file.read_text(encoding="utf-8") == "keep" and artifacts.read_manifest(other)["stage"] == "other"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "mine", "other"]  # no staging left

    empty = tmp_path / "empty"
    empty.mkdir()
    assert not artifacts.run_stage("demo", 1, "k", empty, _build(calls), _load).reused


def test_an_incomplete_artefact_of_the_same_stage_is_replaced(tmp_path: Path) -> None:
    """The marker, written before any build file, makes a crashed build recognisably ours."""
    folder = tmp_path / "train"

    def crash(target: Path) -> dict[str, object]:
        (target / "checkpoint").write_text("step 1", encoding="utf-8")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        artifacts.run_stage("train", 1, "k", folder, crash, _load, in_place=True)
    assert not artifacts.is_complete(folder) and artifacts.stage_of(folder) == "train"
    with pytest.raises(PolyAlignError, match="'train' artefact"):
        artifacts.run_stage("generate", 1, "k", folder, _build([]), _load)
    assert artifacts.run_stage("train", 1, "k", folder, _build([]), _load).content == "hello"
    assert not (folder / "checkpoint").exists()  # replaced atomically, not merged
