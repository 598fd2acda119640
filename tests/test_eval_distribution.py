"""Self-BLEU and language fit by hand: the standard definitions on short responses (issue 12)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from polyalign.evaluate.distribution import self_bleu_group


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
