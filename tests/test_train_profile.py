"""Response profile (train/profile.py) and record conversion (train/data.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from polyalign.data.prompts import (
    Profile,
    fit_history,
    inference_messages,
    inference_profile,
    profile_text,
    round_length,
    with_profile,
)
from polyalign.data.records import Message, Record
from polyalign.errors import PolyAlignError
from polyalign.train.data import record_row, records_to_dataset

CELL_LENGTHS = [3, 5, 8, 40, 41, 90, 200]
HUMAN_LENGTHS = {"en|multi|task_dialogue": CELL_LENGTHS}  # one cell's human lengths, as a reference gives


def record(response: str, units: int) -> Record:
    return Record(
        id="r1",
        source="s",
        language="en",
        track="multi",
        family="task_dialogue",
        messages=(
            Message("user", "Hi, I need a hotel."),
            Message("assistant", "Which area?"),
            Message("user", "North, cheap."),
            Message("assistant", response),
        ),
        length_units=units,
        length_bin="short",
        bucket="en|multi|task_dialogue|short",
    )


def test_profile_text_en_and_zh() -> None:
    assert profile_text("en", "single", "qa_search", 37) == (
        "Response profile: language: English; conversation: single-turn; style: question answering; "
        "target length: about 35 words."
    )
    assert (
        profile_text("zh", "multi", "open_chat", None) == "回复画像：语言：中文；对话：多轮；风格：开放闲聊。"
    )
    assert [round_length(n) for n in (7, 23, 101, 333)] == [7, 25, 100, 350]


def test_profile_text_refuses_a_language_without_wording() -> None:
    with pytest.raises(PolyAlignError, match=r"language 'fr'; profile texts exist for \['en', 'zh'\]"):
        profile_text("fr", "single", "open_chat", 20)


def test_with_profile_merges_an_existing_system_prompt() -> None:
    profile = Profile("en", "single", "open_chat", None, "none")
    merged = with_profile([Message("system", "Be kind."), Message("user", "hi")], profile)
    assert merged[0] == {"role": "system", "content": profile.text() + "\n\nBe kind."}
    assert with_profile([Message("user", "hi")], None) == [{"role": "user", "content": "hi"}]


def test_training_row_uses_the_records_own_profile_and_response_only_as_completion() -> None:
    row = record_row(record("A quiet place in the north, 40 a night.", 10), profile=True)
    assert row["prompt"][0]["content"].endswith("target length: about 10 words.")
    assert row["completion"] == [{"role": "assistant", "content": "A quiet place in the north, 40 a night."}]
    assert all("40 a night" not in m["content"] for m in row["prompt"])
    assert [m["role"] for m in row["prompt"]] == ["system", "user", "assistant", "user"]
    plain = record_row(record("x", 1), profile=False)
    assert plain["prompt"][0]["role"] == "user" and plain["bucket"] == "en|multi|task_dialogue|short"


def test_length_dropout_is_seeded_per_record() -> None:
    records = [dataclasses.replace(record("ok", 1), id=f"r{i}") for i in range(400)]
    rows = [record_row(r, True, length_dropout=0.25, seed=1) for r in records]
    no_length = sum("target length" not in row["prompt"][0]["content"] for row in rows)
    assert 60 < no_length < 140
    again = [record_row(r, True, length_dropout=0.25, seed=1) for r in records]
    assert rows == again


def test_inference_length_never_depends_on_the_gold_answer() -> None:
    """Records that differ only in their gold response (and length) get the same profile and prompt."""
    ref = HUMAN_LENGTHS
    short, long = record("Which area?", 2), record("word " * 300, 300)
    a_messages, a_profile = inference_messages(short, ref, "sample", np.random.default_rng(7))
    b_messages, b_profile = inference_messages(long, ref, "sample", np.random.default_rng(7))
    assert a_profile == b_profile and a_messages == b_messages
    assert a_profile.length_source == "sample" and a_profile.target_length in CELL_LENGTHS
    assert all("word word" not in m["content"] for m in a_messages)
    assert a_messages[-1] == {"role": "user", "content": "North, cheap."}  # gold answer dropped


def test_sampled_lengths_reproduce_the_cell_distribution() -> None:
    rng = np.random.default_rng(0)
    lengths = [
        inference_profile("en", "multi", "task_dialogue", HUMAN_LENGTHS, "sample", rng).target_length
        for _ in range(7000)
    ]
    counts = np.array([lengths.count(n) for n in CELL_LENGTHS]) / 7000
    np.testing.assert_allclose(counts, 1 / 7, atol=0.02)


def test_none_and_user_modes_and_errors() -> None:
    ref = HUMAN_LENGTHS
    assert inference_profile("en", "multi", "task_dialogue", ref, "none").target_length is None
    user = inference_profile("en", "multi", "task_dialogue", None, 55)
    assert (user.target_length, user.length_source) == (55, "user")
    assert user.to_dict() == {
        "language": "en",
        "track": "multi",
        "family": "task_dialogue",
        "target_length": 55,
        "length_source": "user",
    }
    with pytest.raises(PolyAlignError, match="seeded"):
        inference_profile("en", "multi", "task_dialogue", ref, "sample")
    with pytest.raises(PolyAlignError, match="known cells"):
        inference_profile("zh", "multi", "qa_search", ref, "sample", np.random.default_rng(0))
    with pytest.raises(PolyAlignError, match="length mode"):
        inference_profile("en", "multi", "task_dialogue", ref, "gold", np.random.default_rng(0))


def test_fit_history_drops_oldest_exchanges_only() -> None:
    row = record_row(record("fine", 1), profile=True)

    def count(messages: list[dict[str, str]]) -> int:
        return 10 * len(messages)  # 10 tokens a message

    assert fit_history(dict(row), count, 100) == 0
    fitted = dict(row)
    assert fit_history(fitted, count, 40) == 1  # system, last user, completion = 30 tokens
    assert [m["role"] for m in fitted["prompt"]] == ["system", "user"]
    assert fitted["prompt"][-1]["content"] == "North, cheap."
    squeezed = dict(row)
    assert fit_history(squeezed, count, 10) == 1  # never drops the last user turn or the profile


def test_records_to_dataset_keeps_bucket_column() -> None:
    dataset, fit = records_to_dataset([record("fine", 1)], profile=False)
    assert dataset.column_names == ["id", "bucket", "prompt", "completion"]
    assert fit.summary() == {"history_exchanges_trimmed": {}, "responses_cut": {}, "dropped_for_length": {}}
