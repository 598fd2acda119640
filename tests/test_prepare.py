from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from corruption import corrupt_copy

import polyalign
from polyalign.artifacts import Artifact
from polyalign.config import RunConfig, load_yaml_config
from polyalign.data import prepare
from polyalign.data.accounting import Ledger
from polyalign.data.config import PrepareConfig, SourceConfig, SplitConfig
from polyalign.data.fixture.generator import write_fixture_corpus
from polyalign.data.prepare import SPLIT_FILES, PreparedData, load_prepared, prepare_stage
from polyalign.data.splits import group_keys
from polyalign.errors import ConfigError, NothingUsable


def _all(data: Artifact[PreparedData]) -> list:
    return [r for records in data.content.splits.values() for r in records]


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fixture") / "fixture.jsonl"
    write_fixture_corpus(path, seed=0)
    return path


def test_default_run_on_fixture_writes_a_complete_artefact(tmp_path: Path) -> None:
    data = prepare_stage(
        PrepareConfig(sources=[SourceConfig(fixture=0)]), root=tmp_path, out=tmp_path / "out", progress=False
    )
    counts = data.manifest["counts"]
    assert counts["reconciles"] and counts["in"] == counts["kept"] + counts["duplicates"] + counts["rejected"]
    assert counts["duplicates"] > 0  # the fixture plants a few exact duplicates
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert names >= {
        *SPLIT_FILES.values(),
        "quarantine.jsonl",
        "duplicates.jsonl",
        "buckets.json",
        "bucket_report.md",
        "bucket_report.json",
        "manifest.json",
    }
    buckets = {r.bucket for r in _all(data)}
    assert len(buckets) == 2 * 2 * 5 * 4  # every language × track × family × length bin
    assert all(r.reference_bucket in (r.bucket, r.cell) for r in _all(data))
    assert data.content.report.rows and "sparse →" in (tmp_path / "out" / "bucket_report.md").read_text(
        encoding="utf-8"
    )
    reloaded = load_prepared(tmp_path / "out")
    assert reloaded.manifest == data.manifest
    assert [r.to_dict() for r in _all(reloaded)] == [r.to_dict() for r in _all(data)]


def test_same_key_reuses_the_artefact(tmp_path: Path) -> None:
    first = prepare_stage(
        PrepareConfig(sources=[SourceConfig(fixture=0)]), root=tmp_path / "root", progress=False
    )
    second = prepare_stage(
        PrepareConfig(sources=[SourceConfig(fixture=0)]), root=tmp_path / "root", progress=False
    )
    assert second.reused and not first.reused and second.folder == first.folder
    assert first.folder == tmp_path / "root" / "prepare" / first.key
    assert second.manifest == first.manifest and second.content.report == first.content.report


def test_splits_are_deterministic_and_seeded(fixture_file: Path, tmp_path: Path) -> None:
    def split_of(seed: int, out: str) -> dict[str, str]:
        config = PrepareConfig(sources=[SourceConfig(path=str(fixture_file))], splits=SplitConfig(seed=seed))
        return {
            r.id: r.split
            for r in _all(prepare_stage(config, root=tmp_path, out=tmp_path / out, progress=False))
        }

    assert split_of(3, "a") == split_of(3, "b")
    assert split_of(3, "a") != split_of(4, "c")


def test_no_group_or_shared_key_crosses_splits(fixture_file: Path, tmp_path: Path) -> None:
    config = PrepareConfig(sources=[SourceConfig(path=str(fixture_file))])
    records = _all(prepare_stage(config, root=tmp_path, out=tmp_path / "out", progress=False))
    split_by_group: dict[str, set[str]] = {}
    split_by_key: dict[str, set[str]] = {}
    for record in records:
        split_by_group.setdefault(record.group, set()).add(record.split)
        for key in group_keys(record, config.splits):
            split_by_key.setdefault(key, set()).add(record.split)
    assert all(len(s) == 1 for s in split_by_group.values())
    assert all(len(s) == 1 for s in split_by_key.values())  # conversations, passages, responses
    dialogues = {}
    for record in records:
        if "dialogue" in record.meta:
            dialogues.setdefault(record.meta["dialogue"], set()).add(record.split)
    assert dialogues and all(len(s) == 1 for s in dialogues.values())
    shares = Counter(r.split for r in records)
    assert 0.7 < shares["train"] / len(records) < 0.9


def test_existing_splits_are_respected(fixture_file: Path, tmp_path: Path) -> None:
    config = PrepareConfig(sources=[SourceConfig(path=str(fixture_file), split="test")])
    data = prepare_stage(config, root=tmp_path, out=tmp_path / "out", progress=False)
    assert {r.split for r in _all(data)} == {"test"}


def test_corrupted_fixture_keeps_every_valid_record(fixture_file: Path, tmp_path: Path) -> None:
    clean = prepare_stage(
        PrepareConfig(sources=[SourceConfig(path=str(fixture_file))]),
        root=tmp_path,
        out=tmp_path / "clean",
        progress=False,
    )
    planted = corrupt_copy([fixture_file], tmp_path / "bad")
    data = prepare_stage(
        PrepareConfig(sources=[SourceConfig(path=str(tmp_path / "bad"))]),
        root=tmp_path,
        out=tmp_path / "out",
        progress=False,
    )
    counts = data.manifest["counts"]
    assert counts["kept"] == clean.manifest["counts"]["kept"]
    assert {r.id for r in _all(data)} == {r.id for r in _all(clean)}
    assert counts["rejected_by_reason"] == {k: v for k, v in planted.items() if v}
    quarantine = [json.loads(line) for line in (tmp_path / "out" / "quarantine.jsonl").open(encoding="utf-8")]
    assert len(quarantine) == counts["rejected"]
    assert all(q["file"].endswith("fixture.jsonl") and q["line"] > 0 and q["detail"] for q in quarantine)
    assert max(len(q["raw"]) for q in quarantine) < 3_000  # the 10 MB line is kept as an excerpt


