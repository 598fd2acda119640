"""Built-in corpus recipes: native rows → records and drops, local copies, prepare, CLI and the offline path.

Everything runs offline on invented rows in each corpus's native shape (`test_corpora_native_rows.py`).
"""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import json
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from test_corpora_native_rows import NATIVE, Case
from typer.testing import CliRunner

from polyalign.cli import app
from polyalign.cli.console import console
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.corpora import (
    GROUPS,
    adapt_rows,
    corpus_sources,
    expand_corpus_names,
    get_recipe,
    iter_corpus,
    list_recipes,
)
from polyalign.data.corpora.load import OFFLINE_SWITCHES, _split_of, local_files, part_dir
from polyalign.data.corpora.recipe import CorpusRecipe, HubPart
from polyalign.data.prepare import prepare_stage
from polyalign.errors import ConfigError, InputError

datasets = pytest.importorskip("datasets")
runner = CliRunner()
MULTI_TURN = ("dailydialog", "multiwoz", "coqa", "oasst2_zh")


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`datasets` writes its Arrow cache under the test's temporary folder, not the user's cache."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")


def _part(recipe: CorpusRecipe, config: str | None) -> HubPart:
    return next(p for p in recipe.parts if config is None or p.config == config)


def _items(name: str, case: Case | None = None) -> list:
    recipe, case = get_recipe(name), case or NATIVE[name]
    return list(adapt_rows(recipe, _part(recipe, case.part), case.split, case.rows, f"{name}-rows"))


def _observed(items: list) -> list[tuple]:
    out = []
    for item in items:
        if item.error is not None:
            out.append(("drop", item.error.reason))
        else:
            record = item.record
            assert record.id.endswith(f":{record.meta['hub_split']}:{record.meta['native_id']}")
            out.append(("keep", record.meta["native_id"], [(m.role, m.content) for m in record.messages]))
    return out


# -- the registry ------------------------------------------------------------------------------------------


def test_the_fourteen_corpora_and_their_groups() -> None:
    names = [r.name for r in list_recipes()]
    assert len(names) == len(set(names)) == 14
    assert len(GROUPS["paper-en"]) == 8 and len(GROUPS["paper-zh"]) == 6
    assert list(GROUPS["paper"]) == names
    assert expand_corpus_names("paper-en,dolly") == list(GROUPS["paper-en"])
    assert expand_corpus_names(" squad_v2 , paper-zh") == ["squad_v2", *GROUPS["paper-zh"]]
    with pytest.raises(
        ConfigError, match=r"unknown corpus 'dolyl'\. Did you mean dolly\?.*Available: paper-en"
    ):
        expand_corpus_names("dolyl")
    with pytest.raises(ConfigError, match="Available"):
        get_recipe("squad")


def test_every_registered_corpus_has_native_rows() -> None:
    assert set(NATIVE) == {r.name for r in list_recipes()}


def test_a_recipe_refuses_an_impossible_cell() -> None:
    recipe = get_recipe("dolly")
    with pytest.raises(ValueError, match="family 'chit_chat'"):
        dataclasses.replace(recipe, family="chit_chat")
    with pytest.raises(ValueError, match="must say how dialogues are cut"):
        dataclasses.replace(recipe, track="multi")


# -- native rows → records ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_recipe_turns_native_rows_into_records_and_drops(name: str) -> None:
    recipe, case = get_recipe(name), NATIVE[name]
    items = _items(name)
    assert _observed(items) == case.expected
    part = _part(recipe, case.part)
    for item in items:
        if item.error is not None:
            code = item.error.reason.removeprefix("dropped_")
            assert code in recipe.drops and item.error.detail.startswith(f"{name} ")
            assert item.raw  # the native row is kept for the quarantine file
            continue
        record = item.record
        assert (record.source, record.language, record.track) == (name, recipe.language, recipe.track)
        assert record.family == (part.family or recipe.family)
        assert record.split == recipe.splits[case.split]
        assert record.meta["group"].startswith(f"{name}:") and record.meta["hub_split"] == case.split
        assert record.meta["input"].startswith(f"{name}-rows:")


