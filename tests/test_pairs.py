"""HDPO pairs: weights worked by hand, drops counted per bucket, d from `SupportScorer`, and the stage and
CLI end to end on a tiny trained start policy."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from train_helpers import unequal_records
from typer.testing import CliRunner

from polyalign.cli import app
from polyalign.config import RunConfig, load_yaml_config
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import prepare_stage
from polyalign.data.prompts import training_profile, with_profile
from polyalign.data.records import write_records
from polyalign.errors import ConfigError, NothingUsable
from polyalign.generate.backends import Output
from polyalign.generate.config import DecodingConfig
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.critic import CriticError
from polyalign.reference.reference import build_reference
from polyalign.reference.stage import critic_stage, reference_stage
from polyalign.reference.support import SupportScorer
from polyalign.train.config import TrainConfig
from polyalign.train.pair_report import build_pair_report
from polyalign.train.pair_weights import bucket_balance, normalise, pair_weights
from polyalign.train.pairs import (
    DATASET_COLUMNS,
    load_critic,
    load_pairs,
    pairs_stage,
    sample_candidates,
    score_pairs,
    too_long,
    weigh_pairs,
)
from polyalign.train.pairs_config import PairsConfig
from polyalign.train.stage import train_stage
from polyalign.train.tiny import TEST_SIZE

# --- weights ------------------------------------------------------------------------------------------


def test_bucket_term_and_gap_term_by_hand() -> None:
    """Buckets A, A, A, B: N = 4, K = 2, r_A = 4 / (2·3) = 2/3, r_B = 4 / 2 = 2, g = log r.
    d_c = 0, d_r = (0, 0.5, 0, 0): raw = 1 + 0.5·g + gap = (1 − 0.5 log 1.5, that + 0.5, that, 1 + 0.5 log 2),
    no raw weight leaves [0.5, 3] after scaling, so w = raw / mean(raw)."""
    buckets = ["A", "A", "A", "B"]
    np.testing.assert_allclose(bucket_balance(buckets), [math.log(2 / 3)] * 3 + [math.log(2)])
    a, b = 1 - 0.5 * math.log(1.5), 1 + 0.5 * math.log(2)
    raw = np.array([a, a + 0.5, a, b])
    w = pair_weights(buckets, np.zeros(4), np.array([0.0, 0.5, 0.0, 0.0]))
    np.testing.assert_allclose(w, raw / raw.mean(), rtol=1e-12)
    assert w.mean() == pytest.approx(1.0, abs=1e-12)
    # a rejected response closer to support than the chosen one adds nothing (max(0, d_r − d_c))
    closer = pair_weights(buckets, np.array([0.0, 0.5, 0.0, 0.0]), np.zeros(4))
    np.testing.assert_allclose(closer, np.array([a, a, a, b]) / np.mean([a, a, a, b]), rtol=1e-12)
    # coefficients 0: every pair weighs 1
    np.testing.assert_allclose(pair_weights(buckets, np.zeros(4), np.ones(4), 0.0, 0.0), np.ones(4))


def test_raw_clip_then_mean_one_within_bounds() -> None:
    """Gap 5 clips the raw weight at 3. Renormalising [3, .5, .5, .5] (mean 1.125): the low bound binds,
    3s + 3·0.5 = 4 gives s = 5/6, w = [2.5, .5, .5, .5]. For [3, .5 × 5] (mean < 1) the high bound
    binds: 3 + 5·0.5s = 6 gives s = 1.2, w = [3, .6 × 5]."""
    w = pair_weights(["A", "A"], np.zeros(2), np.array([5.0, 0.0]), bucket_coef=0.0)
    np.testing.assert_allclose(w, [3 / 2, 1 / 2])  # raw (3, 1), mean 2: s = 1/2, nothing clipped
    np.testing.assert_allclose(normalise(np.array([3, 0.5, 0.5, 0.5]), (0.5, 3.0)), [2.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(normalise(np.array([3.0] + [0.5] * 5), (0.5, 3.0)), [3.0] + [0.6] * 5)
    rng = np.random.default_rng(0)
    buckets = [f"b{i}" for i in rng.integers(0, 5, 300)]
    w = pair_weights(buckets, rng.random(300), 4 * rng.random(300))
    assert w.mean() == pytest.approx(1.0, abs=1e-12) and w.min() >= 0.5 - 1e-12 and w.max() <= 3 + 1e-12


def test_config_section_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("pairs:\n  samples: 2\n  weights: {clip: [0.25, 4]}\n  decoding: {temperature: 1}\n")
    loaded = load_yaml_config(RunConfig, path).pairs
    assert (loaded.samples, loaded.weights.clip, loaded.decoding.temperature) == (2, [0.25, 4.0], 1.0)
    assert RunConfig().pairs == PairsConfig() and PairsConfig().decoding.max_new_tokens > 240
    for bad, match in (
        ({"samples": 0}, "samples"),
        ({"samples": 2, "decoding": DecodingConfig(do_sample=False)}, "do_sample"),
        ({"decoding": DecodingConfig(seed=3)}, "pairs.seed"),
        ({"scorer": "critic"}, "pairs.critic"),
        ({"critic": "somewhere"}, "scorer"),
        ({"backend": "tgi"}, "backend"),
    ):
        with pytest.raises(ConfigError, match=match):
            PairsConfig(**bad)
    with pytest.raises(ConfigError, match="clip"):
        PairsConfig(weights=dataclasses.replace(PairsConfig().weights, clip=[1.5, 3.0]))
    path.write_text("pairs:\n  sample: 2\n")
    with pytest.raises(ConfigError, match="sample"):
        load_yaml_config(RunConfig, path)


def test_weights_are_set_once_over_the_set_and_a_set_without_gap_is_refused() -> None:
    rows = [{"bucket": b, "d_chosen": 0.0, "d_rejected": d} for b, d in (("A", 0.0), ("A", 0.5), ("B", 0.0))]
    weigh_pairs(rows, PairsConfig())
    expected = pair_weights(["A", "A", "B"], np.zeros(3), np.array([0.0, 0.5, 0.0]))
    assert [r["weight"] for r in rows] == expected.tolist()
    flat = [{"bucket": "A", "d_chosen": 0.2, "d_rejected": 0.2}] * 2
    with pytest.raises(NothingUsable, match="no pair has a distance gap"):
        weigh_pairs(flat, PairsConfig())


# --- drops and scores, with a scripted backend ----------------------------------------------------------


class Scripted:
    """A backend that returns given texts in order (no model): drops and accounting are tested exactly."""

    name = "scripted"

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        self.seeds: list[int] = []

    def render(self, messages: list[dict[str, str]]) -> str:
        return "\n".join(m["content"] for m in messages)

    def generate(self, prompts, seeds, decoding, batch_size) -> list[Output]:
        self.seeds = list(seeds)
        texts = self.texts or [""] * len(prompts)
        return [Output(t, "stop", 1, len(t.split())) for t in texts]


def test_empty_and_identical_pairs_are_dropped_and_counted_per_bucket() -> None:
    records = unequal_records({"en|single|open_chat|short": 2, "zh|single|open_chat|short": 1})
    en1, en2, zh = records
    prompts = [[{"role": "user", "content": r.prompt_messages[-1].content}] for r in records]
    texts = ["  ", f" {en1.response}\n", "a model answer", "another", "\n".join(zh.response.split()), "x"]
    kept, dropped = sample_candidates(records, prompts, PairsConfig(samples=2), Scripted(texts))
    assert [r["id"] for r in kept] == [f"{en2.id}#0", f"{en2.id}#1", f"{zh.id}#1"]
    assert [(r["id"], r["reason"]) for r in dropped] == [
        (f"{en1.id}#0", "empty"),
        (f"{en1.id}#1", "identical"),
        (f"{zh.id}#0", "identical"),  # whitespace alone is no preference
    ]
    assert kept[0]["chosen"] == [{"role": "assistant", "content": en2.response}]
    assert kept[0]["rejected"] == [{"role": "assistant", "content": "a model answer"}]
    for row in kept:
        row.update(d_chosen=0.0, d_rejected=1.0, weight=1.0)
    report = build_pair_report(kept, dropped)
    en, zh_group = (
        report["buckets"]["en|single|open_chat|short"],
        report["buckets"]["zh|single|open_chat|short"],
    )
    assert (en["candidates"], en["n"], en["dropped"]) == (
        4,
        2,
        {"empty": 1, "identical": 1, "prompt_too_long": 0},
    )
    assert (zh_group["candidates"], zh_group["n"], zh_group["dropped"]) == (
        2,
        1,
        {"empty": 0, "identical": 1, "prompt_too_long": 0},
    )
    assert report["all"]["candidates"] == 6 and report["all"]["share_rejected_further"] == 1.0


def test_samples_of_a_record_the_policy_did_not_train_on_are_dropped_as_too_long() -> None:
    """A record with no prompt (its prompt left no room for a response in the policy's max_length) gets
    its k samples counted as dropped, so prompts × samples stay accounted for."""
    en1, en2 = unequal_records({"en|single|open_chat|short": 2})
    dropped = too_long([en1, en2], {en1.id: []}, samples=2)
    assert [(r["id"], r["bucket"], r["reason"]) for r in dropped] == [
        (f"{en2.id}#0", en2.bucket, "prompt_too_long"),
        (f"{en2.id}#1", en2.bucket, "prompt_too_long"),
    ]
    assert build_pair_report([], dropped)["all"]["dropped"]["prompt_too_long"] == 2


def test_seeds_per_record_and_sample_and_scores_equal_support_scorer() -> None:
    records = unequal_records()
    prompts = [[{"role": "user", "content": r.id}] for r in records]
    backend = Scripted(
        [f"{records[i // 2].response} {'well ' * (i % 2 + 1)}" for i in range(2 * len(records))]
    )
    kept, _ = sample_candidates(records, prompts, PairsConfig(samples=2, seed=7), backend)
    seeds = backend.seeds
    assert len(set(seeds)) == len(seeds) == 2 * len(records)
    sample_candidates(records, prompts, PairsConfig(samples=2, seed=7), backend)
    assert backend.seeds == seeds  # a function of (seed, record, sample) only
    sample_candidates(records, prompts, PairsConfig(samples=2, seed=8), backend)
    assert not set(backend.seeds) & set(seeds)
    scorer = SupportScorer(build_reference(records, ReferenceConfig()))
    score_pairs(scorer, kept, progress=False)
    buckets = [r["bucket"] for r in kept]
    expected_c = scorer.score([r["chosen"][0]["content"] for r in kept], buckets)
    expected_r = scorer.score([r["rejected"][0]["content"] for r in kept], buckets)
    assert [r["d_chosen"] for r in kept] == expected_c.tolist()
    assert [r["d_rejected"] for r in kept] == expected_r.tolist()


# --- the stage and the CLI on a tiny trained start policy -----------------------------------------------


def _pairs_config(**overrides) -> PairsConfig:
    return PairsConfig(samples=2, decoding=DecodingConfig(max_new_tokens=8), **overrides)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """24 prepared train records (4 buckets), their reference, a 1-step Bucket-SFT policy, and its pairs."""
    tmp = tmp_path_factory.mktemp("pairs")
    write_records(tmp / "records.jsonl", unequal_records())
    source = SourceConfig(path=str(tmp / "records.jsonl"), format="polyalign")
    prepared = prepare_stage(PrepareConfig(sources=[source]), root=tmp, progress=False)
    reference = reference_stage(prepared, ReferenceConfig(), root=tmp)
    args = {"max_steps": 1, "per_device_train_batch_size": 4, "max_length": 256, "disable_tqdm": True}
    tiny = dataclasses.replace(TEST_SIZE, tokenizer_texts=24)
    policy = train_stage(prepared, reference, TrainConfig(tiny=tiny, args=args), root=tmp)
    pairs = pairs_stage(prepared, reference, policy, _pairs_config(), root=tmp, progress=False)
    return prepared, reference, policy, pairs, tmp


@pytest.mark.slow
def test_stage_end_to_end_with_two_samples(trained) -> None:
    prepared, reference, policy, pairs, tmp = trained
    records = {r.id: r for r in prepared.content.splits["train"]}
    assert pairs.folder == tmp / "pairs" / pairs.key
    for name in ("pairs.jsonl", "dropped.jsonl", "pair_report.json", "pair_report.md", "manifest.json"):
        assert (pairs.folder / name).is_file(), name
    m = pairs.manifest
    assert m["parents"] == {"prepare": prepared.key, "reference": reference.key, "policy": policy.key,
                            "critic": None}  # fmt: skip
    assert m["policy"]["key"] == policy.key and m["samples"] == 2 and m["seed"] == 0
    assert m["decoding"]["max_new_tokens"] == 8 and m["backend"] == "transformers"
    assert m["scorer"] == {"kind": "features", "reference": reference.key}
    assert m["counts"]["prompts"] == 24 and m["counts"]["candidates"] == 48
    dropped = sum(m["dropped"].values())
    assert m["counts"]["kept"] + dropped == 48 == pairs.content.report["all"]["candidates"]
    rows = pairs.content.rows
    assert len(rows) == m["counts"]["kept"] and {r["sample_index"] for r in rows} == {0, 1}
    for row in rows:
        record = records[row["record_id"]]
        assert row["id"] == f"{record.id}#{row['sample_index']}" and row["bucket"] == record.bucket
        assert row["chosen"] == [{"role": "assistant", "content": record.response}]
        # the prompt the Bucket-SFT policy was trained on: its own profile (gold length) as system prompt
        assert row["prompt"] == with_profile(record.prompt_messages, training_profile(record))
        assert row["profile_prompt_tokens"] > 0  # the preference stage fits every method's pairs by it
    weights = np.array([r["weight"] for r in rows])
    assert weights.mean() == pytest.approx(1.0, abs=1e-9) and weights.min() >= 0.5 and weights.max() <= 3.0
    scorer = SupportScorer(reference.content.reference)
    buckets = [r["bucket"] for r in rows]
    d_r = scorer.score([r["rejected"][0]["content"] for r in rows], buckets)
    assert [r["d_rejected"] for r in rows] == d_r.tolist()
    dataset = pairs.content.to_dataset()
    assert dataset.column_names == list(DATASET_COLUMNS) and len(dataset) == len(rows)
    assert dataset[0]["chosen"] == rows[0]["chosen"] and dataset[0]["weight"] == rows[0]["weight"]
    assert load_pairs(pairs.folder) == pairs.content
    again = pairs_stage(prepared, reference, policy, _pairs_config(batch_size=3), root=tmp)
    assert again.reused and again.folder == pairs.folder  # the batch size is not part of the key
    rebuilt = pairs_stage(
        prepared, reference, policy, _pairs_config(batch_size=3), root=tmp, out=tmp / "again", progress=False
    )
    assert not rebuilt.reused and rebuilt.content.rows == rows  # same seed, other batches: same pairs


@pytest.mark.slow
def test_nothing_usable_and_critic_refusals(trained) -> None:
    prepared, reference, policy, pairs, tmp = trained
    with pytest.raises(NothingUsable, match="no pair is left") as caught:
        pairs_stage(prepared, reference, policy, _pairs_config(seed=5), root=tmp, backend=Scripted([]))
    assert caught.value.exit_code == 1
    with pytest.raises(CriticError, match="not a complete critic"):
        load_critic(pairs.folder, reference)
    with pytest.raises(CriticError, match="not a complete critic"):
        pairs_stage(prepared, reference, policy, _pairs_config(scorer="critic", critic=str(tmp)), root=tmp)


@pytest.mark.slow
def test_a_validated_critic_replaces_d(trained) -> None:
    """A critic trained on this reference (human vs the policy's samples) scores d_c and d_r; its key is a
    parent of the pairs and its held-out AUC is in the manifest."""
    prepared, reference, policy, pairs, tmp = trained
    responses = tmp / "responses.jsonl"
    responses.write_text(
        "".join(json.dumps({"id": r["record_id"], "response": r["rejected"][0]["content"]}) + "\n"
                for r in pairs.content.rows)
    )  # fmt: skip
    critic = critic_stage(reference.folder, responses, seed=0, root=tmp)
    config = _pairs_config(scorer="critic", critic=str(critic.folder))
    texts = [f"model answer {'again ' * i}" for i in range(48)]
    built = pairs_stage(prepared, reference, policy, config, root=tmp, backend=Scripted(texts))
    assert built.manifest["parents"]["critic"] == critic.key and built.key != pairs.key
    assert built.manifest["scorer"]["critic"]["auc"] == critic.content.metrics.auc > 0.5
    rows = built.content.rows
    scores = critic.content.score(
        reference.content.reference, [r["rejected"][0]["content"] for r in rows], [r["bucket"] for r in rows]
    )
    assert [r["d_rejected"] for r in rows] == scores.tolist()


@pytest.mark.slow
def test_cli_exit_codes(trained, tmp_path: Path) -> None:
    prepared, reference, policy, pairs, _ = trained
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({"pairs": {"samples": 2, "decoding": {"max_new_tokens": 8}}}))
    folders = [
        "--data",
        str(prepared.folder),
        "--reference",
        str(reference.folder),
        "--policy",
        str(policy.folder),
    ]
    runner = CliRunner()
    result = runner.invoke(app, ["pairs", "build", "-c", str(config), *folders, "--out", str(pairs.folder)])
    assert result.exit_code == 0, result.output
    assert f"pairs artefact key {pairs.key}" in result.output and "reused" in result.output
    assert f"{pairs.manifest['counts']['kept']} pairs kept of 48" in result.output
    missing = runner.invoke(app, ["pairs", "build", *folders[:4]])
    assert missing.exit_code == 2 and "--policy" in missing.output
    config.write_text("pairs:\n  samples: 0\n")
    bad = runner.invoke(app, ["pairs", "build", "-c", str(config), *folders])
    assert bad.exit_code == 2 and "pairs.samples" in bad.output
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    refused = runner.invoke(app, ["pairs", "build", *folders, "--out", str(mine)])
    assert refused.exit_code == 2 and "PolyAlign did not write" in refused.output
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    wrong = runner.invoke(app, ["pairs", "build", *folders[:4], "--policy", str(reference.folder)])
    assert wrong.exit_code == 2 and "not a complete train artefact" in wrong.output
