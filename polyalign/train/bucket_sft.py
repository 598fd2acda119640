"""Bucket-Aware SFT (METHOD.md §4): `BucketSFTConfig(SFTConfig)` and `BucketSFTTrainer(SFTTrainer)`.

Everything else is TRL's SFTTrainer (PEFT/LoRA, gradient accumulation, mixed precision, `report_to`,
checkpoints, accelerate / DeepSpeed / FSDP), so Bucket-SFT and plain SFT run the same code: plain SFT is
this trainer with `bucket_balance="none"` and `loss_normalization="token"`, which is TRL's SFT loss
exactly (a test pins it to 1e-6) plus per-bucket logging.

How the balance survives batch size, gradient accumulation and processes:
1. The bucket plan (`sampling.plan_buckets`) is computed once over the training set: sampling
   probabilities or loss weights with mean 1, clipped. Nothing is renormalised inside a batch.
2. `_get_num_items_in_batch` counts, for the whole optimiser step and across processes, the examples
   (unit "example") or response tokens (unit "token"); `compute_loss` divides by that count and
   multiplies by the number of processes (DDP averages gradients), so the micro-batch losses of a step
   add up to the step loss of `losses.bucket_sft_loss` however the step is split.
3. The `BucketSampler` yields the same global index stream on every process (seeded by seed and
   epoch); accelerate shards it by batch. One process × batch 4 and two × batch 2 see the same steps.

Reads the `bucket` column of the datasets; writes nothing (the stage saves the model and summary).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from trl import SFTConfig, SFTTrainer

from polyalign.train import losses
from polyalign.train.sampling import BALANCE_MODES, BucketPlan, BucketSampler, plan_buckets
from polyalign.train.steps import BucketWindow, global_count, process_scale, reduce_sum

UNSEEN = "<unseen>"  # evaluation buckets that the trainer did not know at start-up
WINDOW_FIELDS = ("nll", "tokens", "mass", "examples")
WINDOW_EXTRA = 3  # entropy sum, correct tokens, attention tokens


@dataclass
class BucketSFTConfig(SFTConfig):
    """Configuration of [`BucketSFTTrainer`]: SFTConfig plus the bucket balance.

    Bucket balance (METHOD.md §4; defaults are Bucket-SFT, plain SFT sets balance "none" and unit "token"):
        bucket_column: dataset column with each example's bucket `language|track|family|length_bin`.
        bucket_balance: "sampling" (draw buckets ∝ n_b^τ, weights 1), "weights" (natural order, loss
            weights r_b), or "none" (plain SFT: TRL's random sampler, weights 1).
        bucket_temperature: τ of the target mass ∝ n_b^τ. 0 = every bucket equal (the paper's
            w_b = N / (K n_b)), 1 = natural.
        bucket_ratio_clip: [lo, hi] bounds of the over-representation factor r_b (mean 1 over the
            data). The paper's weights reached 83 on its data; 10 keeps a 3-example bucket from being
            repeated more than 10× its natural share.
        loss_normalization: "example" (mean token NLL per response, step loss divided by the examples in
            the step: each response counts once, so equal bucket mass means equal optimisation) or
            "token" (summed NLL divided by the response tokens in the step: TRL's SFT loss).

    Parent defaults are TRL's (note `bf16=True`, `gradient_checkpointing=True`; set both off on CPU).
    Refused: `packing` and `padding_free` (the loss needs one row per example), `loss_type="dft"`,
    label smoothing, and `average_tokens_across_devices=False` (the step count is always global).
    """

    bucket_column: str = field(
        default="bucket", metadata={"help": "Dataset column holding each example's bucket."}
    )
    bucket_balance: str = field(
        default="sampling",
        metadata={
            "help": "sampling | weights | none (plain SFT). Default: sampling, as METHOD.md §4 suggests."
        },
    )
    bucket_temperature: float = field(
        default=0.0,
        metadata={"help": "τ: target bucket mass ∝ n_b^τ (0 uniform over buckets, the paper's; 1 natural)."},
    )
    bucket_ratio_clip: list[float] = field(
        default_factory=lambda: [0.1, 10.0],
        metadata={
            "help": "[lo, hi] clip of the per-bucket over-representation factor (mean 1 over the data)."
        },
    )
    loss_normalization: str = field(
        default="example",
        metadata={"help": "example (each response once, METHOD.md §4) | token (TRL's SFT loss)."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bucket_balance not in BALANCE_MODES:
            raise ValueError(f"bucket_balance must be one of {BALANCE_MODES}, got {self.bucket_balance!r}")
        if self.loss_normalization not in losses.LOSS_UNITS:
            raise ValueError(
                f"loss_normalization must be one of {losses.LOSS_UNITS}, got {self.loss_normalization!r}"
            )
        if self.bucket_temperature < 0:
            raise ValueError(
                f"bucket_temperature must be >= 0 (0 uniform, 1 natural), got {self.bucket_temperature}"
            )
        clip = list(self.bucket_ratio_clip)
        if len(clip) != 2 or not 0 <= clip[0] <= 1 <= clip[1]:
            raise ValueError(f"bucket_ratio_clip must be [lo, hi] with 0 <= lo <= 1 <= hi, got {clip}")
        if self.packing or self.padding_free:
            raise ValueError(
                "Bucket-SFT needs one row per example for per-example losses: set packing=False and "
                "padding_free=False"
            )
        if self.loss_type != "nll":
            raise ValueError(f"BucketSFTTrainer implements loss_type='nll' only, got {self.loss_type!r}")
        if self.label_smoothing_factor > 0:
            raise ValueError(
                "label smoothing is not supported by BucketSFTTrainer; set label_smoothing_factor=0"
            )
        if not self.average_tokens_across_devices:
            raise ValueError(
                "BucketSFTTrainer always divides by the count of the whole step over all processes; "
                "leave average_tokens_across_devices=True"
            )


@dataclass
class BucketCollator:
    """Wraps the SFT collator: strips the bucket column and adds `bucket_ids` (B,) long."""

    inner: Callable[[list[dict[str, Any]]], dict[str, Any]]
    bucket_ids: Mapping[str, int]
    column: str = "bucket"

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        unseen = len(self.bucket_ids)
        ids = [self.bucket_ids.get(example[self.column], unseen) for example in examples]
        batch = self.inner([{k: v for k, v in e.items() if k != self.column} for e in examples])
        batch["bucket_ids"] = torch.tensor(ids, dtype=torch.long)
        return batch


class BucketSFTTrainer(SFTTrainer):
    """SFTTrainer with bucket balance and per-bucket loss and mass logging.

    Overrides (nothing else; no parent code copied):
    - `__init__`: builds the bucket plan from the prepared train dataset and wraps the collator;
    - `_set_signature_columns_if_needed`: keeps the bucket column through `remove_unused_columns`;
    - `_get_train_sampler`: the `BucketSampler` when `bucket_balance="sampling"`;
    - `_get_num_items_in_batch`: the step's example (or token) count over all micro-batches and processes;
    - `compute_loss`: per-example NLL from TRL's fused LM head → `losses.bucket_sft_loss`;
    - `log`: adds per-bucket loss (`bucket_loss/<b>`) and mass (`bucket_mass/<b>`) over the window.
    """

    loss_is_scaled_for_ga = True  # compute_loss divides by the count of the whole step

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.args, BucketSFTConfig):
            raise TypeError(f"BucketSFTTrainer needs a BucketSFTConfig, got {type(self.args).__name__}")
        if self.compute_loss_func is not None:
            raise ValueError("BucketSFTTrainer computes its own loss; do not pass compute_loss_func")
        if self.get_cp_size() > 1 or self.get_sp_size() > 1:
            raise ValueError(
                "context/sequence parallelism split sequences; per-example losses need whole rows"
            )
        column = self.args.bucket_column
        eval_sets = self.eval_dataset if isinstance(self.eval_dataset, dict) else {"eval": self.eval_dataset}
        eval_buckets = {b for ds in eval_sets.values() if ds is not None for b in _bucket_values(ds, column)}
        clip = (float(self.args.bucket_ratio_clip[0]), float(self.args.bucket_ratio_clip[1]))
        self.bucket_plan: BucketPlan = plan_buckets(
            _bucket_values(self.train_dataset, column),
            self.args.bucket_balance,
            self.args.bucket_temperature,
            clip,
            extra_buckets=sorted(eval_buckets),
        )
        self.bucket_names = (*self.bucket_plan.buckets, UNSEEN)
        self._bucket_ids = {b: i for i, b in enumerate(self.bucket_plan.buckets)}
        self._bucket_weights = torch.tensor([*self.bucket_plan.weight, 1.0], dtype=torch.float32)
        self.data_collator = BucketCollator(self.data_collator, self._bucket_ids, column)
        self._windows = {
            mode: BucketWindow(len(self.bucket_names), WINDOW_FIELDS, WINDOW_EXTRA)
            for mode in ("train", "eval")
        }

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if self.args.bucket_column not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, self.args.bucket_column]

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler | None:
        if self.args.bucket_balance != "sampling":
            return super()._get_train_sampler(train_dataset)
        dataset = self.train_dataset if train_dataset is None else train_dataset
        ids = [self._bucket_ids[b] for b in _bucket_values(dataset, self.args.bucket_column)]
        seed = self.args.seed if self.args.data_seed is None else self.args.data_seed
        return BucketSampler(ids, self.bucket_plan.probability, seed=seed)

    def _get_num_items_in_batch(self, batch_samples: list, device: torch.device) -> torch.Tensor | None:
        if not batch_samples:
            return None
        if self.args.loss_normalization == "token":
            count = sum(batch["labels"][..., 1:].ne(-100).sum() for batch in batch_samples)  # shifted targets
        else:
            count = torch.tensor(sum(batch["labels"].size(0) for batch in batch_samples))
        return global_count(self, count, device)

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        mode = "train" if self.model.training else "eval"
        bucket_ids = inputs.pop("bucket_ids")  # (B,)
        inputs["use_cache"] = False
        if self.aux_loss_enabled:
            inputs["output_router_logits"] = True
        outputs = model(**inputs, fused_lm_head=True)
        nll_sum, n_tokens = losses.sequence_nll(outputs.log_probs, outputs.label_mask)  # (B,), (B,)
        weights = (
            self._bucket_weights.to(nll_sum.device)[bucket_ids]
            if mode == "train"
            else torch.ones_like(nll_sum)
        )
        if num_items_in_batch is None:  # evaluation: no optimiser step, the micro-batch is the unit
            normalizer = n_tokens.sum() if self.args.loss_normalization == "token" else len(bucket_ids)
            scale = 1
        else:  # the step's global count; DDP averages gradients over processes, so undo that mean
            normalizer = num_items_in_batch
            scale = process_scale(self)
        loss, mass = losses.bucket_sft_loss(
            nll_sum, n_tokens, weights, normalizer, self.args.loss_normalization
        )
        loss = loss * scale
        if self.aux_loss_enabled:  # MoE balance loss: a per-micro-batch mean, averaged over the step
            steps = self.current_gradient_accumulation_steps if num_items_in_batch is not None else 1
            loss = loss + self.router_aux_loss_coef * outputs.aux_loss / steps
        attended = inputs["attention_mask"].sum() if "attention_mask" in inputs else torch.zeros(())
        self._windows[mode].add(
            bucket_ids,
            (nll_sum, n_tokens, mass, torch.ones_like(mass)),
            (outputs.entropy.sum(), outputs.is_top1.sum(), attended),
        )
        if return_outputs:  # callers of the outputs want logits, which the fused head does not build
            with torch.no_grad():
                outputs = model(**{k: v for k, v in inputs.items() if k != "labels"})
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Training logs (`loss`, or `train_runtime` at the end) get the training window, evaluation logs
        (`<prefix>_runtime`) the evaluation window. Called on every process, so the reduction is safe."""
        runtime = next((k for k in logs if k.endswith("_runtime") and k != "train_runtime"), None)
        if runtime is not None:
            self._log_window(logs, "eval", runtime[: -len("runtime")])
        elif "loss" in logs or "train_runtime" in logs:
            self._log_window(logs, "train", "")
        super().log(logs, start_time)

    def _log_window(self, logs: dict[str, float], mode: str, prefix: str) -> None:
        window = self._windows[mode]
        sums, extra = window.split(window.pop(lambda t: reduce_sum(self, t), self.accelerator.device))
        nll, tokens, mass = sums["nll"], sums["tokens"], sums["mass"]
        entropy, correct, attended = extra.tolist()
        for i, bucket in enumerate(self.bucket_names):
            if tokens[i] > 0:
                logs[f"{prefix}bucket_loss/{bucket}"] = float(nll[i] / tokens[i])
            if mode == "train" and mass[i] > 0:
                logs[f"bucket_mass/{bucket}"] = float(mass[i])
        total = float(tokens.sum())
        if total > 0:
            logs[f"{prefix}entropy"] = entropy / total
            logs[f"{prefix}mean_token_accuracy"] = correct / total
        if mode == "train":
            self._total_train_tokens += int(attended) // self._tp_size
            logs["num_tokens"] = float(self._total_train_tokens)

    def bucket_summary(self) -> dict[str, Any]:
        """Plan, effective mass and per-bucket loss curves, from the (checkpointed) log history."""
        tokens = None
        if self.args.loss_normalization == "token":  # mass per token: buckets of long responses weigh more
            counts: dict[str, list[int]] = {}
            for bucket, labels in zip(
                _bucket_values(self.train_dataset, self.args.bucket_column),
                self.train_dataset["labels"],
                strict=True,
            ):
                counts.setdefault(bucket, []).append(sum(label != -100 for label in labels[1:]))
            tokens = {b: sum(v) / len(v) for b, v in counts.items()}
        return summarize_bucket_logs(self.bucket_plan, self.state.log_history, tokens)


def _bucket_values(dataset: Any, column: str) -> list[str]:
    names = getattr(dataset, "column_names", None)
    if names is None or column not in names:
        raise ValueError(
            f"the dataset has no {column!r} column (columns: {names}); Bucket-SFT needs each "
            "example's bucket (records_to_dataset adds it) and a map-style datasets.Dataset"
        )
    return [str(b) for b in dataset[column]]


def summarize_bucket_logs(
    plan: BucketPlan,
    log_history: Sequence[Mapping[str, Any]],
    mean_tokens: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Effective bucket mass (share of Σ c_i over training) and per-bucket loss curves from the logs.

    The expected mass is p_b · w_b normalised (unit "example"), times the bucket's mean response tokens
    when `mean_tokens` is given (unit "token").
    """
    mass: dict[str, float] = {}
    curves: dict[str, list[tuple[int, float]]] = {}
    eval_curves: dict[str, list[tuple[int, float]]] = {}
    for entry in log_history:
        step = int(entry.get("step", 0))
        for key, value in entry.items():
            if key.startswith("bucket_mass/"):
                bucket = key[len("bucket_mass/") :]
                mass[bucket] = mass.get(bucket, 0.0) + float(value)
            elif key.startswith("bucket_loss/"):
                curves.setdefault(key[len("bucket_loss/") :], []).append((step, float(value)))
            elif "_bucket_loss/" in key:
                eval_curves.setdefault(key.split("_bucket_loss/", 1)[1], []).append((step, float(value)))
    total = sum(mass.values())
    expected = dict(zip(plan.buckets, plan.expected_mass, strict=True))
    if mean_tokens is not None:
        expected = {b: m * mean_tokens.get(b, 0.0) for b, m in expected.items()}
        expected = {b: m / sum(expected.values()) for b, m in expected.items()}
    buckets = {
        bucket: {
            **row,
            "expected_mass": expected[bucket],
            "effective_mass": mass.get(bucket, 0.0) / total if total > 0 else 0.0,
            "final_train_loss": curves[bucket][-1][1] if bucket in curves else None,
        }
        for bucket, row in plan.to_json().items()
    }
    return {
        "balance": plan.balance,
        "temperature": plan.temperature,
        "buckets": buckets,
        "expected_mass": expected,
        "effective_mass": {b: buckets[b]["effective_mass"] for b in plan.buckets},
        "train_loss_curves": curves,
        "eval_loss_curves": eval_curves,
    }