@pytest.mark.parametrize("name", MULTI_TURN)
def test_multi_turn_history_never_holds_a_later_turn(name: str) -> None:
    records = [item.record for item in _items(name) if item.record is not None]
    dialogues = defaultdict(list)
    for record in records:
        dialogues[record.meta["dialogue"]].append(record)
    assert any(len(members) > 1 for members in dialogues.values())
    for members in dialogues.values():
        assert len({r.meta["group"] for r in members}) == 1
        members.sort(key=lambda r: r.meta["target_turn"])
        turns = [r.meta["target_turn"] for r in members]
        assert turns == sorted(set(turns))
        for earlier, later in itertools.pairwise(members):
            # the earlier record is a strict prefix of the later one: its history holds only earlier turns
            assert later.messages[: len(earlier.messages)] == earlier.messages
            assert len(later.messages) > len(earlier.messages)


def test_row_numbered_dialogues_are_keyed_per_split() -> None:
    validation = dataclasses.replace(NATIVE["dailydialog"], split="validation")
    train = {i.record.meta["dialogue"] for i in _items("dailydialog") if i.record is not None}
    val = {i.record.meta["dialogue"] for i in _items("dailydialog", validation) if i.record is not None}
    assert train == {"dailydialog:train:0", "dailydialog:train:3"} and not train & val


def test_passage_questions_share_their_passage_group() -> None:
    drcd = [i.record for i in _items("drcd") if i.record is not None]
    assert len({r.meta["group"] for r in drcd}) == 1  # one article
    assert all(r.meta["has_context"] and r.meta["question"] for r in drcd)
    squad = _items("squad_v2")[0].record
    assert squad.meta["question"] == "When was the lighthouse built?" and squad.meta["title"] == "Lighthouses"


def test_coig_cqia_family_follows_the_subset() -> None:
    case = dataclasses.replace(NATIVE["coig_cqia"], part="wiki")
    zhihu = [i.record for i in _items("coig_cqia") if i.record is not None]
    wiki = [i.record for i in _items("coig_cqia", case) if i.record is not None]
    assert {r.family for r in zhihu} == {"longform_qa"} and {r.family for r in wiki} == {"assistant_like"}
    assert {r.meta["subset"] for r in wiki} == {"wiki"} and wiki[0].meta["answer_from"] == "human"


def test_a_missing_native_field_is_quarantined_with_its_name() -> None:
    row = {k: v for k, v in NATIVE["squad_v2"].rows[0].items() if k != "question"}
    (item,) = _items("squad_v2", dataclasses.replace(NATIVE["squad_v2"], rows=[row]))
    assert item.error.reason == "schema" and "'question'" in item.error.detail


def test_an_undeclared_drop_is_a_bug_not_a_silent_loss() -> None:
    recipe = dataclasses.replace(get_recipe("squad_v2"), drops={})
    case = NATIVE["squad_v2"]
    with pytest.raises(RuntimeError, match="does not declare"):
        list(adapt_rows(recipe, recipe.parts[0], case.split, case.rows, "rows"))


def test_corpus_sources_keep_their_own_labels() -> None:
    source = SourceConfig(corpus="dolly", from_dir="/nowhere", family="open_chat")
    with pytest.raises(ConfigError, match="labels its own records"):
        list(iter_corpus(source))


# -- local copies in the hub's layout -----------------------------------------------------------------------


def _write_split(folder: Path, split: str, rows: list[dict], converted: bool) -> None:
    """One split as the hub stores it: `data/<split>-00000-of-00001.parquet`, or the parquet export's
    `<config>/<split>/0000.parquet` (the folder is the config there)."""
    path = (
        folder / split / "0000.parquet" if converted else folder / "data" / f"{split}-00000-of-00001.parquet"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows).to_parquet(str(path))


def _coig_filler(subset: str) -> dict:
    row = dict(NATIVE["coig_cqia"].rows[4])
    return {
        **row,
        "instruction": f"介绍一下{subset}这个子集。",
        "output": f"{subset}是示例子集，内容为虚构。",
    }


