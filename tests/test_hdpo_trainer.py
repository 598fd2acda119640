"""HDPOTrainer on a tiny model: TRL DPO equality with the HDPO terms off, split invariance, weights at batch
size 1, the disk cache of reference log-probs, and the online term."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
import trl
from torch.testing import assert_close
from train_helpers import hdpo_args, model, pairs_dataset, tokenizer
from transformers import Trainer
from trl import DPOConfig, DPOTrainer

from polyalign.train.hdpo import HDPOConfig, HDPOTrainer

DPO_ONLY = {"lambda_sup": 0.0, "gamma_anchor": 0.0, "lambda_online": 0.0}


def hdpo(
    tmp_path: Path,
    dataset=None,
    ref: bool = True,
    scorer=None,
    peft_config=None,
    eval_dataset=None,
    **overrides,
) -> HDPOTrainer:
    return HDPOTrainer(
        model(),
        ref_model=model() if ref else None,
        args=HDPOConfig(**hdpo_args(tmp_path / "out", **overrides)),
        train_dataset=pairs_dataset() if dataset is None else dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer(),
        peft_config=peft_config,
        online_scorer=scorer,
    )


def trl_dpo(tmp_path: Path, **overrides) -> DPOTrainer:
    args = {k: v for k, v in hdpo_args(tmp_path / "trl", **overrides).items() if k != "lambda_online"}
    return DPOTrainer(
        model(),
        ref_model=model(),
        args=DPOConfig(**args),
        train_dataset=pairs_dataset(),
        processing_class=tokenizer(),
    )


def losses_of(trainer: Trainer) -> list[float]:
    return [e["loss"] for e in trainer.state.log_history if "loss" in e]


def test_pinned_trl_and_the_signatures_we_rely_on() -> None:
    """We override these DPOTrainer / Trainer methods or call them; fail loudly when TRL changes them."""
    assert trl.__version__ == "1.16.0"
    expected = {
        (
            Trainer,
            "_get_num_items_in_batch",
        ): "(self, batch_samples: list, device: torch.device) -> torch.Tensor | int | None",
        (DPOTrainer, "_set_signature_columns_if_needed"): "(self)",
        (DPOTrainer, "compute_ref_log_probs"): "(self, model, inputs)",
        (
            DPOTrainer,
            "_precompute_ref_logps",
        ): "(self, dataset: datasets.arrow_dataset.Dataset, name: str, batch_size: int) -> "
        "datasets.arrow_dataset.Dataset",
        (DPOTrainer, "compute_loss"): "(self, model, inputs, return_outputs=False, num_items_in_batch=None)",
        (DPOTrainer, "log"): "(self, logs: dict[str, float], start_time: float | None = None) -> None",
    }
    for (cls, name), signature in expected.items():
        assert str(inspect.signature(getattr(cls, name))) == signature, f"{cls.__name__}.{name} changed"
    init = list(inspect.signature(DPOTrainer.__init__).parameters)
    assert {"ref_model", "args", "train_dataset", "eval_dataset", "processing_class", "peft_config"} <= set(
        init
    )
    # the collator lays a batch out as [all chosen; all rejected] and reads only these keys
    source = inspect.getsource(trl.trainer.dpo_trainer.DataCollatorForPreference.torch_call)
    assert "input_ids = prompt_chosen_ids + prompt_rejected_ids" in source


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"loss_type": ["ipo"]}, "loss_type"),
        ({"f_divergence_type": "js_divergence"}, "f_divergence_type"),
        ({"ld_alpha": 0.5}, "ld_alpha"),
        ({"use_weighting": True}, "use_weighting"),
        ({"label_smoothing": 0.1}, "label_smoothing"),
        ({"padding_free": True}, "padding_free"),
        ({"lambda_sup": -1.0}, "lambda_sup"),
        ({"online_baseline_momentum": 1.0}, "momentum"),
        ({"ref_cache_dir": "x"}, "precompute_ref_log_probs"),
    ],
)
def test_config_refuses_what_the_maths_does_not_cover(tmp_path: Path, overrides: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HDPOConfig(**hdpo_args(tmp_path, **overrides))


def test_trainer_refuses_missing_scorer_reference_and_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="online_scorer"):
        hdpo(tmp_path, lambda_online=0.05)
    with pytest.raises(ValueError, match="no reference"):
        hdpo(tmp_path, ref=False)
    with pytest.raises(ValueError, match="d_rejected"):
        hdpo(tmp_path, dataset=pairs_dataset(4).remove_columns("d_rejected"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[HDPOTrainer, DPOTrainer, list[dict]]:
    """Ours with the HDPO terms off and unit weights, and TRL's DPOTrainer, on the same model and rows."""
    tmp = tmp_path_factory.mktemp("pair")
    dataset = pairs_dataset().map(lambda row: {"weight": 1.0})
    ours = hdpo(tmp, dataset=dataset, **DPO_ONLY)
    rows = [ours.train_dataset[i] for i in (0, 5, 11, 23)]
    return ours, trl_dpo(tmp), rows


