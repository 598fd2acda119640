"""Fitting training rows and preference pairs to `max_length` (train/data.py): the budget is the prompt as
Bucket-SFT sees it (profile, length stated) for every method, so SFT and Bucket-SFT keep the same history,
the same response tokens and the same records.

The tokenizer is the tests' tiny byte-level BPE with ChatML, where a conversation renders additively:
`count(prompt + [assistant y]) = count(prompt, generation prompt) + tokens(y) + 2` (`<|im_end|>`, `\\n`).
Each expected cut below is worked from that identity.
"""

from __future__ import annotations

import dataclasses

from train_helpers import tokenizer

from polyalign.data.prompts import training_profile, with_profile
from polyalign.data.records import Message, Record
from polyalign.train.data import (
    PROMPT_TOO_LONG,
    LengthFit,
    fit_pairs,
    record_row,
    records_to_dataset,
    token_counter,
)

BUCKET = "en|multi|task_dialogue|long"
LONG = " ".join(f"word{i % 10}" for i in range(60))  # 60 words, well over the budgets below


def record(response: str, record_id: str = "r1", last_user: str = "North, cheap.") -> Record:
    return Record(
        id=record_id,
        source="s",
        language="en",
        track="multi",
        family="task_dialogue",
        messages=(
            Message("user", "Hi, I need a hotel for two nights in the city."),
            Message("assistant", "Which area would you like?"),
            Message("user", last_user),
            Message("assistant", response),
        ),
        length_units=len(response.split()),
        length_bin="long",
        bucket=BUCKET,
    )


def _response_tokens(text: str) -> tuple[list[int], list[int]]:
    encoded = tokenizer()(text, add_special_tokens=False, return_offsets_mapping=True)
    return encoded["input_ids"], [end for _, end in encoded["offset_mapping"]]


def _profile_prompt(r: Record, keep_history: bool) -> list[dict[str, str]]:
    prompt = with_profile(r.prompt_messages, training_profile(r))
    return prompt if keep_history else [prompt[0], prompt[-1]]


def test_a_long_response_is_cut_to_the_same_tokens_with_the_same_history_for_sft_and_bucket_sft() -> None:
    """Budget: the profile prompt without its first exchange renders P tokens with the generation prompt;
    max_length = P + 10 + 2 leaves room for exactly 10 response tokens (+ `<|im_end|>\\n`). The history
    does not fit beside the response (it is dropped first), so both methods keep only the last user turn
    and the first 10 tokens of the response: the text up to the 10th token's last character."""
    r = record(LONG)
    count = token_counter(tokenizer())
    p = count(_profile_prompt(r, keep_history=False), add_generation_prompt=True)
    max_length = p + 10 + 2
    _, ends = _response_tokens(LONG)

    sft, sft_fit = records_to_dataset([r], False, tokenizer=tokenizer(), max_length=max_length)
    bucket, bucket_fit = records_to_dataset([r], True, tokenizer=tokenizer(), max_length=max_length)
    (sft_row,), (bucket_row,) = sft.to_list(), bucket.to_list()

    expected = [{"role": "assistant", "content": LONG[: ends[9]]}]
    assert sft_row["completion"] == bucket_row["completion"] == expected
    assert sft_row["prompt"] == [{"role": "user", "content": "North, cheap."}]
    assert bucket_row["prompt"] == [_profile_prompt(r, keep_history=False)[0], sft_row["prompt"][0]]
    assert count(bucket_row["prompt"] + bucket_row["completion"]) == max_length  # TRL truncates nothing
    assert count(sft_row["prompt"] + sft_row["completion"]) < max_length
    for fit in (sft_fit, bucket_fit):
        assert fit.summary() == {
            "history_exchanges_trimmed": {BUCKET: 1},
            "responses_cut": {BUCKET: 1},
            "dropped_for_length": {},
        }
        assert fit.profile_prompt_tokens == {"r1": p}


def test_the_length_dropout_coin_does_not_change_the_cut() -> None:
    """A Bucket-SFT row whose profile states no length is fitted by the profile with length, like SFT."""
    r = record(LONG)
    count = token_counter(tokenizer())
    max_length = count(_profile_prompt(r, keep_history=False), add_generation_prompt=True) + 12
    plain, _ = records_to_dataset([r], False, tokenizer=tokenizer(), max_length=max_length)
    coin, _ = records_to_dataset(
        [r], True, length_dropout=0.999, tokenizer=tokenizer(), max_length=max_length
    )
    (plain_row,), (coin_row,) = plain.to_list(), coin.to_list()
    assert "target length" not in coin_row["prompt"][0]["content"]  # the coin dropped the length
    assert coin_row["completion"] == plain_row["completion"] and len(coin_row["prompt"]) == 2