def test_bad_records_of_every_kind(tmp_path: Path) -> None:
    def conv(response: str, user: str = "What is this?") -> list[dict]:
        return [{"role": "user", "content": user}, {"role": "assistant", "content": response}]

    rows = [
        {"id": "ok", "messages": conv("A perfectly fine answer.")},
        {"id": "dup", "messages": conv("A   perfectly fine answer. ")},  # duplicate after normalisation
        {"id": "ok", "messages": conv("Same id, other text.")},
        {"id": "zw", "messages": conv("\u200b\u200b")},
        {
            "id": "fr",
            "messages": conv("Une réponse tout à fait correcte et bien écrite.", "Qu'est-ce que c'est?"),
        },
        {"id": "mix", "messages": conv("It is 一个非常好的答案 that you see", "这是什么 what is it")},
        {"id": "num", "messages": conv("42", "17 + 25")},
        {
            "id": "sys",
            "messages": [{"role": "system", "content": "Be brief."}, *conv("Sure thing, here it is.")],
        },
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    config = PrepareConfig(sources=[SourceConfig(path=str(path), family="open_chat")])
    data = prepare_stage(config, root=tmp_path, out=tmp_path / "out", progress=False)
    counts = data.manifest["counts"]
    assert counts["rejected_by_reason"] == {
        "duplicate_id": 1,
        "empty_response": 1,
        "mixed_language": 1,
        "unknown_language": 1,
        "unsupported_language": 1,
    }
    assert (counts["kept"], counts["duplicates"]) == (2, 1)
    kept = {r.id: r for r in _all(data)}
    assert kept["ok"].language == "en" and kept["ok"].track == "single"
    assert kept["sys"].messages[0].role == "system"
    duplicates = [json.loads(x) for x in (tmp_path / "out" / "duplicates.jsonl").open(encoding="utf-8")]
    assert duplicates == [{"file": str(path), "line": 2, "id": "dup", "duplicate_of": "ok"}]


def test_missing_family_is_rejected_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "Hello there friend"},
                    {"role": "assistant", "content": "Hi, how are you today?"},
                ]
            }
        )
        + "\n"
    )
    config = PrepareConfig(sources=[SourceConfig(path=str(path))])
    with pytest.raises(NothingUsable) as raised:  # nothing kept: the CLI exits 1, nothing is written
        prepare_stage(config, root=tmp_path, out=tmp_path / "out", progress=False)
    message = str(raised.value)
    assert "0 of 1 input records kept" in message and f"missing_family × 1, e.g. {path}:1" in message
    assert "buckets.families" in message and not (tmp_path / "out").exists()


def test_quantile_edges_are_fitted_on_train(fixture_file: Path, tmp_path: Path) -> None:
    config = PrepareConfig(sources=[SourceConfig(path=str(fixture_file))])
    config.buckets.edges = "quantile"
    data = prepare_stage(config, root=tmp_path, out=tmp_path / "out", progress=False)
    buckets = json.loads((tmp_path / "out" / "buckets.json").read_text(encoding="utf-8"))
    assert set(buckets["edges"]) == {"en", "zh"} and buckets["edges"]["en"] != [40, 120, 240]
    train = [r for r in data.content.splits["train"] if r.language == "en"]
    shares = Counter(r.length_bin for r in train)
    assert all(abs(shares[b] / len(train) - 0.25) < 0.1 for b in ("short", "medium", "long", "xlong"))


def test_family_coarsening(fixture_file: Path, tmp_path: Path) -> None:
    from polyalign.data.buckets import PAPER_COARSE_FAMILIES

    config = PrepareConfig(sources=[SourceConfig(path=str(fixture_file))])
    config.buckets.coarsen = dict(PAPER_COARSE_FAMILIES)
    data = prepare_stage(config, root=tmp_path, out=tmp_path / "out", progress=False)
    assert {r.family for r in _all(data)} == {"assistant", "qa", "dialogue"}


def test_sources_must_name_an_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"prepare.sources is empty: .*\{fixture: 0\}"):
        prepare_stage(PrepareConfig(), root=tmp_path)
    twice = PrepareConfig(sources=[SourceConfig(fixture=0), SourceConfig(fixture=1)])
    with pytest.raises(ConfigError, match="more than one fixture source"):
        prepare_stage(twice, root=tmp_path)
    with pytest.raises(ConfigError, match=r"labels its own records; remove \['language'\]"):
        SourceConfig(fixture=0, language="en")
    with pytest.raises(ConfigError, match="exactly one of"):
        SourceConfig(fixture=0, path="x.jsonl")


def test_the_offline_default_prepares_the_demo_source(tmp_path: Path) -> None:
    config = load_yaml_config(RunConfig, Path(polyalign.__file__).parent / "defaults" / "offline.yaml")
    assert [s.demo for s in config.prepare.sources] == [0]
    records = prepare.collect_records(config.prepare, Ledger(), progress=False)
    assert records[0].meta["input"] == "<demo seed=0>:1" and records[0].meta["synthetic"]
