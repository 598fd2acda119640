from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from polyalign.artifacts import Artifact
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import PreparedData, prepare_stage
from polyalign.errors import InputError, PolyAlignError
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.critic import CriticError, Example, HumanModelCritic, train_critic
from polyalign.reference.embedders import HashingEmbedder
from polyalign.reference.features import FEATURE_INDEX, extract
from polyalign.reference.reference import (
    HumanReference,
    ReferenceLeakError,
    ReferenceStats,
    build_reference,
    scale_floors,
)
from polyalign.reference.scoring import read_scoring_input
from polyalign.reference.stage import reference_stage
from polyalign.reference.support import SupportScorer, support_distance

TEMPLATE = {"en": "Sure! Here is a clear answer:\n\n- {x}\n- I hope this helps!",
            "zh": "当然！以下是回答：\n\n- {x}\n- 希望对你有帮助！"}  # fmt: skip


def first_sentence(text: str) -> str:
    match = re.search(r"[.!?。！？]", text)
    return text[: match.end()] if match else text


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory: pytest.TempPathFactory) -> Artifact[PreparedData]:
    return prepare_stage(
        PrepareConfig(sources=[SourceConfig(fixture=0)]), root=tmp_path_factory.mktemp("prep"), progress=False
    )


def test_reference_refuses_held_out_records(fixture_data: Artifact[PreparedData]) -> None:
    leaky = [*fixture_data.content.splits["train"], fixture_data.content.splits["test"][0]]
    with pytest.raises(ReferenceLeakError, match="train split only"):
        build_reference(leaky, ReferenceConfig())


def test_back_off_and_statistics(fixture_data: Artifact[PreparedData]) -> None:
    reference = build_reference(fixture_data.content.splits["train"], ReferenceConfig(min_bucket_size=20))
    counts: dict[str, int] = defaultdict(int)
    for record in fixture_data.content.splits["train"]:
        counts[str(record.bucket)] += 1
    for bucket, n in counts.items():
        assert reference.resolve(bucket) == bucket and reference.stats[bucket].own == n
        stats = reference.stats[bucket]
        if n >= 20:
            assert (stats.level, stats.n, stats.borrowed_range) == ("bucket", n, None)
        else:  # borrowed the cell's length-nearest responses: 20 (more only on tied lengths)
            assert stats.level == "borrowed" and 20 <= stats.n < 30 and stats.borrowed_range is not None
    assert any(reference.stats[b].level == "borrowed" for b in counts)  # the fixture has sparse buckets
    stats = reference.stats["en|single|qa_search"]
    q = stats.quantiles
    assert all(np.less_equal(q["q05"], q["q10"])) and all(np.less_equal(q["q90"], q["q95"]))
    assert stats.n == len(stats.lengths) and stats.lengths == sorted(stats.lengths)
    floors = scale_floors(float(np.median(stats.lengths)))
    assert all(np.greater_equal(stats.scale, floors))
    with pytest.raises(PolyAlignError, match="no human reference"):
        reference.resolve("fr|single|qa_search|short")


def test_save_and_load_are_bit_identical(fixture_data: Artifact[PreparedData], tmp_path: Path) -> None:
    config = ReferenceConfig(embedder="hashing", embedding_sample=8)
    reference = build_reference(
        fixture_data.content.splits["train"], config, {"prepare_key": "k"}, HashingEmbedder()
    )
    reference.save(tmp_path)
    loaded = HumanReference.load(tmp_path)
    assert loaded.stats == reference.stats
    for key, band in reference.bands.items():
        assert np.array_equal(band.low, loaded.bands[key].low) and np.array_equal(
            band.scale, loaded.bands[key].scale
        )
    assert loaded.embeddings is not None and reference.embeddings is not None
    assert all(np.array_equal(reference.embeddings[k], loaded.embeddings[k]) for k in reference.embeddings)
    test = fixture_data.content.splits["test"]
    texts, buckets = [r.response for r in test], [str(r.bucket) for r in test]
    assert np.array_equal(
        SupportScorer(reference).score(texts, buckets), SupportScorer(loaded).score(texts, buckets)
    )