def test_hdpo_terms_off_equals_trl_dpo_loss_and_gradients(pair) -> None:
    ours, theirs, rows = pair
    mine = ours.compute_loss(ours.model, ours.data_collator(rows), num_items_in_batch=torch.tensor(4))
    trl_loss = theirs.compute_loss(theirs.model, theirs.data_collator(rows))
    assert_close(mine, trl_loss, atol=1e-6, rtol=1e-6)
    mine.backward()
    trl_loss.backward()
    for (name, a), (_, b) in zip(ours.model.named_parameters(), theirs.model.named_parameters(), strict=True):
        assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5, msg=name)
    ours.model.zero_grad()
    theirs.model.zero_grad()


def test_policy_logps_match_the_reference_forward_at_step_0(pair) -> None:
    """Contract: our per-sequence log-prob (fused head) is TRL's reference computation on the same weights."""
    ours, _, rows = pair
    batch = ours.data_collator(rows)
    with torch.no_grad():
        logps, tokens, _ = ours.sequence_logps(
            ours.model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
        )
    ref_chosen, ref_rejected = ours.compute_ref_log_probs(ours.ref_model, batch)
    assert_close(logps, torch.cat([ref_chosen, ref_rejected]), atol=1e-6, rtol=1e-6)
    assert_close(tokens, batch["completion_mask"].sum(dim=1).float())
    # DPOTrainer state we read (set in its __init__)
    for name in (
        "_precompute_model_hash",
        "precompute_ref_logps",
        "_tokenizer",
        "_metrics",
        "aux_loss_enabled",
    ):
        assert hasattr(ours, name), name


def test_online_baseline_per_bucket_is_read_before_it_is_updated(pair) -> None:
    """First visit: each bucket's batch mean (a: (1 + 3)/2 = 2, b: 5). Next visit of a, d = 4: the baseline
    used is still 2, then becomes 0.9 · 2 + 0.1 · 4 = 2.2 (momentum 0.9)."""
    ours, _, _ = pair
    ours.online_baselines.clear()
    assert ours._baselines(["a", "a", "b"], np.array([1.0, 3.0, 5.0])) == [2.0, 2.0, 5.0]
    assert ours._baselines(["a"], np.array([4.0])) == [2.0]
    assert ours.online_baselines == pytest.approx({"a": 2.2, "b": 5.0})
    ours.online_baselines.clear()


@pytest.mark.slow
def test_hdpo_terms_off_trains_exactly_like_trl_dpo(tmp_path: Path) -> None:
    """20 steps, batch 2 × accumulation 2, same seed and data: the same loss curve and weights."""
    common = {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 2, "max_steps": 20}
    ours = hdpo(tmp_path, dataset=pairs_dataset().map(lambda row: {"weight": 1.0}), **DPO_ONLY, **common)
    theirs = trl_dpo(tmp_path, **common)
    ours.train()
    theirs.train()
    assert len(losses_of(ours)) == 20
    assert_close(torch.tensor(losses_of(ours)), torch.tensor(losses_of(theirs)), atol=1e-6, rtol=1e-6)
    for (name, a), (_, b) in zip(ours.model.named_parameters(), theirs.model.named_parameters(), strict=True):
        assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)


@pytest.mark.slow
def test_pair_weights_scale_the_update_at_batch_size_one(tmp_path: Path) -> None:
    """One pair, batch 1, plain SGD: a weight-1.6 pair moves the weights exactly 4× as far as a weight-0.4
    pair (the authors' per-micro-batch normalisation would move both the same)."""
    one = pairs_dataset(1)
    deltas = []
    for weight in (0.4, 1.6):
        trainer = hdpo(
            tmp_path / str(weight),
            dataset=one.map(lambda row, w=weight: {"weight": w}),
            per_device_train_batch_size=1,
            max_steps=1,
            optim="sgd",
            max_grad_norm=0.0,
            lambda_sup=0.0,
            gamma_anchor=0.0,
        )
        before = torch.cat([p.detach().flatten().clone() for p in trainer.model.parameters()])
        trainer.train()
        deltas.append(torch.cat([p.detach().flatten() for p in trainer.model.parameters()]) - before)
    assert deltas[0].abs().max() > 1e-4
    assert float(deltas[1].norm() / deltas[0].norm()) == pytest.approx(4.0, rel=1e-4)
    assert_close(deltas[1], 4 * deltas[0], atol=1e-6, rtol=1e-4)  # up to the rounding of w + Δw


