"""Generations files that are malformed or incomplete give a clear error or an explicit n/a; the stage
writes a results artefact the report can read; the CLI evaluates the human test responses as a method."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from eval_helpers import EDGES, fast_config, small_fixture, small_prepared
from typer.testing import CliRunner

from polyalign.artifacts import artifact_key
from polyalign.cli import app
from polyalign.config import config_hash
from polyalign.data.buckets import BucketKey
from polyalign.errors import ConfigError, InputError, PolyAlignError
from polyalign.evaluate.distribution import tdm_components
from polyalign.evaluate.engine import (
    NO_GOLD,
    MetricError,
    build_eval_data,
    compute_metrics,
    evaluate_generations,
    last_user_turn,
)
from polyalign.evaluate.generations import (
    Generations,
    GenerationsError,
    human_generations,
    human_split,
    read_generations,
    run_name,
    unique_names,
)
from polyalign.evaluate.registry import Metric, get_metric, select
from polyalign.evaluate.results import load_results
from polyalign.evaluate.stage import evaluate_stage
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.reference import build_reference


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory):
    return small_fixture(str(tmp_path_factory.mktemp("eval-suite")))


def _write(path: Path, rows: list) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows)
    )
    return path


def test_duplicate_ids_are_an_error_naming_them(tmp_path):
    path = _write(
        tmp_path / "g.jsonl",
        [{"id": "a", "response": "x"}, {"id": "b", "response": "y"}, {"id": "a", "response": "z"}],
    )
    with pytest.raises(GenerationsError, match=r"1 duplicate id\(s\).*: 'a' \(lines 1, 3\)"):
        read_generations(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"response": "x"}', "missing or invalid 'id'"),
        ('{"id": "a", "response": null}', "must be a string, got NoneType"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, row, message):
    with pytest.raises(InputError, match=f"g.jsonl:1: .*{message}"):
        read_generations(_write(tmp_path / "g.jsonl", [row]))


def test_every_fault_is_reported_at_once_with_file_line_and_counts(tmp_path):
    records = [SimpleNamespace(id=i) for i in "abc"]  # only the ids are read
    rows = [
        "{not json",
        {"id": "a", "response": 3},
        {"id": "b", "response": "x"},
        {"id": "b", "response": "y"},
        {"id": "zz", "response": "z"},
    ]
    with pytest.raises(GenerationsError) as raised:
        read_generations(_write(tmp_path / "g.jsonl", rows), records)
    message = str(raised.value)
    assert "g.jsonl: 6 fault(s)" in message
    assert "g.jsonl:1: not valid JSON" in message and "g.jsonl:2: 'response' of id 'a'" in message
    assert "'b' (lines 3, 4)" in message and "1 unknown id(s)" in message and "'zz'" in message
    assert "2 of 3 test record(s) have no generation" in message and "--allow-missing" in message


def test_empty_file_and_mixed_settings_are_errors(tmp_path):
    with pytest.raises(GenerationsError, match="no generations"):
        read_generations(_write(tmp_path / "empty.jsonl", []))
    rows = [
        {"id": "a", "response": "x", "decoding": {"temperature": 0.7}},
        {"id": "b", "response": "y", "decoding": {"temperature": 1.0}},
    ]
    with pytest.raises(GenerationsError, match="mix 2 model/decoding settings"):
        read_generations(_write(tmp_path / "mixed.jsonl", rows))


def test_missing_and_unknown_ids(fixture_data):
    prepared, reference = fixture_data
    test = prepared.splits["test"]
    responses = {r.id: r.response for r in test[:-5]}
    with pytest.raises(GenerationsError, match=r"5 of 235 test record\(s\) have no generation"):
        evaluate_generations(test, Generations(responses, {}), reference, fast_config(), edges=EDGES)
    with pytest.raises(GenerationsError, match="not records of the evaluated split"):
        evaluate_generations(
            test, Generations({**responses, "nope": "x"}, {}), reference, fast_config(), edges=EDGES
        )


def test_partial_run_and_empty_responses_are_evaluated_with_explicit_na(fixture_data):
    prepared, reference = fixture_data
    test = prepared.splits["test"]
    responses = {r.id: ("" if r.bucket == test[0].bucket else r.response) for r in test[:-5]}
    result = evaluate_generations(
        test, Generations(responses, {}), reference, fast_config(allow_missing=True), edges=EDGES
    )
    counts = result.results["counts"]
    assert counts["partial"] and counts["missing"] == 5 and counts["empty"] >= 1
    assert any("partial run" in w for w in result.results["warnings"])
    assert any("empty response" in w for w in result.results["warnings"])
    distinct = result.results["metrics"]["distinct_1"]["buckets"][test[0].bucket]
    assert distinct["value"] is None and "empty" in distinct["na"]
    assert result.results["metrics"]["mauve"]["na"].startswith("no embedder")  # no embedder given
    reasons = {(n["metric"], n["scope"]) for n in result.results["na"]}
    assert ("distinct_1", test[0].bucket) in reasons


def test_evaluate_cli_writes_results_the_report_reads(tmp_path, monkeypatch):
    config = tmp_path / "run.yaml"
    config.write_text(
        "prepare:\n  sources:\n    - fixture: 0\n"
        "evaluate:\n  embedder: hashing\n  bootstrap: 20\n  mauve_noise_repeats: 3\n  macro_min_rows: 2\n"
    )
    runner = CliRunner()
    out = tmp_path / "human-split"
    result = runner.invoke(app, ["evaluate", "--human", "split", "-c", str(config), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "bng" in result.output and "C-MAUVE" in result.output
    results, draws = load_results(out)
    assert results["run"] == "human-split" and results["counts"]["evaluated"] > 50
    assert results["versions"]["polyalign"] and results["config"]["embedder"] == "hashing"
    assert draws["draws"] == 20 and "__macro__" in draws["metrics"]["bng"]
    assert results["metrics"]["em"]["na"].startswith("human split: no gold")  # said in the output too
    assert "human split" in result.output and "em" not in draws["metrics"]
    assert (out / "per_item.jsonl").is_file() and (out / "manifest.json").is_file()
    bad = runner.invoke(app, ["evaluate", str(tmp_path / "missing.jsonl"), "-c", str(config)])
    assert bad.exit_code == 2 and "no generations file" in bad.output


def test_load_results_rejects_other_folders(tmp_path):
    with pytest.raises(PolyAlignError, match=r"holds no results\.json"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text("{broken")
    with pytest.raises(PolyAlignError, match="not valid JSON"):
        load_results(tmp_path)


def test_evaluate_stage_keys_reuses_and_writes_under_the_root(tmp_path_factory, tmp_path):
    """The key is hash(evaluate@3, prepare key, reference key, generations identity, config hash, run name),
    the folder root/evaluate/<key>; a second call reuses the complete artefact."""
    prepared = small_prepared(str(tmp_path_factory.mktemp("eval-stage")))
    reference = build_reference(prepared.content.splits["train"], ReferenceConfig())
    ref = SimpleNamespace(key="ref-key", content=SimpleNamespace(reference=reference))
    config = fast_config(embedder="", bootstrap=10)
    first = evaluate_stage(prepared, ref, config, human="split", root=tmp_path)
    identity, name = "human:split:0", "human-split"
    key = artifact_key("evaluate", 3, prepared.key, "ref-key", identity, config_hash(config), name)
    assert first.key == key and first.folder == tmp_path / "evaluate" / key and not first.reused
    assert first.manifest["run"] == "human-split" and first.content["key"] == key
    assert first.manifest["parents"]["generations"] == "human:split:0"
    again = evaluate_stage(prepared, ref, config, human="split", root=tmp_path)
    assert again.reused and again.content == first.content
    with pytest.raises(PolyAlignError, match="either a generations file or --human"):
        evaluate_stage(prepared, ref, config, root=tmp_path)


def test_run_names_come_from_the_file_and_repeats_are_numbered(tmp_path):
    assert run_name(tmp_path / "sft.jsonl") == "sft"
    assert run_name(tmp_path / "abc123" / "generations.jsonl") == "abc123"  # a generate artefact
    assert unique_names(["sft", "hdpo", "sft", "sft"]) == ["sft", "hdpo", "sft (2)", "sft (3)"]


def _probe(**fields) -> Metric:
    values = {"name": "probe", "group": "naturalness", "kind": "set", "direction": "lower"}
    return Metric(**{**values, "description": "a test metric", **fields})


def test_engine_takes_min_rows_na_reasons_and_cell_views_from_the_registry_entry(fixture_data):
    """A metric the engine has never heard of gets its minimum rows from the config option its entry
    names, its n/a reason and its per-cell view from the entry, and a cell-level entry from its function."""
    prepared, reference = fixture_data
    test = prepared.splits["test"]
    data, _ = build_eval_data(test, human_generations(test), reference, EDGES)
    undefined = _probe(
        fn=lambda d, sets: {"model": np.full(len(sets), np.nan)},
        min_rows_option="auc_min_rows",
        nan_reason=lambda d: "the probe says why",
        cells=lambda d: {"en|single|open_chat": {"n": 3, "value": 0.25}},
    )
    whole = _probe(name="cellprobe", kind="cell", fn=lambda d, config: {"macro": {"value": config.seed}})
    sizes = {b: len(idx) for b, idx in data.rows_by(data.buckets).items()}
    assert min(sizes.values()) < 4 <= max(sizes.values())
    result = compute_metrics(data, fast_config(auc_min_rows=4, seed=3), [undefined, whole]).results
    buckets = result["metrics"]["probe"]["buckets"]
    for bucket, n in sizes.items():
        reason = "needs >= 4 records in the bucket" if n < 4 else "the probe says why"
        assert reason in buckets[bucket]["na"], bucket
    assert result["metrics"]["probe"]["cells"] == {"en|single|open_chat": {"n": 3, "value": 0.25}}
    assert result["metrics"]["cellprobe"]["macro"] == {"value": 3}


def test_registry_entries_carry_direction_and_refuse_judge_names():
    """`better` by hand: AUC 0.55 beats 0.30 (0.05 from its ideal 0.5, not 0.20); distinct-1 0.6 beats 0.9
    when people are at 0.5; a judge score is not an evaluate metric."""
    auc, distinct, em = get_metric("auc"), get_metric("distinct_1"), get_metric("em")
    assert auc.better(0.55, 0.30) and not auc.better(0.30, 0.55)
    assert distinct.better(0.6, 0.9, human=0.5) and not distinct.better(0.9, 0.6, human=0.5)
    assert em.better(0.4, 0.3) and get_metric("bng").better(0.1, 0.2)
    assert (
        auc.required_rows(fast_config(auc_min_rows=7)) == 7
        and get_metric("bng").required_rows(fast_config()) == 2
    )
    assert get_metric("judge_overall").direction == "higher"
    with pytest.raises(ConfigError, match=r"judge_overall: judge scores come from `polyalign judge`"):
        select(["em", "judge_overall"])
    with pytest.raises(ConfigError, match=r"unknown metric 'nope'.*registered: em"):
        select(["nope"])


def test_a_metric_that_raises_is_an_error_naming_metric_and_bucket(fixture_data):
    """Never an n/a cell: a shape bug or an unhandled input stops the evaluation and says where."""
    prepared, reference = fixture_data
    test = prepared.splits["test"]
    data, _ = build_eval_data(test, human_generations(test), reference, EDGES)

    def broken(d, sets):
        raise ValueError("operands could not be broadcast")

    first = min(data.buckets, key=lambda b: BucketKey.parse(b).sort_key())
    with pytest.raises(MetricError, match=rf"metric 'probe' failed on bucket {re.escape(first)} .*broadcast"):
        compute_metrics(data, fast_config(), [_probe(fn=broken)])


def test_own_length_buckets_use_the_prepared_edges_or_fail(fixture_data):
    prepared, reference = fixture_data
    test = prepared.splits["test"]
    only_en = {"en": EDGES["en"]}
    data, _ = build_eval_data(test, human_generations(test), reference, only_en)
    with pytest.raises(PolyAlignError, match=r"no length-bin edges for language\(s\) \['zh'\]"):
        compute_metrics(data, fast_config(), [get_metric("em")])


def test_human_split_answers_each_half_with_its_own_responses(fixture_data):
    """Half A plays the model with its own human responses to its own prompts; its partner in half B (same
    bucket, never in A) is the human side, response and prompt. So TDM couples each side to the prompt it
    answers: both sides' coupling components equal those of the gold run at the record that wrote them.
    Utility has no gold here: n/a with the reason."""
    prepared, reference = fixture_data
    test = prepared.splits["test"]
    records, split = human_split(test, seed=0)
    ids = {r.id for r in records}
    assert split.responses == {r.id: r.response for r in records}
    partners = split.partners
    assert set(partners) == ids and not ids & {p.id for p in partners.values()}
    assert all(partners[r.id].bucket == r.bucket for r in records)
    data, _ = build_eval_data(records, split, reference, EDGES)
    assert not data.paired and data.human == [partners[i].response for i in data.ids]
    assert data.human_user == [last_user_turn(partners[i]) for i in data.ids]
    gold, _ = build_eval_data(test, human_generations(test), reference, EDGES)
    row = {record_id: i for i, record_id in enumerate(gold.ids)}
    model_rows, human_rows = [row[i] for i in data.ids], [row[partners[i].id] for i in data.ids]
    expected = tdm_components(gold, "human")
    np.testing.assert_array_equal(tdm_components(data, "model"), expected[model_rows])
    np.testing.assert_array_equal(tdm_components(data, "human"), expected[human_rows])
    result = compute_metrics(data, fast_config(), [get_metric("em"), get_metric("tdm")]).results
    assert result["metrics"]["em"]["na"] == NO_GOLD and "buckets" not in result["metrics"]["em"]
    assert result["metrics"]["tdm"]["macro"]["value"] > 0  # two different halves: a noise floor, not 0


def test_backed_off_buckets_are_marked_and_the_macro_counts_them(fixture_data):
    """Every bucket whose reference borrowed length-near answers carries `borrowed` (its own count and the
    borrowed length range); the macro says how many of its buckets borrowed and leaves out buckets below
    macro_min_rows."""
    prepared, reference = fixture_data
    test = prepared.splits["test"]
    data, _ = build_eval_data(test, human_generations(test), reference, EDGES)
    result = compute_metrics(data, fast_config(macro_min_rows=4), [get_metric("hcr_all")]).results
    entry = result["metrics"]["hcr_all"]
    stats = {b: reference.stats[reference.resolve(b)] for b in entry["buckets"]}
    backed = {
        b: {"own": s.own, "lengths": s.borrowed_range} for b, s in stats.items() if s.level == "borrowed"
    }
    assert backed and {b: r.get("borrowed") for b, r in entry["buckets"].items()} == {
        b: backed.get(b) for b in entry["buckets"]
    }
    counted = [b for b, r in entry["buckets"].items() if r["n"] >= 4]
    macro = entry["macro"]
    assert (macro["n_buckets"], macro["min_rows"]) == (len(counted), 4)
    assert macro["borrowed"] == sum(b in backed for b in counted)
    assert macro["left_out"] == len(entry["buckets"]) - len(counted)
    assert macro["weighted"]["n"] == len(test)
    assert get_metric("auc").macro_rows(fast_config(macro_min_rows=2)) == 10
    assert get_metric("bng").macro_rows(fast_config(macro_min_rows=20)) == 20