def _two_feature_stats(
    median: list[float], low: list[float], high: list[float], scale: list[float]
) -> ReferenceStats:
    quantiles = {q: median for q in ("q05", "q10", "q25", "q50", "q75", "q90", "q95")}
    return ReferenceStats(n=1, level="cell", quantiles=quantiles, mean=median, std=[0.0, 0.0], iqr=[0.0, 0.0],
                          low=low, high=high, scale=scale, lengths=[1])  # fmt: skip


def test_band_arrays_and_deviation_by_hand() -> None:
    """Two references, two features, clip 5.

    "a": median (1, 10), scale (2, 5); "b": median (0, 0), scale (1, 1).
    Row 0 (a) x = (5, 10): (5 - 1)/2 = 2, 0.     Row 1 (b) x = (7, -2): clipped to 5, -2.
    Row 2 (a) x = (-19, 12.5): (-19 - 1)/2 = -10 → -5, (12.5 - 10)/5 = 0.5.
    """
    reference = HumanReference(
        config=ReferenceConfig(clip=5.0),
        feature_names=("f0", "f1"),
        stats={"a": _two_feature_stats([1.0, 10.0], [0.0, 8.0], [2.0, 12.0], [2.0, 5.0]),
               "b": _two_feature_stats([0.0, 0.0], [-1.0, -1.0], [1.0, 1.0], [1.0, 1.0])},
        source={},
    )  # fmt: skip
    keys = ["a", "b", "a"]
    low, high, scale = reference.band_arrays(keys)
    np.testing.assert_array_equal(low, [[0.0, 8.0], [-1.0, -1.0], [0.0, 8.0]])
    np.testing.assert_array_equal(high, [[2.0, 12.0], [1.0, 1.0], [2.0, 12.0]])
    np.testing.assert_array_equal(scale, [[2.0, 5.0], [1.0, 1.0], [2.0, 5.0]])
    x = np.array([[5.0, 10.0], [7.0, -2.0], [-19.0, 12.5]])
    np.testing.assert_array_equal(reference.deviation(x, keys), [[2.0, 0.0], [5.0, -2.0], [-5.0, 0.5]])
    assert all(a.shape == (0, 2) for a in reference.band_arrays([]))
    with pytest.raises(PolyAlignError, match="resolve first"):
        reference.band_arrays(["a", "a|short"])


def test_support_distance_reads_the_reference_band_arrays(fixture_data: Artifact[PreparedData]) -> None:
    """With `support_terms: {bands: 1}` the scorer is exactly METHOD.md §3's d over the band arrays."""
    config = ReferenceConfig(support_terms={"bands": 1.0})
    reference = build_reference(fixture_data.content.splits["train"], config)
    assert reference.support_texts is None  # bands alone keep no response sample
    test = fixture_data.content.splits["test"]
    keys = [reference.resolve(str(r.bucket)) for r in test]
    x = extract([r.response for r in test], [str(r.language) for r in test])
    low, high, scale = reference.band_arrays(keys)
    for i, key in enumerate(keys):
        band = reference.bands[key]
        assert np.array_equal(low[i], band.low) and np.array_equal(scale[i], band.scale)
    expected = support_distance(x, low, high, scale, reference.weight_vector(), reference.config.clip)
    d = SupportScorer(reference).score([r.response for r in test], [str(r.bucket) for r in test])
    np.testing.assert_array_equal(d, expected)


def test_scoring_input_checks_buckets_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    good = {"response": "Fine, thanks.", "bucket": "en|single|open_chat|short"}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "id": "x"}) + "\n", encoding="utf-8")
    assert [row["id"] for row in read_scoring_input(path)] == ["in.jsonl:1", "x"]
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "bucket": "en|single"}) + "\n")
    with pytest.raises(InputError, match=r"in\.jsonl:3: 'en\|single' is neither a bucket"):
        read_scoring_input(path)


def test_stage_writes_report_and_is_reused(fixture_data: Artifact[PreparedData], tmp_path: Path) -> None:
    first = reference_stage(fixture_data, ReferenceConfig(), root=tmp_path)
    assert first.folder == tmp_path / "reference" / first.key and not first.reused
    assert (first.folder / "report.md").is_file() and (first.folder / "manifest.json").is_file()
    assert first.manifest["parents"]["prepare"] == fixture_data.key
    heldout = [row for row in first.content.report.rows if row.heldout_n]
    assert heldout and all(0 <= row.heldout_mean < 0.5 for row in heldout)
    again = reference_stage(fixture_data, ReferenceConfig(), root=tmp_path)
    assert again.reused and again.content.report == first.content.report
    assert again.manifest == first.manifest and again.content.reference.stats == first.content.reference.stats


