"""BucketSFTTrainer on a tiny model: TRL equality when balancing is off, bucket mass invariance, resume."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
import trl
from torch.testing import assert_close
from train_helpers import SIZES, model, sft_args, tokenizer, unequal_records
from transformers import Trainer
from trl import SFTConfig, SFTTrainer

from polyalign.train.bucket_sft import BucketSFTConfig, BucketSFTTrainer
from polyalign.train.data import records_to_dataset

PLAIN = {"bucket_balance": "none", "loss_normalization": "token"}


def dataset(profile: bool = False):
    return records_to_dataset(unequal_records(), profile=profile)[0]


def bucket_trainer(
    tmp_path: Path, seed: int = 0, peft_config=None, eval_dataset=None, **overrides
) -> BucketSFTTrainer:
    args = BucketSFTConfig(**sft_args(tmp_path / "out", **overrides))
    return BucketSFTTrainer(
        model=model(seed),
        args=args,
        train_dataset=dataset(),
        eval_dataset=eval_dataset,
        processing_class=tokenizer(),
        peft_config=peft_config,
    )


def test_pinned_trl_and_the_signatures_we_override() -> None:
    """We override these parent methods; fail loudly when TRL or transformers change them."""
    assert trl.__version__ == "1.16.0"
    expected = {
        (Trainer, "_get_train_sampler"): ["self", "train_dataset"],
        (Trainer, "_get_num_items_in_batch"): ["self", "batch_samples", "device"],
        (Trainer, "_set_signature_columns_if_needed"): ["self"],
        (SFTTrainer, "_set_signature_columns_if_needed"): ["self"],
        (SFTTrainer, "compute_loss"): ["self", "model", "inputs", "return_outputs", "num_items_in_batch"],
        (SFTTrainer, "log"): ["self", "logs", "start_time"],
    }
    for (cls, name), params in expected.items():
        assert list(inspect.signature(getattr(cls, name)).parameters) == params, (
            f"{cls.__name__}.{name} changed"
        )
    assert hasattr(Trainer, "loss_is_scaled_for_ga")


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"packing": True}, "packing"),
        ({"bucket_balance": "both"}, "bucket_balance"),
        ({"bucket_ratio_clip": [2.0, 10.0]}, "bucket_ratio_clip"),
        ({"bucket_temperature": -1.0}, "bucket_temperature"),
        ({"loss_normalization": "sequence"}, "loss_normalization"),
        ({"loss_type": "dft"}, "nll"),
        ({"average_tokens_across_devices": False}, "whole step"),
    ],
)
def test_config_refuses_what_it_cannot_do(tmp_path: Path, overrides: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BucketSFTConfig(**sft_args(tmp_path, **overrides))


def test_balancing_off_equals_trl_sft_loss_on_the_same_batch(tmp_path: Path) -> None:
    train = dataset()
    common = sft_args(tmp_path / "out", per_device_train_batch_size=2)
    ours = BucketSFTTrainer(
        model=model(),
        args=BucketSFTConfig(**common, **PLAIN),
        train_dataset=train,
        processing_class=tokenizer(),
    )
    theirs = SFTTrainer(
        model=model(), args=SFTConfig(**common), train_dataset=train, processing_class=tokenizer()
    )
    rows = [ours.train_dataset[i] for i in (0, 5, 11, 23)]
    for num_items in (None, 97):  # the micro-batch's own count (evaluation) and a step count
        ours_batch, theirs_batch = ours.data_collator(rows), theirs.data_collator(rows)
        assert_close(ours_batch["input_ids"], theirs_batch["input_ids"])
        mine = ours.compute_loss(ours.model, ours_batch, num_items_in_batch=num_items)
        trl_loss = theirs.compute_loss(theirs.model, theirs_batch, num_items_in_batch=num_items)
        assert_close(mine, trl_loss, atol=1e-6, rtol=1e-6)


@pytest.mark.slow
def test_balancing_off_trains_exactly_like_trl_sft(tmp_path: Path) -> None:
    """Same seed, data and arguments (batch 2 × accumulation 2): same loss curve and weights as SFTTrainer."""
    train = dataset()
    common = sft_args(
        tmp_path / "out", per_device_train_batch_size=2, gradient_accumulation_steps=2, max_steps=4
    )
    ours = BucketSFTTrainer(
        model=model(),
        args=BucketSFTConfig(**common, **PLAIN),
        train_dataset=train,
        processing_class=tokenizer(),
    )
    theirs = SFTTrainer(
        model=model(), args=SFTConfig(**common), train_dataset=train, processing_class=tokenizer()
    )
    ours.train()
    theirs.train()
    mine = [e["loss"] for e in ours.state.log_history if "loss" in e]
    trl_losses = [e["loss"] for e in theirs.state.log_history if "loss" in e]
    assert len(mine) == 4
    assert_close(torch.tensor(mine), torch.tensor(trl_losses), atol=1e-6, rtol=1e-6)
    for (name, a), (_, b) in zip(ours.model.named_parameters(), theirs.model.named_parameters(), strict=True):
        assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)


def epoch_mass(tmp_path: Path, batch: int, accumulation: int, **overrides) -> tuple[dict, list[float]]:
    """Train one epoch of the 24 examples (global batch 4 → 6 optimiser steps); effective mass and losses."""
    trainer = bucket_trainer(
        tmp_path / f"b{batch}x{accumulation}",
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=accumulation,
        num_train_epochs=1,
        **overrides,
    )
    trainer.train()
    assert trainer.state.global_step == 6
    summary = trainer.bucket_summary()
    return summary, [e["loss"] for e in trainer.state.log_history if "loss" in e]


@pytest.mark.slow
@pytest.mark.parametrize("balance", ["sampling", "weights"])
def test_equal_bucket_mass_at_any_batch_size_and_accumulation(tmp_path: Path, balance: str) -> None:
    """τ = 0 over one epoch: every bucket gets 1/4 of the mass the optimiser sees (Σ of the per-example
    loss coefficients), at per-device batch 1 × accumulation 4, 4 × 1 and 2 × 2 alike; the steps see the
    same examples, so the loss curves agree too."""
    runs = {(b, a): epoch_mass(tmp_path, b, a, bucket_balance=balance) for b, a in ((1, 4), (4, 1), (2, 2))}
    for summary, _ in runs.values():
        assert set(summary["effective_mass"]) == set(SIZES)
        for bucket, mass in summary["effective_mass"].items():
            assert mass == pytest.approx(0.25, abs=1e-9), bucket
            assert summary["expected_mass"][bucket] == pytest.approx(0.25)
        assert all(len(curve) > 0 for curve in summary["train_loss_curves"].values())
    reference_losses = runs[(4, 1)][1]
    for _, losses in runs.values():
        assert_close(torch.tensor(losses), torch.tensor(reference_losses), atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_plain_sft_mass_follows_the_data(tmp_path: Path) -> None:
    """Balancing off, per-example unit: the mass is the natural share n_b / N = (2, 4, 6, 12) / 24."""
    summary, _ = epoch_mass(tmp_path, 2, 2, bucket_balance="none")
    for bucket, n in SIZES.items():
        assert summary["effective_mass"][bucket] == pytest.approx(n / 24, abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("lora", [False, True])
def test_every_trainable_parameter_moves(tmp_path: Path, lora: bool) -> None:
    peft_config = None
    if lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"
        )
    eval_rows = dataset()
    trainer = bucket_trainer(
        tmp_path,
        peft_config=peft_config,
        eval_dataset=eval_rows,
        learning_rate=5e-2,
        max_steps=3,
        per_device_train_batch_size=4,
        eval_strategy="steps",
        eval_steps=3,
    )
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert before and (not lora or all("lora" in n for n in before))
    trainer.train()
    for name, param in trainer.model.named_parameters():
        if name in before:
            assert not torch.equal(param, before[name]), f"{name} did not move"
    evaluated = [e for e in trainer.state.log_history if "eval_loss" in e]
    assert evaluated and any(k.startswith("eval_bucket_loss/") for k in evaluated[-1])


@pytest.mark.slow
def test_resume_from_checkpoint_reproduces_the_uninterrupted_run(tmp_path: Path) -> None:
    common = {"max_steps": 6, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 2}
    straight = bucket_trainer(tmp_path / "straight", **common)
    straight.train()
    first = bucket_trainer(tmp_path / "resumed", save_strategy="steps", save_steps=3, **common)
    first.train()
    checkpoint = tmp_path / "resumed" / "out" / "checkpoint-3"
    assert checkpoint.is_dir()
    resumed = bucket_trainer(tmp_path / "resumed", save_strategy="steps", save_steps=3, **common)
    resumed.train(resume_from_checkpoint=str(checkpoint))
    losses = [[e["loss"] for e in t.state.log_history if "loss" in e] for t in (straight, resumed)]
    assert_close(torch.tensor(losses[1]), torch.tensor(losses[0]), atol=1e-5, rtol=1e-5)
    for (name, a), (_, b) in zip(
        straight.model.named_parameters(), resumed.model.named_parameters(), strict=True
    ):
        assert_close(a, b, atol=1e-5, rtol=1e-4, msg=name)
    assert straight.bucket_summary()["effective_mass"] == pytest.approx(
        resumed.bucket_summary()["effective_mass"]
    )
