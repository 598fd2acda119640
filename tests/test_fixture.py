"""The synthetic fixture corpus: deterministic, every bucket filled, shaped like the data it stands in for."""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from polyalign.data.buckets import FAMILIES, LENGTH_BINS, TRACKS, length_bin, length_units
from polyalign.data.fixture.generator import LANGUAGES, make_fixture_corpus, write_fixture_corpus
from polyalign.data.normalize import normalize_text
from polyalign.data.records import DERIVED_FIELDS, Record, read_records

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def corpus() -> list[Record]:
    return make_fixture_corpus(seed=0)


def _bucket(record: Record) -> tuple[str | None, ...]:
    """Recomputed from the response, not read from the record's own meta."""
    return (record.language, record.track, record.family, length_bin(length_units(record.response)))


def _dicts(records: list[Record]) -> list[dict]:
    return [r.to_dict() for r in records]


def test_same_seed_gives_the_same_corpus(corpus: list[Record]) -> None:
    assert _dicts(make_fixture_corpus(seed=0)) == _dicts(corpus)


def test_other_seed_gives_other_texts(corpus: list[Record]) -> None:
    """Short chit-chat may coincide; whole conversations almost never do."""
    other = {r.messages for r in make_fixture_corpus(seed=1)}
    shared = sum(r.messages in other for r in corpus)
    assert shared < 0.05 * len(corpus)


def test_ids_sources_and_fields(corpus: list[Record]) -> None:
    assert 2000 <= len(corpus) <= 2800
    assert len({r.id for r in corpus}) == len(corpus)
    for record in corpus:
        assert re.fullmatch(rf"fixture-{record.language}:\d{{6}}", record.id)
        assert record.source == f"fixture-{record.language}-{record.family}"
        assert record.meta["synthetic"] is True
        assert all(getattr(record, name) is None for name in DERIVED_FIELDS), "prepare derives these"


def test_every_bucket_is_filled_in_its_intended_bin(corpus: list[Record]) -> None:
    counts = Counter(_bucket(r) for r in corpus)
    assert set(counts) == set(itertools.product(LANGUAGES, TRACKS, FAMILIES, LENGTH_BINS))
    assert all(r.meta["intended_length_bin"] == _bucket(r)[-1] for r in corpus)


def test_a_few_buckets_are_sparse_and_most_are_not(corpus: list[Record]) -> None:
    sizes = Counter(_bucket(r) for r in corpus).values()
    assert 5 <= sum(n < 10 for n in sizes) <= 12
    assert sum(n >= 20 for n in sizes) >= 68


def test_track_matches_the_number_of_user_turns(corpus: list[Record]) -> None:
    for record in corpus:
        assert (record.track == "single") == (record.n_user_turns == 1), record.id
    singles = [r for r in corpus if r.track == "single"]
    assert any(r.messages[0].role == "system" for r in singles)
    assert all(len(r.messages) == 2 for r in singles if r.messages[0].role != "system")


def test_records_of_a_dialogue_are_prefixes_of_its_longest_record(corpus: list[Record]) -> None:
    """No record may hold a later turn of its dialogue in its history."""
    dialogues: defaultdict[str, list[Record]] = defaultdict(list)
    for record in corpus:
        if record.track == "multi":
            dialogues[record.meta["dialogue"]].append(record)
    assert any(len(records) >= 3 for records in dialogues.values())
    for records in dialogues.values():
        longest = max(records, key=lambda r: len(r.messages))
        for record in records:
            assert record.messages == longest.messages[: len(record.messages)], record.id
            assert (record.source, record.track) == (longest.source, longest.track)
        assert len({len(r.messages) for r in records}) == len(records), "one record per target turn"


def test_qa_passages_are_shared_by_several_questions(corpus: list[Record]) -> None:
    questions: defaultdict[str, set[str]] = defaultdict(set)
    for record in corpus:
        if record.meta.get("has_context"):
            assert (record.track, record.family) == ("single", "qa_search")
            passage, question = record.messages[-2].content.split("\n\n")
            assert len(passage) >= 250
            questions[passage].add(question)
    assert sum(len(q) >= 2 for q in questions.values()) >= 10


def test_chinese_is_chinese_and_english_is_ascii(corpus: list[Record]) -> None:
    for record in corpus:
        if record.language == "zh":
            assert _CJK.search(record.response), record.id
            assert len(_LATIN.findall(record.response)) <= 3, record.id
            assert not re.search(r"[,?!:;]", record.response), "full-width punctuation in Chinese"
        else:
            assert all(m.content.isascii() for m in record.messages), record.id


def test_families_look_like_themselves(corpus: list[Record]) -> None:
    """The style differences that feature-based tests downstream rely on."""
    for language in LANGUAGES:
        responses: defaultdict[str, list[str]] = defaultdict(list)
        for record in corpus:
            if record.language == language:
                responses[record.family].append(record.response)

        def share(family: str, pattern: str, responses: defaultdict[str, list[str]] = responses) -> float:
            return sum(bool(re.search(pattern, text)) for text in responses[family]) / len(responses[family])

        for marker in (r"\n- ", r"\n1\. ", r"\n## "):
            assert share("assistant_like", marker) > 0.1, marker
        assert share("open_chat", r"[?？!！]") > 3 * share("longform_qa", r"[?？!！]")
        assert share("task_dialogue", r"\d") > 0.8
        assert share("qa_search", r"\d") > share("longform_qa", r"\d")


def test_planted_duplicates_are_the_only_exact_copies(corpus: list[Record]) -> None:
    by_id = {r.id: r for r in corpus}
    planted = [r for r in corpus if "planted_duplicate_of" in r.meta]
    assert 5 <= len(planted) <= 10
    for copy in planted:
        original = by_id[copy.meta["planted_duplicate_of"]]
        assert copy.id != original.id
        assert copy.messages == original.messages
        assert (copy.source, copy.language, copy.track, copy.family) == (
            original.source,
            original.language,
            original.track,
            original.family,
        )
    assert len(corpus) - len({r.messages for r in corpus}) == len(planted)


def test_texts_are_already_normalised(corpus: list[Record]) -> None:
    """So normalisation in prepare cannot create or hide duplicates."""
    assert all(normalize_text(m.content) == m.content for r in corpus for m in r.messages)


def test_jsonl_round_trip(tmp_path: Path, corpus: list[Record]) -> None:
    path = tmp_path / "fixture.jsonl"
    assert write_fixture_corpus(path, seed=0) == len(corpus)
    assert _dicts(list(read_records(path))) == _dicts(corpus)


def test_records_validate(corpus: list[Record]) -> None:
    """from_dict checks the schema and that roles alternate, ending with the assistant."""
    assert _dicts([Record.from_dict(r.to_dict()) for r in corpus]) == _dicts(corpus)