def test_perturbed_fixture_responses_score_higher(fixture_data: Artifact[PreparedData]) -> None:
    scorer = SupportScorer(build_reference(fixture_data.content.splits["train"], ReferenceConfig()))
    test = fixture_data.content.splits["test"]
    buckets = [str(r.bucket) for r in test]
    human = scorer.score([r.response for r in test], buckets)
    templated = scorer.score([TEMPLATE[str(r.language)].format(x=r.response) for r in test], buckets)
    assert templated.mean() > 3 * human.mean()


def _critic_examples(data: Artifact[PreparedData]) -> tuple[list[Example], list[Example]]:
    train = data.content.splits["train"]
    human = [Example(r.id, r.response, str(r.bucket)) for r in train]
    model = [Example(r.id, TEMPLATE[str(r.language)].format(x=first_sentence(r.response)), str(r.bucket))
             for r in train]  # fmt: skip
    return human, model


def test_critic_learns_and_round_trips(fixture_data: Artifact[PreparedData], tmp_path: Path) -> None:
    reference = build_reference(fixture_data.content.splits["train"], ReferenceConfig())
    human, model = _critic_examples(fixture_data)
    critic = train_critic(reference, human, model, seed=0)
    assert (
        critic.metrics.auc > 0.9 and critic.metrics.pair_accuracy > 0.9 and critic.metrics.heldout_pairs > 50
    )
    critic.save(tmp_path / "critic.json")
    loaded = HumanModelCritic.load(tmp_path / "critic.json")
    texts, buckets = [e.text for e in model[:5]], [e.bucket for e in model[:5]]
    np.testing.assert_array_equal(
        critic.score(reference, texts, buckets), loaded.score(reference, texts, buckets)
    )


def test_critic_refuses_constant_scores(fixture_data: Artifact[PreparedData]) -> None:
    reference = build_reference(fixture_data.content.splits["train"], ReferenceConfig())
    human, _ = _critic_examples(fixture_data)
    identical = [Example(e.pair_id, e.text, e.bucket) for e in human]  # "model" = human: nothing to learn
    with pytest.raises(CriticError, match=r"held-out scores are constant \(0\.5000 for every response\)"):
        train_critic(reference, human[:200], identical[:200], seed=0)
    with pytest.raises(CriticError, match="both human and model"):
        train_critic(reference, human, [], seed=0)


@pytest.mark.devcorpus
def test_dev_corpus_humans_beat_assistant_style_in_every_cell(dev_corpus: Path, tmp_path: Path) -> None:
    config = PrepareConfig(sources=[SourceConfig(path=str(dev_corpus / "*.jsonl"), format="polyalign")])
    data = prepare_stage(config, root=tmp_path, out=tmp_path / "prep", progress=False)
    scorer = SupportScorer(build_reference(data.content.splits["train"], ReferenceConfig()))
    test = data.content.splits["test"]
    buckets = [str(r.bucket) for r in test]
    human = scorer.score([r.response for r in test], buckets)
    templated = scorer.score([TEMPLATE[str(r.language)].format(x=r.response) for r in test], buckets)
    truncated_texts = [first_sentence(r.response) for r in test]
    truncated = scorer.score(truncated_texts, buckets)
    cells: dict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(test):
        cells[record.cell].append(i)
    assert len(cells) == 11
    truncation_detected = 0
    for idx in cells.values():
        assert human[idx].mean() < templated[idx].mean()  # the template: every cell
        changed = [i for i in idx if truncated_texts[i] != test[i].response]
        if human[changed].mean() < truncated[changed].mean():
            truncation_detected += 1
        elif len(changed) >= 20:  # cells where truncation matters must detect it
            pytest.fail(f"truncation not detected in {test[idx[0]].cell} ({len(changed)} responses changed)")
    assert truncation_detected >= 9
    assert 0.01 < human.mean() < 0.15  # the human floor (METHOD.md §3: 0.03-0.13 per cell)
    assert FEATURE_INDEX["length_units"] == 0
