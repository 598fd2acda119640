"""Self-BLEU and language fit by hand: the standard definitions on short responses (issue 12)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from polyalign.evaluate.distribution import language_fits, self_bleu_group


def test_self_bleu_smooths_missing_orders_by_nltk_method_2():
    """Two copies of 'a b': p1 = 2/2, p2 = (1 + 1)/(1 + 1), and orders 3 and 4 have no n-gram, so
    (0 + 1)/(max(1, 0) + 1) = ½ each: BLEU = (1 · 1 · ½ · ½)^¼ = 1/√2, brevity 1 (equal lengths).
    Add-one on an empty denominator would have given 1."""
    assert self_bleu_group([["a", "b"], ["a", "b"]]) == pytest.approx([1 / math.sqrt(2)] * 2)


def test_self_bleu_of_three_token_responses_by_hand():
    """'a b c' against 'a b d': p1 = 2/3, p2 = (1 + 1)/(2 + 1) = 2/3, p3 = (0 + 1)/(1 + 1) = ½,
    p4 = (0 + 1)/(1 + 1) = ½: BLEU = (4/9 · ¼)^¼ = (1/9)^¼ = 1/√3; symmetric."""
    assert self_bleu_group([["a", "b", "c"], ["a", "b", "d"]]) == pytest.approx([1 / math.sqrt(3)] * 2)


def test_self_bleu_brevity_and_no_unigram_match():
    """'a' against 'a b': p1 = 1, p2..p4 = ½ (no n-gram) → (⅛)^¼, brevity exp(1 − 2/1) = e⁻¹.
    'a b' against 'a': p1 = ½, p2 = (0 + 1)/(1 + 1) = ½, p3 = p4 = ½ → ½, brevity 1 (longer than its
    reference). An empty response or one with no unigram match scores 0."""
    values = self_bleu_group([["a"], ["a", "b"]])
    assert values == pytest.approx([0.125**0.25 * math.exp(-1), 0.5])
    assert self_bleu_group([["x"], ["y"], []]).tolist() == [0.0, 0.0, 0.0]
    assert np.all(np.isfinite(self_bleu_group([["a"], ["a"]])))


def test_language_fit_never_counts_an_abstention_as_wrong():
    """'Yes.' and 'no idea' are too short for the detector (unknown): in an English cell their Latin
    letters fit (1), in a Chinese cell they do not (0). '🙂' and '' have no letters: n/a (nan). A
    detected language counts as detected: '好的' is zh, so 0 in an English cell; 'ok 好' is mixed: 0."""
    texts = ["Yes.", "no idea", "Yes.", "🙂", "", "好的", "好的", "ok 好"]
    languages = ["en", "en", "zh", "en", "zh", "zh", "en", "zh"]
    values = language_fits(texts, languages)
    assert values[[0, 1, 2, 5, 6, 7]].tolist() == [1.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    assert np.isnan(values[[3, 4]]).all()
    assert np.nanmean(values) == pytest.approx(3 / 6)