def test_a_cjk_response_is_cut_between_characters() -> None:
    """Byte-level BPE splits a CJK character into several tokens; the cut keeps whole characters only,
    the longest prefix that fits (one character more would not)."""
    response = "我们明天早上九点在北京火车站见面吧" * 3
    r = dataclasses.replace(record(response), language="zh", bucket="zh|multi|task_dialogue|long")
    count = token_counter(tokenizer())
    max_length = count(_profile_prompt(r, keep_history=False), add_generation_prompt=True) + 9
    dataset, fit = records_to_dataset([r], False, tokenizer=tokenizer(), max_length=max_length)
    kept = dataset[0]["completion"][0]["content"]
    assert response.startswith(kept) and kept and fit.responses_cut == {"zh|multi|task_dialogue|long": 1}
    budget = _profile_prompt(r, keep_history=False)
    assert count([*budget, {"role": "assistant", "content": kept}]) <= max_length
    longer = response[: len(kept) + 1]
    assert count([*budget, {"role": "assistant", "content": longer}]) > max_length


def test_a_record_that_fits_is_untouched_in_both_methods() -> None:
    r = record("A quiet place in the north, 40 a night.")
    for profile in (False, True):
        dataset, fit = records_to_dataset([r], profile, tokenizer=tokenizer(), max_length=512)
        assert dataset.to_list() == [record_row(r, profile)]
        assert fit.summary() == LengthFit().summary()


def test_a_record_without_room_for_a_response_is_dropped_from_both_with_its_reason() -> None:
    """The last user turn alone (with the profile) fills max_length: the record trains in neither method."""
    fits, crowded = record("Fine.", "a"), record("Fine.", "b", last_user="please " * 200)
    for profile in (False, True):
        dataset, fit = records_to_dataset([fits, crowded], profile, tokenizer=tokenizer(), max_length=120)
        assert dataset["id"] == ["a"]
        assert fit.dropped == {BUCKET: {PROMPT_TOO_LONG: 1}} and set(fit.profile_prompt_tokens) == {"a"}


def test_pairs_from_sft_and_bucket_sft_are_fitted_alike() -> None:
    """A DPO pair (prompt without profile) and an HDPO pair (with it) of one record, each with the
    record's `profile_prompt_tokens`: both keep the same history and the same chosen tokens, and a
    rejected response of either is cut by the same budget: 10 tokens (max_length = P + 10 + 2)."""
    r = record(LONG)
    count = token_counter(tokenizer())
    p = count(_profile_prompt(r, keep_history=False), add_generation_prompt=True)
    max_length = p + 12
    _, ends = _response_tokens(LONG)
    rejected = " ".join(f"other{i % 7}" for i in range(40))
    _, rejected_ends = _response_tokens(rejected)
    pairs = []
    for profile in (False, True):
        row = record_row(r, profile)  # unfitted: a pair's prompt may be longer than max_length allows
        _, fit = records_to_dataset([r], profile, tokenizer=tokenizer())
        pairs.append(
            {
                "id": "r1#0",
                "bucket": BUCKET,
                "prompt": row["prompt"],
                "chosen": row["completion"],
                "rejected": [{"role": "assistant", "content": rejected}],
                "profile_prompt_tokens": fit.profile_prompt_tokens["r1"],
            }
        )
    dpo, hdpo = (fit_pairs([pair], tokenizer(), max_length) for pair in pairs)
    (dpo_row,), (hdpo_row,) = dpo[0], hdpo[0]
    assert dpo_row["chosen"] == hdpo_row["chosen"] == [{"role": "assistant", "content": LONG[: ends[9]]}]
    assert dpo_row["rejected"] == [{"role": "assistant", "content": rejected[: rejected_ends[9]]}]
    assert dpo_row["prompt"] == [{"role": "user", "content": "North, cheap."}] == hdpo_row["prompt"][1:]
    for _, fit in (dpo, hdpo):
        assert fit.summary() == {
            "history_exchanges_trimmed": {BUCKET: 1},
            "chosen_cut": {BUCKET: 1},
            "rejected_cut": {BUCKET: 1},
            "dropped_for_length": {},
        }
    untouched, fit = fit_pairs(pairs, tokenizer(), None)
    assert untouched == pairs and fit.summary()["chosen_cut"] == {}


def test_a_records_own_system_prompt_stays_first_and_the_same_exchange_is_dropped() -> None:
    """With its own system prompt, SFT's prompt starts with it and Bucket-SFT's with profile + it; the
    budget drops the first exchange from both (the one after the system prompt), never the system."""
    r = record("Fine, the north it is.")
    r = dataclasses.replace(r, messages=(Message("system", "Be brief."), *r.messages))
    count = token_counter(tokenizer())
    max_length = count(
        [*_profile_prompt(r, keep_history=False), {"role": "assistant", "content": r.response}]
    )
    sft, _ = records_to_dataset([r], False, tokenizer=tokenizer(), max_length=max_length)
    bucket, fit = records_to_dataset([r], True, tokenizer=tokenizer(), max_length=max_length)
    assert sft[0]["prompt"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "North, cheap."},
    ]
    assert (
        bucket[0]["prompt"][0]["content"].endswith("\n\nBe brief.")
        and bucket[0]["prompt"][1:] == sft[0]["prompt"][1:]
    )
    assert sft[0]["completion"] == bucket[0]["completion"] and fit.history_exchanges_trimmed == {BUCKET: 1}
