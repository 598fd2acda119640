from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from polyalign.reference import features
from polyalign.reference.features import FEATURE_INDEX, FEATURE_NAMES, FEATURES, extract, extract_one


def value(text: str, language: str, name: str) -> float:
    return extract_one(text, language)[name]


def test_registry_is_documented_and_stable() -> None:
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) == len(FEATURES)
    assert FEATURE_NAMES[0] == "length_units"
    assert all(f.definition and f.why for f in FEATURES)


def test_english_by_hand() -> None:
    text = "I think you are right. Maybe we should go?\n\n- first\n- second"
    assert value(text, "en", "sentences") == 4  # two sentences and two list lines
    assert value(text, "en", "questions") == 1
    assert value(text, "en", "bullets") == 2
    assert value(text, "en", "paragraphs") == 2
    # I think you are right . Maybe we should go ? - first - second: 11 words + 4 marks = 15 units
    assert value(text, "en", "length_units") == 15
    assert value(text, "en", "first_person_per_unit") == pytest.approx(2 / 15)  # I, we
    assert value(text, "en", "second_person_per_unit") == pytest.approx(1 / 15)  # you
    assert value(text, "en", "hedges_per_unit") == pytest.approx(1 / 15)  # maybe
    assert value("the the the the", "en", "word_entropy") == 0.0
    assert value("a b a b", "en", "type_token_ratio") == 0.5


def test_chinese_uses_segmented_words_and_chinese_lists() -> None:
    text = "我们可能明天去北京，你觉得怎么样？"
    assert value(text, "zh", "questions") == 1
    assert value(text, "zh", "first_person_per_unit") > 0  # 我们 is one segmented word
    assert value(text, "zh", "hedges_per_unit") > 0  # 可能
    assert value(text, "zh", "second_person_per_unit") > 0  # 你
    assert value(text, "zh", "fullwidth_punct_share") == 1.0
    assert value("Hello, world.", "en", "fullwidth_punct_share") == 0.0
    assert value("以下是答案：希望对你有帮助！", "zh", "assistant_formulae") == 2
    assert value("Sure! Here are some ideas. I hope this helps.", "en", "assistant_formulae") == 3


def test_finite_on_awkward_inputs() -> None:
    awkward = [
        "",
        "😀😀😀",
        "```python\nprint(1)\n```",
        "Mixed 中英文 text 混合",
        "word " * 20_000,
        "\n\n\n",
        "？？？",
    ]
    for language in ("en", "zh"):
        x = extract(awkward, language)
        assert x.shape == (len(awkward), len(FEATURE_NAMES))
        assert np.isfinite(x).all()


def test_batch_equals_rows_and_languages_are_checked() -> None:
    texts, languages = ["Hello there.", "你好。"], ["en", "zh"]
    x = extract(texts, languages)
    rows = [extract_one(t, lang) for t, lang in zip(texts, languages, strict=True)]
    assert x.tolist() == [[row[name] for name in FEATURE_NAMES] for row in rows]
    with pytest.raises(ValueError, match="no feature definitions"):
        extract(["Bonjour"], "fr")
    with pytest.raises(ValueError, match="2 texts but 1 languages"):
        extract(texts, ["en"])


MIXED = (["I think you are right. Maybe we should go?\n\n- first\n- second",
          "Sure! Here are 3 ideas: **one**, `two`...",
          "我们可能明天去北京，你觉得怎么样？", "以下是答案：\n1. 第一\n2. 第二！希望对你有帮助！"],
         ["en", "en", "zh", "zh"])  # fmt: skip


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_reordering_the_registry_cannot_mislabel_a_column(
    monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """Each column is computed by the registry entry that names it: permute the registry and every named
    column still holds the same values (the columns are distinct, so a mislabel would show)."""
    texts, languages = MIXED
    before = extract(texts, languages)
    assert len({tuple(column) for column in before.T}) > len(FEATURES) // 2
    permuted = (
        FEATURES[::-1] if order == "reversed" else tuple(np.random.default_rng(0).permutation(FEATURES))
    )
    monkeypatch.setattr(features, "FEATURES", permuted)
    after = extract(texts, languages)
    for j, feature in enumerate(permuted):
        np.testing.assert_array_equal(
            after[:, j], before[:, FEATURE_INDEX[feature.name]], err_msg=feature.name
        )
    assert extract_one(texts[2], "zh") == {name: before[2, FEATURE_INDEX[name]] for name in FEATURE_NAMES}


def test_a_feature_names_its_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    english_only = tuple(dataclasses.replace(f, languages=("en",)) if f.name == "hedges_per_unit" else f
                         for f in FEATURES)  # fmt: skip
    monkeypatch.setattr(features, "FEATURES", english_only)
    assert extract(["Maybe."], "en").shape == (1, len(FEATURES))
    with pytest.raises(ValueError, match=r"'zh' \(lacking: hedges_per_unit\); supported: \['en'\]"):
        extract(["也许。"], "zh")
    assert all(f.languages == ("en", "zh") for f in FEATURES)
