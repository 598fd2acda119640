"""The neighbour and style terms of d(y, b) (reference/neighbours.py, style.py, terms.py) and their mixing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyalign.artifacts import Artifact
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import PreparedData, prepare_stage
from polyalign.errors import ConfigError, PolyAlignError
from polyalign.evaluate.degrade import plain_template
from polyalign.evaluate.stats import rank_auc
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.neighbours import NeighbourIndex
from polyalign.reference.reference import HumanReference, build_reference
from polyalign.reference.style import StyleProfile
from polyalign.reference.support import SupportScorer
from polyalign.reference.terms import UpperBand

BAND = (0.1, 0.9)


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory: pytest.TempPathFactory) -> Artifact[PreparedData]:
    config = PrepareConfig(sources=[SourceConfig(fixture=0)])
    return prepare_stage(config, root=tmp_path_factory.mktemp("prep"), progress=False)


def test_upper_band_by_hand() -> None:
    """Humans 0..10: q10 = 1, q90 = 9, IQR = 7.5 − 2.5 = 5 → H = 9, s = max(8, 5, floor) = 8.
    x = 9 → 0 (at H); 13 → 4/8 = 0.5; 100 → 91/8, clipped to 5; 5 → 0 (low values are never off)."""
    band = UpperBand.fit(np.arange(11.0), BAND, floor=0.05)
    assert (band.high, band.scale) == (9.0, 8.0)
    np.testing.assert_allclose(band.excess(np.array([9.0, 13.0, 100.0, 5.0]), clip=5.0), [0, 0.5, 5, 0])
    assert UpperBand.fit(np.zeros(5), BAND, floor=0.05).scale == 0.05  # constant humans: the floor


def test_neighbour_index_by_hand() -> None:
    """References [a], [a], [b] as unit vectors (1,0), (1,0), (0,1); k = 1, leave-one-out.
    LOO distances: 1 − 1 = 0, 0, and 1 − 0 = 1 → q10 = 0, q90 = 0.8, IQR = 0.5 → H = 0.8, s = 0.8.
    [a, c]: weights (1, 1), norm √2, only a is known → similarity 1/√2 with [a] → 1 − 1/√2.
    [a, a]: 1 + log 2 over its own norm → exactly (1, 0) → 0. [] → similarity 0 → 1."""
    index = NeighbourIndex([["a"], ["a"], ["b"]], k=1, band=BAND)
    assert index.band.high == pytest.approx(0.8) and index.band.scale == pytest.approx(0.8)
    distance = index.distance([["a", "c"], ["a", "a"], []])
    np.testing.assert_allclose(distance, [1 - 1 / np.sqrt(2), 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(index.band.excess(distance, clip=5.0), [0.0, 0.0, 0.25], atol=1e-12)
    assert NeighbourIndex([["a"], ["b"]], k=5, band=BAND).k == 1  # k never exceeds the other references


def test_style_profile_by_hand() -> None:
    """References [x y], [x y], [z]: n-grams {x, y, "x y"} (twice) and {z}. Leave-one-out, z is unseen
    and x, y, "x y" are seen once more → human novelty 0, 0, 1 → H = 0.8, s = 0.8 (as above).
    [x w]: {x, w, "x w"} at both edges, w and "x w" unseen → 2/3. With window 1, [q x y]: opening {q}
    unseen (1), closing {y} seen (0) → 0.5."""
    docs = [["x", "y"], ["x", "y"], ["z"]]
    profile = StyleProfile(docs, window=8, band=BAND)
    assert profile.band.high == pytest.approx(0.8) and profile.band.scale == pytest.approx(0.8)
    np.testing.assert_allclose(profile.novelty([["x", "w"], ["x", "y"], []]), [2 / 3, 0.0, 0.0])
    assert StyleProfile(docs, window=1, band=BAND).novelty([["q", "x", "y"]]).tolist() == [0.5]


def test_config_checks_the_terms() -> None:
    for terms in ({"bands": 1.0, "critic": 1.0}, {"bands": -1.0}, {"bands": 0.0}):
        with pytest.raises(ConfigError, match="support_terms"):
            ReferenceConfig(support_terms=terms)
    assert not ReferenceConfig(support_terms={"bands": 1.0, "style": 0.0}).needs_texts


def test_d_is_the_weighted_mean_of_bounded_terms(fixture_data: Artifact[PreparedData]) -> None:
    config = ReferenceConfig(support_terms={"bands": 1.0, "neighbours": 2.0, "style": 1.0})
    scorer = SupportScorer(build_reference(fixture_data.content.splits["train"], config))
    test = fixture_data.content.splits["test"][:40]
    odd = ["", "?", "zzz " * 500, "Ω" * 300, test[0].response * 20]  # empty, punctuation, garbage, repeats
    texts = [r.response for r in test] + odd
    buckets = [str(r.bucket) for r in test] + [str(test[0].bucket)] * len(odd)
    terms = scorer.terms(texts, buckets)
    d = scorer.score(texts, buckets)
    np.testing.assert_allclose(d, (terms["bands"] + 2 * terms["neighbours"] + terms["style"]) / 4)
    for values in (*terms.values(), d):
        assert np.all(np.isfinite(values)) and values.min() >= 0 and values.max() <= config.clip
    assert terms["neighbours"][-3] > 0 and terms["style"][-3] > 0  # garbage is far from every human
    assert np.median(terms["neighbours"][: len(test)]) == 0  # a typical human scores 0 on the term


@pytest.mark.slow
def test_deterministic_and_round_trips(fixture_data: Artifact[PreparedData], tmp_path: Path) -> None:
    train, test = fixture_data.content.splits["train"], fixture_data.content.splits["test"]
    config = ReferenceConfig(support_terms={"bands": 1.0, "neighbours": 1.0, "style": 1.0}, support_sample=30)
    first, second = build_reference(train, config), build_reference(train, config)
    assert first.support_texts == second.support_texts
    assert first.support_texts is not None
    assert set(first.support_texts) == set(first.stats)  # one sample per reference key
    assert all(len(t) == min(30, first.stats[k].n) for k, t in first.support_texts.items())
    first.save(tmp_path)
    loaded = HumanReference.load(tmp_path)
    assert loaded.support_texts == first.support_texts
    texts, buckets = [r.response for r in test], [str(r.bucket) for r in test]
    d = SupportScorer(first).score(texts, buckets)
    np.testing.assert_array_equal(d, SupportScorer(second).score(texts, buckets))
    np.testing.assert_array_equal(d, SupportScorer(loaded).score(texts, buckets))
    (tmp_path / "support_texts.json").unlink()  # a reference built without the sample
    with pytest.raises(PolyAlignError, match="rebuild"):
        SupportScorer(HumanReference.load(tmp_path))


def test_style_term_sees_the_phrase_free_wrapper(fixture_data: Artifact[PreparedData]) -> None:
    """On the fixture the bands barely notice the neutral wrapper; the learned style term does."""
    train, test = fixture_data.content.splits["train"], fixture_data.content.splits["test"]
    buckets = [str(r.bucket) for r in test]
    wrapped = [plain_template(r.response, str(r.language)) for r in test]
    auc = {}
    for name, terms in (("bands", {"bands": 1.0}), ("style", {"bands": 1.0, "style": 1.0})):
        scorer = SupportScorer(build_reference(train, ReferenceConfig(support_terms=terms)))
        human, degraded = scorer.score([r.response for r in test], buckets), scorer.score(wrapped, buckets)
        auc[name] = float(rank_auc(human[None], degraded[None])[0])
    assert auc["bands"] < 0.7 and auc["style"] > 0.9, auc
