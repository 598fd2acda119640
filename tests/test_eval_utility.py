"""Utility metrics: per-character Chinese tokens, SQuAD normalisation, bit-parallel LCS, chrF."""

from __future__ import annotations

import random

import pytest

from polyalign.evaluate.utility import exact_match, lcs_length, rouge_l, token_f1, tokenize, utility_scores


def test_chinese_is_tokenised_per_character_and_latin_per_word():
    assert tokenize("北京是首都。Hello, World 2024！") == [
        "北",
        "京",
        "是",
        "首",
        "都",
        "hello",
        "world",
        "2024",
    ]


def test_english_normalisation_drops_case_punctuation_and_articles():
    assert exact_match(tokenize("The Eiffel Tower."), tokenize("eiffel  tower")) == 1.0


def test_chinese_f1_differs_from_em_on_partial_overlap():
    """Reference 北京是中国的首都 (8 chars), prediction 北京是首都 (5 chars), all 5 shared:
    P = 5/5, R = 5/8, F1 = 2·1·0.625 / 1.625 = 10/13. A whitespace tokeniser sees one token each
    side and gives F1 = EM = 0."""
    prediction, reference = tokenize("北京是首都"), tokenize("北京是中国的首都")
    assert exact_match(prediction, reference) == 0.0
    assert token_f1(prediction, reference) == pytest.approx(10 / 13)
    assert token_f1(["北京是首都"], ["北京是中国的首都"]) == 0.0  # the authors' tokeniser


def test_f1_edge_cases():
    assert token_f1([], []) == 1.0
    assert token_f1(["a"], []) == 0.0
    assert token_f1(["x", "y"], ["z"]) == 0.0


def _lcs_dp(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def test_bit_parallel_lcs_matches_dynamic_programming():
    rng = random.Random(0)
    for _ in range(200):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 30))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 30))]
        assert lcs_length(a, b) == _lcs_dp(a, b)


def test_rouge_l_by_hand():
    """LCS(a b c d, a c d e) = 3 (a c d): P = R = 3/4, F1 = 0.75."""
    assert rouge_l(list("abcd"), list("acde")) == pytest.approx(0.75)


def test_utility_scores_identity_and_empty():
    scores = utility_scores(["你好，世界", ""], ["你好，世界", "something"])
    assert scores["em"].tolist() == [1.0, 0.0]
    assert scores["chrf"][0] == pytest.approx(1.0)
    assert scores["token_f1"][1] == 0.0 and scores["chrf"][1] == 0.0


def test_an_empty_prediction_scores_zero_unless_the_reference_is_empty_too():
    """'' vs '?' and '' vs an emoji have no word tokens on either side: the texts differ, so 0 (SQuAD's
    token convention would give 1). '' vs '' and '?' vs ' ? ' agree on their normalised text: 1."""
    scores = utility_scores(["", "", "", "?", "!"], ["?", "🙂", "", " ? ", "?"])
    for name in ("em", "token_f1", "rouge_l"):
        assert scores[name].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0], name
