"""The length, neighbour and style terms of d(y, b) (reference/support.py, neighbours.py, style.py, terms.py)
and their mixing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyalign.artifacts import Artifact
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import PreparedData, prepare_stage
from polyalign.data.records import Message, Record
from polyalign.errors import ConfigError, PolyAlignError
from polyalign.evaluate.degrade import halve, plain_template
from polyalign.evaluate.stats import rank_auc
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.neighbours import NeighbourIndex
from polyalign.reference.reference import HumanReference, build_reference
from polyalign.reference.style import StyleProfile
from polyalign.reference.support import SupportScorer
from polyalign.reference.terms import LengthBand, UpperBand

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


def test_length_band_by_hand() -> None:
    """Band [20, 80] units, quartiles 30 and 60, bin (40, 120]: low = log 20 (the band reaches below the
    bin), high = log 120 (the bin reaches above the band), s = max(log 4, log 2, log 2) = log 4.
    Open bins: (0, 40] has no lower end (a length under 1 counts as 1, log 1 = 0), (240, inf) no upper one.
    A narrow band (100-110) takes the floor: s = log 2. A whole cell (no bin) keeps the band alone."""
    band = LengthBand.fit([20.0, 80.0, 30.0, 60.0], (40.0, 120.0))
    np.testing.assert_allclose([band.low, band.high, band.scale], np.log([20.0, 120.0, 4.0]))
    short = LengthBand.fit([5.0, 30.0, 8.0, 20.0], (0.0, 40.0))
    assert short.low == 0.0 and short.high == pytest.approx(np.log(40.0))
    assert LengthBand.fit([300.0, 900.0, 400.0, 600.0], (240.0, np.inf)).high == np.inf
    narrow = LengthBand.fit([100.0, 110.0, 102.0, 108.0], None)
    np.testing.assert_allclose([narrow.low, narrow.high, narrow.scale], np.log([100.0, 110.0, 2.0]))


def long_answer(sentences: int, seed: int) -> str:
    """`sentences` sentences of 8 words and a full stop (9 length units each), word order rotated per seed."""
    words = ["river", "stone", "garden", "window", "letter", "market", "summer", "bridge"]
    lines = [words[(seed + k) % 8 :] + words[: (seed + k) % 8] for k in range(sentences)]
    return " ".join(" ".join(line).capitalize() + "." for line in lines)


def test_length_term_sees_a_halved_long_answer() -> None:
    """A `long` bucket (paper bin (120, 240]) of 26 answers, 14..26 sentences twice each: 126, 126, 135, ...,
    234 units. q10 (position 2.5) = 135, q90 (22.5) = 225, q25 (6.25) = 153, q75 (18.75) = 207, so the band
    is the bin, [log 120, log 240], and s = max(log 225/135, log 207/153, log 2) = log 2: the term is
    log2 of the factor past the bin. Human of 20 sentences (180 units): 0. Its first half (90 units):
    log2(120/90) = log2(4/3). 40 sentences (360): log2(1.5). 30 units: log2(4) = 2. Empty: log2(120) → 5."""
    bucket = "en|single|longform_qa|long"
    train = [
        Record(f"r{i}", "s", "en", "single", "longform_qa", (Message("user", "Explain."), Message("assistant",
               long_answer(14 + i // 2, i))), split="train", length_bin="long", bucket=bucket)
        for i in range(26)
    ]  # fmt: skip
    scorer = SupportScorer(build_reference(train, ReferenceConfig()))
    human = long_answer(20, 99)
    texts = [human, halve(human), long_answer(40, 99), "stone " * 29 + ".", ""]
    terms = scorer.terms(texts, [bucket] * len(texts))
    np.testing.assert_allclose(terms["length"], [0.0, np.log2(4 / 3), np.log2(1.5), 2.0, 5.0], atol=1e-12)
    assert terms["bands"][1] < terms["length"][1]  # length is 1 of the bands' features, in raw units
    d = scorer.score(texts[:2], [bucket] * 2)
    assert d[1] > d[0], d
    assert set(terms) == {"bands", "length", "neighbours"}  # the default terms


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
    assert not ReferenceConfig(support_terms={"bands": 1.0, "length": 1.0, "style": 0.0}).needs_texts


def test_d_is_the_weighted_mean_of_bounded_terms(fixture_data: Artifact[PreparedData]) -> None:
    config = ReferenceConfig(support_terms={"bands": 1.0, "length": 1.0, "neighbours": 2.0, "style": 1.0})
    scorer = SupportScorer(build_reference(fixture_data.content.splits["train"], config))
    test = fixture_data.content.splits["test"][:40]
    odd = ["", "?", "zzz " * 500, "Ω" * 300, test[0].response * 20]  # empty, punctuation, garbage, repeats
    texts = [r.response for r in test] + odd
    buckets = [str(r.bucket) for r in test] + [str(test[0].bucket)] * len(odd)
    terms = scorer.terms(texts, buckets)
    d = scorer.score(texts, buckets)
    np.testing.assert_allclose(
        d, (terms["bands"] + terms["length"] + 2 * terms["neighbours"] + terms["style"]) / 5
    )
    for values in (*terms.values(), d):
        assert np.all(np.isfinite(values)) and values.min() >= 0 and values.max() <= config.clip
    assert terms["neighbours"][-3] > 0 and terms["style"][-3] > 0  # garbage is far from every human
    assert np.median(terms["neighbours"][: len(test)]) == 0  # a typical human scores 0 on the term
    assert not terms["length"][: len(test)].any()  # a human answer lies in its bucket's length bin
    assert terms["length"][-5] == config.clip and terms["length"][-3] > 0  # empty; 500 words in a test bucket


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
    """The template's opening and closing lines are in no phrase list; the style term, learned from the
    bucket's own human responses, still tells the wrapped answers from the human ones."""
    train, test = fixture_data.content.splits["train"], fixture_data.content.splits["test"]
    buckets = [str(r.bucket) for r in test]
    wrapped = [plain_template(r.response, str(r.language)) for r in test]
    scorer = SupportScorer(
        build_reference(train, ReferenceConfig(support_terms={"bands": 1.0, "style": 1.0}))
    )
    human = scorer.terms([r.response for r in test], buckets)["style"]
    degraded = scorer.terms(wrapped, buckets)["style"]
    assert float(rank_auc(human[None], degraded[None])[0]) > 0.9