@pytest.fixture(scope="module")
def hub_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every corpus's native rows written as the hub lays them out, under DIR/<corpus>/."""
    root = tmp_path_factory.mktemp("hub-copy")
    for name, case in NATIVE.items():
        recipe = get_recipe(name)
        for part in recipe.parts:
            folder = root / name / (part.folder or "")
            rows = case.rows if part is _part(recipe, case.part) else [_coig_filler(str(part.config))]
            _write_split(folder, case.split, rows, converted=part.revision is not None)
    # hub repos often carry raw dumps beside their parquet data: they must not be read twice
    with gzip.open(root / "oasst2_zh" / "2023-11-05_oasst2_ready.trees.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"not": "a message row"}) + "\n")
    return root


def test_split_of_a_hub_path() -> None:
    names = ["train", "validation1", "validation2", "test"]
    assert _split_of(Path("default/validation1/0000.parquet"), names) == "validation1"
    assert _split_of(Path("eli5-category-validation-2.json.gz"), names) == "validation2"
    assert _split_of(Path("v1.1/train-00000-of-00001.parquet"), ["train", "validation", "test"]) == "train"
    assert _split_of(Path("data/dev-00000-of-00001-ea6f55.parquet"), ["train", "dev", "test"]) == "dev"
    assert _split_of(Path("zhihu/zhihu_expansion.jsonl"), ["train"]) is None


def test_local_files_prefer_parquet_and_know_their_split(hub_copy: Path) -> None:
    recipe = get_recipe("oasst2_zh")
    part = recipe.parts[0]
    files = local_files(recipe, part, part_dir(recipe, part, hub_copy))
    assert list(files) == ["validation"] and all(p.suffix == ".parquet" for p in files["validation"])


def test_unrecognised_split_file_is_a_clear_error(tmp_path: Path) -> None:
    _write_split(tmp_path / "squad_v2", "holdout", NATIVE["squad_v2"].rows, converted=False)
    with pytest.raises(InputError, match=r"cannot tell the split of .*holdout"):
        list(iter_corpus(SourceConfig(corpus="squad_v2", from_dir=str(tmp_path))))


def test_missing_local_copy_names_the_download(tmp_path: Path, hub_copy: Path) -> None:
    with pytest.raises(InputError, match="huggingface-cli download --repo-type dataset pfb30/multi_woz_v22"):
        list(iter_corpus(SourceConfig(corpus="multiwoz", from_dir=str(tmp_path))))
    (tmp_path / "dolly").symlink_to(
        hub_copy / "dolly"
    )  # DIR holds other corpora: never read them as this one
    with pytest.raises(InputError, match=f"no local copy of squad_v2 .* at {tmp_path}/squad_v2"):
        list(iter_corpus(SourceConfig(corpus="squad_v2", from_dir=str(tmp_path))))
    single = tmp_path / "only-squad"  # a folder holding one corpus's copy works without the corpus folder
    shutil.copytree(hub_copy / "squad_v2", single)
    assert len(list(iter_corpus(SourceConfig(corpus="squad_v2", from_dir=str(single))))) == 2


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_local_copy_reads_like_the_native_rows(name: str, hub_copy: Path) -> None:
    case = NATIVE[name]
    items = list(iter_corpus(SourceConfig(corpus=name, from_dir=str(hub_copy))))
    recipe = get_recipe(name)
    own = [
        i
        for i in items
        if i.record is None or i.record.family == (_part(recipe, case.part).family or recipe.family)
    ]
    assert _observed(own)[: len(case.expected)] == case.expected


def test_prepare_paper_from_local_copies_reconciles_and_keeps_dialogues_whole(
    hub_copy: Path, tmp_path: Path
) -> None:
    config = PrepareConfig(sources=corpus_sources("paper", str(hub_copy)))
    data = prepare_stage(config, root=tmp_path, out=tmp_path / "out", progress=False)
    counts = data.manifest["counts"]
    assert counts["reconciles"] and counts["in"] == counts["kept"] + counts["duplicates"] + counts["rejected"]
    expected_drops = Counter(e[1] for case in NATIVE.values() for e in case.expected if e[0] == "drop")
    assert counts["rejected_by_reason"] == dict(sorted(expected_drops.items()))
    keeps = sum(e[0] == "keep" for case in NATIVE.values() for e in case.expected)
    assert counts["kept"] == keeps + len(get_recipe("coig_cqia").parts) - 1 and counts["duplicates"] == 0
    records = [r for split in data.content.splits.values() for r in split]
    by_dialogue = defaultdict(set)
    for record in records:
        if record.source in MULTI_TURN:
            by_dialogue[(record.source, record.meta["dialogue"])].add(record.split)
        hub_split = record.meta["hub_split"]
        official = get_recipe(record.source).splits[hub_split]
        assert official is None or record.split == official
    assert len(by_dialogue) >= 5 and all(len(splits) == 1 for splits in by_dialogue.values())
    # row-numbered dialogues of different corpora and splits (dailydialog "0", coqa "0") stay apart
    assert data.manifest["groups"]["crossing_existing_splits"] == []
    hc3 = {r.split for r in records if r.meta.get("native_id", "").startswith("7-h")}
    assert len(hc3) == 1  # two human answers to one question share a group, hence a split
    inputs = data.manifest["inputs"]
    assert any(k.startswith("corpus:squad_v2:") and v.startswith("sha256:") for k, v in inputs.items())
    assert {r.cell for r in records} >= {
        "en|multi|task_dialogue",
        "zh|multi|open_chat",
        "zh|single|longform_qa",
    }


def test_cli_prepare_corpus_from_dir(hub_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["prepare", "--corpus", "squad_v2,dailydialog", "--from-dir", str(hub_copy), "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "dropped_no_answer 1" in result.output and "dropped_empty_turn 1" in result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["reconciles"] and manifest["counts"]["kept"] == 4
    assert {s.corpus for s in corpus_sources("squad_v2,dailydialog", str(hub_copy))} == {
        "squad_v2",
        "dailydialog",
    }


# -- the CLI's data commands and the offline path ----------------------------------------------------------


def test_data_list_shows_every_corpus_with_its_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 250)
    result = runner.invoke(app, ["data", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for recipe in list_recipes():
        (row,) = [line for line in lines if f" {recipe.name} " in line]
        cells = [c.strip() for c in row.split("│")]
        assert cells[2:5] == [recipe.language, recipe.track, recipe.families], row
        assert recipe.hub_ids[0] in row
    assert "paper-en" in result.output and "paper-zh" in result.output


def test_data_show_prints_the_whole_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 250)
    result = runner.invoke(app, ["data", "show", "oasst2_zh"])
    assert result.exit_code == 0, result.output
    for text in (
        "OpenAssistant/oasst2",
        "Apache 2.0",
        "zh|multi|open_chat",
        "parent_id",
        "ancestors",
        "dropped_broken_thread",
        "validation → test",
        "lang == 'zh'",
        "huggingface-cli download",
    ):
        assert text in result.output, text
    unknown = runner.invoke(app, ["data", "show", "oasst"])
    assert unknown.exit_code == 2 and "Did you mean" in unknown.output and "Traceback" not in unknown.output


@pytest.mark.parametrize("how", ["switch", "unreachable"])
def test_offline_prepare_fails_fast_naming_hub_ids_and_from_dir(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in (
        *OFFLINE_SWITCHES,
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(variable, raising=False)
    if how == "switch":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: refused at once
    start = time.monotonic()
    result = runner.invoke(app, ["prepare", "--corpus", "paper-en"])
    elapsed = time.monotonic() - start
    assert result.exit_code == 2 and "Traceback" not in result.output and result.exception is not None
    flat = " ".join(result.output.split())
    assert ("HF_HUB_OFFLINE is set" if how == "switch" else "unreachable") in flat
    for recipe in (get_recipe(name) for name in GROUPS["paper-en"]):
        assert all(repo in flat for repo in recipe.hub_ids), recipe.name
    assert "--from-dir" in flat and elapsed < 10


def test_offline_corpus_source_from_a_config_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(InputError, match=r"rajpurkar/squad_v2.*--from-dir"):
        list(iter_corpus(SourceConfig(corpus="squad_v2")))
    assert time.monotonic() - start < 10


def test_from_dir_needs_corpus() -> None:
    result = runner.invoke(app, ["prepare", "--from-dir", "/tmp"])
    assert result.exit_code == 2 and "give --corpus too" in " ".join(result.output.split())
