"""Degradations the metric-validity benchmark applies: what each one changes, and what it must not."""

from __future__ import annotations

import pytest

from polyalign.data.records import Message, Record
from polyalign.evaluate.degrade import (
    PLAIN_PHRASES,
    degrade,
    first_sentence,
    halve,
    plain_template,
    repeat,
    truncate,
)
from polyalign.reference import features
from polyalign.reference.features import extract_one

MARKERS = ("first_person_per_unit", "second_person_per_unit", "hedges_per_unit",
           "discourse_markers_per_unit", "assistant_formulae")  # fmt: skip


@pytest.mark.parametrize("language", ["en", "zh"])
def test_plain_template_phrases_are_in_no_feature_list(language: str) -> None:
    """Only the template's shape (lines, bullets, length) may give it away, never a phrase list."""
    lists = features._EN_LISTS if language == "en" else features._ZH_LISTS
    for phrase in PLAIN_PHRASES[language]:
        words = set(features.tokenize(phrase, language))
        assert words and not words & set().union(*lists.values()), phrase
        assert features._FORMULAE[language].search(phrase) is None, phrase
        assert all(extract_one(phrase, language)[name] == 0 for name in MARKERS), phrase
    shaped = extract_one(plain_template("Een. Twee. Drie.", language), language)
    assert shaped["bullets"] == 3 and all(shaped[name] == 0 for name in MARKERS)


def test_plain_template_keeps_the_response_between_its_phrases() -> None:
    opening, closing = PLAIN_PHRASES["en"]
    assert (
        plain_template(" Rain today. Sun later! ", "en")
        == f"{opening}\n\n- Rain today.\n- Sun later!\n\n{closing}"
    )


def test_first_sentence_halve_and_repeat() -> None:
    assert first_sentence("One. Two. Three.") == "One." and first_sentence(" Just one ") == "Just one"
    assert truncate("Just one") == "Ju"  # truncate still cuts a one-sentence answer to a quarter
    assert [halve(t) for t in ("One. Two. Three.", "One. Two.", "Wait... what? Yes! OK.", "Only one")] == [
        "One. Two.", "One.", "Wait... what?", "Only one"]  # fmt: skip
    assert halve("你好。我很好！谢谢。再见") == "你好。我很好！"
    assert halve("It costs 3.5 euros. That is all. Bye.") == "It costs 3.5 euros. That is all."
    assert repeat(" Yes. ") == "Yes. Yes."


def _record(i: int, language: str, family: str) -> Record:
    messages = (Message("user", "q"), Message("assistant", f"{language}-{family}-{i}"))
    return Record(f"{language}{family}{i}", "s", language, "single", family, messages)


def test_swapped_answers_come_from_another_cell_of_the_same_language() -> None:
    records = [
        _record(i, lang, fam) for lang in ("en", "zh") for fam in ("open_chat", "qa_search") for i in range(5)
    ]
    responses = {r.id: r.response for r in records}
    swapped = degrade(records, responses, "swapped", seed=3)
    assert swapped == degrade(records, responses, "swapped", seed=3)
    for record in records:
        language, family, _ = swapped[record.id].split("-")
        assert language == record.language and family != record.family
    with pytest.raises(ValueError, match="of the same language"):
        degrade([r for r in records if r.family == "open_chat"], responses, "swapped")
    with pytest.raises(ValueError, match="unknown degradation 'x'"):
        degrade(records, responses, "x")