@pytest.mark.slow
def test_same_weighted_loss_at_any_batch_size_and_accumulation(tmp_path: Path) -> None:
    """Global batch 4 (unequal weights, λ_sup and γ on): 1 × 4, 4 × 1 and 2 × 2 give the same step losses,
    logged terms and parameters after two optimiser steps."""
    runs = {}
    for batch, accumulation in ((1, 4), (4, 1), (2, 2)):
        trainer = hdpo(
            tmp_path / f"{batch}x{accumulation}",
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=accumulation,
            max_steps=2,
        )
        trainer.train()
        runs[batch, accumulation] = trainer
    reference = runs[4, 1]
    for trainer in runs.values():
        assert_close(
            torch.tensor(losses_of(trainer)), torch.tensor(losses_of(reference)), atol=1e-5, rtol=1e-5
        )
        for key in ("hdpo/sup", "hdpo/anchor", "rewards/accuracies"):
            assert trainer.state.log_history[0][key] == pytest.approx(
                reference.state.log_history[0][key], abs=1e-6
            )
        for (name, a), (_, b) in zip(
            trainer.model.named_parameters(), reference.model.named_parameters(), strict=True
        ):
            assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)


def test_reference_log_probs_are_cached_on_disk_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same pairs, same reference weights: the second trainer reads the file and runs no reference forward.
    The evaluation pairs get their own file, and evaluation logs the terms unweighted."""
    cache = tmp_path / "ref-cache"
    common = {"precompute_ref_log_probs": True, "ref_cache_dir": str(cache), "lambda_online": 0.0}
    first = hdpo(tmp_path / "a", eval_dataset=pairs_dataset(4), **common)
    assert len(list(cache.glob("*.safetensors"))) == 2
    metrics = first.evaluate()
    assert metrics["eval_hdpo/pref"] == pytest.approx(np.log(2), abs=1e-6)  # h = 0 at step 0, w ≡ 1 in eval
    assert metrics["eval_rewards/margins"] == pytest.approx(0.0, abs=1e-6)

    def no_forward(*args, **kwargs):
        raise AssertionError("the reference ran again")

    monkeypatch.setattr(HDPOTrainer, "compute_ref_log_probs", no_forward)
    second = hdpo(tmp_path / "b", **common)
    for column in ("ref_chosen_logps", "ref_rejected_logps"):
        assert second.train_dataset[column] == first.train_dataset[column]
    monkeypatch.undo()
    # the cached values are the explicit reference's own
    explicit = hdpo(tmp_path / "c", lambda_online=0.0)
    batch = explicit.data_collator([explicit.train_dataset[i] for i in range(4)])
    ref_chosen, _ = explicit.compute_ref_log_probs(explicit.ref_model, batch)
    assert_close(ref_chosen, torch.tensor(first.train_dataset["ref_chosen_logps"][:4]), atol=1e-6, rtol=1e-6)


def fake_scorer(texts: list[str], buckets: list[str]) -> np.ndarray:
    """Deterministic stand-in for SupportScorer.score: longer samples are further from the support."""
    return np.array(
        [
            min(len(t), 40) / 40 + (0.1 if b.startswith("zh") else 0.0)
            for t, b in zip(texts, buckets, strict=True)
        ]
    )


@pytest.mark.slow
def test_online_term_with_lora_is_deterministic_and_changes_the_update(tmp_path: Path) -> None:
    """LoRA (reference = adapters off), λ_on > 0 every step with a fake scorer: two runs agree exactly, the
    update differs from λ_on = 0, and the online term and baselines are logged."""
    from peft import LoraConfig

    def run(name: str, lambda_online: float) -> HDPOTrainer:
        trainer = hdpo(
            tmp_path / name,
            ref=False,
            scorer=fake_scorer,
            peft_config=LoraConfig(
                r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"
            ),
            lambda_online=lambda_online,
            online_interval=1,
            online_batch_size=3,
            online_max_new_tokens=8,
            per_device_train_batch_size=2,
            max_steps=2,
            learning_rate=5e-2,
        )
        trainer.train()
        return trainer

    online, again, offline = run("a", 0.5), run("b", 0.5), run("c", 0.0)
    lora = {n: p for n, p in online.model.named_parameters() if p.requires_grad}
    assert lora and all("lora" in n for n in lora)
    for (name, a), (_, b) in zip(
        online.model.named_parameters(),
        again.model.named_parameters(),
        strict=True,
    ):
        assert torch.equal(a, b), name
    moved = [
        n
        for (n, a), (_, c) in zip(
            online.model.named_parameters(), offline.model.named_parameters(), strict=True
        )
        if not torch.equal(a, c)
    ]
    assert moved
    logged = online.state.log_history[0]
    assert 0 < logged["online/distance"] < 1.2 and "hdpo/online" in logged
    assert set(online.online_baselines) <= set(online.bucket_names)
    assert "hdpo/online" not in offline.state.log_history[0]
