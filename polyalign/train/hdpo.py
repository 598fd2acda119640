"""HDPO (METHOD.md §5): `HDPOConfig(DPOConfig)` and `HDPOTrainer(DPOTrainer)`.

Dataset contract (what the pair builder writes; column names configurable in `HDPOConfig`): a map-style
`datasets.Dataset` with
    prompt      list of chat message dicts (TRL's conversational format)
    chosen      [one assistant message dict]: the human response y_c
    rejected    [one assistant message dict]: a response sampled from the starting policy y_r
    bucket      str, `language|track|family|length_bin`
    weight      float w_i, mean 1 over the training set (never renormalised here)
    d_chosen    float d(y_c, b);  d_rejected  float d(y_r, b)

The maths is `losses.hdpo_terms` / `losses.online_terms`; this module gathers their inputs and reduces:
L = Σ_i (pref + λ_sup·sup + γ·anchor)_i / B_step + λ_on · Σ_j online_j / N_online, with B_step the pairs
of the whole optimiser step over micro-batches and processes (`steps.global_count`), so per-device batch
× accumulation × processes does not change the weighted loss. With λ_sup = γ = λ_on = 0 and w ≡ 1 it is
TRL's sigmoid DPO loss (a test pins loss, gradients and a 20-step curve).

Reference (the starting policy, frozen): an explicit `ref_model`; PEFT (adapters disabled, TRL's way);
or `precompute_ref_log_probs=True`, optionally with `ref_cache_dir` (see `ref_cache`). Without any of
the three, DPOTrainer would reload the reference from the hub; we refuse instead.

The online term (λ_on > 0), every `online_interval` optimiser steps, on the step's first micro-batch:
sample `online_batch_size` responses from the current policy (no gradient, eval mode, seeded by (seed,
step, process)) for the micro-batch's prompts taken in turn, score them with the injected
`online_scorer(texts, bucket_keys) -> d`, and add the REINFORCE term with a per-bucket moving baseline.
The baselines are per process; they are saved in checkpoints and restored on resume (`OnlineBaselines`).

Reads the pairs datasets and, with `ref_cache_dir`, the reference cache; writes only that cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from accelerate.utils import broadcast_object_list, is_peft_model
from torch.utils.data import DataLoader
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState
from trl import DPOConfig, DPOTrainer

from polyalign.train import losses, ref_cache
from polyalign.train.bucket_sft import UNSEEN
from polyalign.train.steps import BucketWindow, global_count, process_scale, reduce_sum

OnlineScorer = Callable[[list[str], list[str]], np.ndarray]
PAIR_KEYS = ("weight", "d_chosen", "d_rejected", "bucket_ids")  # collator keys that are not model inputs
WINDOW_FIELDS = ("pairs", "pref", "sup", "anchor", "chosen", "rejected", "margins", "correct", "gap")
ONLINE_SUMS = ("samples", "term", "distance")  # global sums of the online term in the log window


@dataclass
class HDPOConfig(DPOConfig):
    """Configuration of [`HDPOTrainer`]: DPOConfig plus the HDPO terms (METHOD.md §5, paper defaults).

    Terms: `lambda_sup` (λ_sup, support regulariser), `gamma_anchor` (γ, NLL anchor on y_c),
    `lambda_online` (λ_on, on-policy term; needs an `online_scorer`; 0 turns it off).
    Online sampling: `online_interval`, `online_batch_size`, `online_max_new_tokens`, `online_temperature`,
    `online_top_p`, `online_baseline_momentum`.
    Columns: `bucket_column`, `weight_column`, `d_chosen_column`, `d_rejected_column`.
    Reference: `ref_cache_dir` (needs `precompute_ref_log_probs=True`).

    Parent defaults are TRL's (β = 0.1 is the paper's; note `bf16=True`, `gradient_checkpointing=True`).
    Refused: any `loss_type` but ["sigmoid"], `loss_weights`, `f_divergence_type` other than reverse_kl,
    `ld_alpha`, `use_weighting`, `label_smoothing`, `padding_free`, `sync_ref_model` (the reference is the
    frozen starting policy) and `average_tokens_across_devices=False` (the step count is always global).
    """

    lambda_sup: float = field(
        default=0.1, metadata={"help": "λ_sup: weight of the support regulariser L_sup (paper: 0.1)."}
    )
    gamma_anchor: float = field(
        default=0.05,
        metadata={"help": "γ: weight of the per-token NLL anchor on the human response (paper: 0.05)."},
    )
    lambda_online: float = field(
        default=0.05,
        metadata={"help": "λ_on: weight of the on-policy REINFORCE term (paper: 0.05); 0 turns it off."},
    )
    online_interval: int = field(
        default=10, metadata={"help": "Optimiser steps between online terms (paper: 10; step 0 included)."}
    )
    online_batch_size: int = field(
        default=8, metadata={"help": "Responses sampled per process for one online term (prompts in turn)."}
    )
    online_max_new_tokens: int = field(default=128, metadata={"help": "Longest sampled response, in tokens."})
    online_temperature: float = field(
        default=1.0,
        metadata={"help": "Sampling temperature; 1 samples from π itself, which the estimator assumes."},
    )
    online_top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass (1 = off, as above)."})
    online_baseline_momentum: float = field(
        default=0.9,
        metadata={
            "help": "Per-bucket baseline b ← m·b + (1 − m)·mean d; first visit: the bucket's batch mean."
        },
    )
    bucket_column: str = field(default="bucket", metadata={"help": "Column of each pair's bucket key."})
    weight_column: str = field(default="weight", metadata={"help": "Column of each pair's weight w_i."})
    d_chosen_column: str = field(default="d_chosen", metadata={"help": "Column of d(y_c, b)."})
    d_rejected_column: str = field(default="d_rejected", metadata={"help": "Column of d(y_r, b)."})
    restore_callback_states_from_checkpoint: bool = field(
        default=True,
        metadata={"help": "TRL: False. True resumes the online term's per-bucket baselines with the run."},
    )
    ref_cache_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder of reference log-probs cached by (pairs content, reference weights); "
            "shared by all processes and runs. Needs precompute_ref_log_probs=True."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        refusals = {
            "loss_type": (self.loss_type != ["sigmoid"], "set loss_type=['sigmoid']"),
            "loss_weights": (self.loss_weights not in (None, [1.0]), "leave loss_weights unset"),
            "f_divergence_type": (self.f_divergence_type != "reverse_kl", "use 'reverse_kl'"),
            "ld_alpha": (self.ld_alpha is not None, "leave ld_alpha=None"),
            "use_weighting": (self.use_weighting, "set use_weighting=False (weights come from the data)"),
            "label_smoothing": (self.label_smoothing != 0, "set label_smoothing=0"),
            "padding_free": (self.padding_free, "set padding_free=False"),
            "sync_ref_model": (self.sync_ref_model, "set sync_ref_model=False (the reference stays frozen)"),
            "average_tokens_across_devices": (
                not self.average_tokens_across_devices,
                "leave average_tokens_across_devices=True (the step count is always global)",
            ),
        }
        for name, (refused, fix) in refusals.items():
            if refused:
                raise ValueError(f"HDPO (METHOD.md §5) does not cover {name}={getattr(self, name)!r}: {fix}")
        for name in ("lambda_sup", "gamma_anchor", "lambda_online"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 turns the term off), got {getattr(self, name)}")
        if self.online_interval < 1 or self.online_batch_size < 1 or self.online_max_new_tokens < 1:
            raise ValueError("online_interval, online_batch_size and online_max_new_tokens must be >= 1")
        if self.online_temperature <= 0 or not 0 < self.online_top_p <= 1:
            raise ValueError(
                f"online sampling needs temperature > 0 and 0 < top_p <= 1, got {self.online_temperature}, "
                f"{self.online_top_p}"
            )
        if not 0 <= self.online_baseline_momentum < 1:
            raise ValueError(
                f"online_baseline_momentum must be in [0, 1), got {self.online_baseline_momentum}"
            )
        if self.ref_cache_dir is not None and not self.precompute_ref_log_probs:
            raise ValueError(
                "ref_cache_dir caches precomputed reference log-probs: set precompute_ref_log_probs=True"
            )


@dataclass
class PairCollator:
    """Wraps `DataCollatorForPreference` ([all chosen; all rejected] rows) and adds the per-pair (B,) tensors
    `weight`, `d_chosen`, `d_rejected` (float32) and `bucket_ids` (long)."""

    inner: Callable[[list[dict[str, Any]]], dict[str, Any]]
    bucket_ids: Mapping[str, int]
    columns: tuple[str, str, str, str]  # bucket, weight, d_chosen, d_rejected

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        bucket, weight, d_chosen, d_rejected = self.columns
        batch = self.inner(examples)  # reads only the token ids and reference log-probs
        for key, column in (("weight", weight), ("d_chosen", d_chosen), ("d_rejected", d_rejected)):
            batch[key] = torch.tensor([float(e[column]) for e in examples], dtype=torch.float32)
        unseen = len(self.bucket_ids)
        batch["bucket_ids"] = torch.tensor([self.bucket_ids.get(e[bucket], unseen) for e in examples])
        return batch


class HDPOTrainer(DPOTrainer):
    """DPOTrainer with the HDPO loss, pair weights, support distances, an on-policy term and per-bucket logs.

    Overrides (nothing else; no parent code copied):
    - `__init__`: checks the dataset contract and the reference, wraps the collator in `PairCollator`;
    - `_set_signature_columns_if_needed`: keeps the pair columns through `remove_unused_columns`;
    - `compute_ref_log_probs`: TRL's reference forward on the batch without the pair keys;
    - `_precompute_ref_logps`: with `ref_cache_dir`, read or write the disk cache (`ref_cache`);
    - `_get_num_items_in_batch`: the pairs of the whole optimiser step over micro-batches and processes;
    - `compute_loss`: policy log-probs from TRL's fused LM head → `losses.hdpo_terms` (+ online term);
    - `log`: every term, rewards, margins, d_c − d_r and reward accuracy (overall and per bucket), summed
      over the logging window and the processes, then divided.
    """

    loss_is_scaled_for_ga = True  # compute_loss divides by the pairs of the whole step
    _tag_names: ClassVar[list[str]] = ["trl", "dpo", "hdpo"]

    def __init__(
        self,
        model: Any,
        ref_model: Any = None,
        args: HDPOConfig | None = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        peft_config: Any = None,
        online_scorer: OnlineScorer | None = None,
        callbacks: list[Any] | None = None,
    ) -> None:
        if not isinstance(args, HDPOConfig):
            raise TypeError(f"HDPOTrainer needs an HDPOConfig, got {type(args).__name__}")
        if args.lambda_online > 0 and online_scorer is None:
            raise ValueError(
                "lambda_online > 0 needs an online_scorer(texts, bucket_keys) -> distances "
                "(e.g. SupportScorer(reference).score), or set lambda_online=0"
            )
        no_peft = peft_config is None and not is_peft_model(model)
        if ref_model is None and no_peft and not args.precompute_ref_log_probs:
            raise ValueError(
                "no reference: pass ref_model (a frozen copy of the starting policy), a peft_config, or "
                "set precompute_ref_log_probs=True (DPOTrainer would otherwise download the reference)"
            )
        self._pair_columns = (
            args.bucket_column,
            args.weight_column,
            args.d_chosen_column,
            args.d_rejected_column,
        )
        eval_sets = eval_dataset.values() if isinstance(eval_dataset, dict) else [eval_dataset]
        buckets = set(_check_pairs(train_dataset, self._pair_columns))
        for dataset in eval_sets:
            if dataset is not None:
                buckets.update(_check_pairs(dataset, self._pair_columns))
        self.bucket_names = (*sorted(buckets), UNSEEN)
        super().__init__(
            model,
            ref_model=ref_model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            callbacks=callbacks,
            peft_config=peft_config,
        )
        if self.get_cp_size() > 1 or self.get_sp_size() > 1:
            raise ValueError("context/sequence parallelism split sequences; per-pair losses need whole rows")
        bucket_ids = {b: i for i, b in enumerate(self.bucket_names[:-1])}
        self.data_collator = PairCollator(self.data_collator, bucket_ids, self._pair_columns)
        self.online_scorer = online_scorer
        self.add_callback(OnlineBaselines())
        self._online_step = -1  # the optimiser step whose online term was added
        self._windows = {
            mode: BucketWindow(len(self.bucket_names), WINDOW_FIELDS, len(ONLINE_SUMS))
            for mode in ("train", "eval")
        }

    @property
    def online_baselines(self) -> dict[str, float]:
        """bucket → moving baseline of the online term (restored from a checkpoint on resume)."""
        (holder,) = [c for c in self.callback_handler.callbacks if isinstance(c, OnlineBaselines)]
        return holder.values

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        extra = [c for c in self._pair_columns if c not in self._signature_columns]
        self._signature_columns = [*self._signature_columns, *extra]

    def compute_ref_log_probs(self, model: Any, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """TRL's reference log-probs (chosen, rejected), each (B,); the pair keys are not model inputs."""
        return super().compute_ref_log_probs(model, {k: v for k, v in inputs.items() if k not in PAIR_KEYS})

    def _precompute_ref_logps(self, dataset: Any, name: str, batch_size: int) -> Any:
        if self.args.ref_cache_dir is None:
            return super()._precompute_ref_logps(dataset, name, batch_size)
        if self.is_deepspeed_enabled or self.is_fsdp_enabled:
            raise ValueError(
                "ref_cache_dir computes on the main process only, which sharded models cannot do: in a "
                "run config set `preference.reference: model`; with HDPOConfig, unset ref_cache_dir"
            )
        settings = {
            "max_length": self.args.max_length,
            "truncation_mode": self.args.truncation_mode,
            "bf16": self.args.bf16,
            "fp16": self.args.fp16,
        }
        hashes = [ref_cache.pairs_hash(dataset, settings), self._precompute_model_hash]
        broadcast_object_list(hashes, from_process=0)  # one file for all ranks
        path = ref_cache.cache_path(Path(self.args.ref_cache_dir), *hashes)
        if self.accelerator.is_main_process and not path.is_file():
            ref_cache.write(path, *self._reference_logps(dataset, batch_size), *hashes)
        self.accelerator.wait_for_everyone()
        chosen, rejected = ref_cache.read(path, len(dataset))
        dataset = dataset.add_column("ref_chosen_logps", chosen.tolist())
        return dataset.add_column("ref_rejected_logps", rejected.tolist())

    def _reference_logps(self, dataset: Any, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Reference log-probs (chosen, rejected) of every pair, each (N,), in dataset order."""
        loader = DataLoader(dataset, batch_size=batch_size, collate_fn=self.data_collator, shuffle=False)
        model = self.ref_model if self.ref_model is not None else self.model
        chosen, rejected = [], []
        for batch in loader:
            batch = {k: v.to(self.accelerator.device) for k, v in batch.items()}
            c, r = self.compute_ref_log_probs(model, batch)
            chosen.append(c.float().cpu())
            rejected.append(r.float().cpu())
        return torch.cat(chosen), torch.cat(rejected)

    def _get_num_items_in_batch(self, batch_samples: list, device: torch.device) -> torch.Tensor | None:
        if not batch_samples:
            return None
        return global_count(self, sum(batch["weight"].numel() for batch in batch_samples), device)

    def sequence_logps(
        self, model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Summed completion log-probs (N,) with gradient, completion tokens (N,), and the model outputs.

        The same fused-head forward as `compute_ref_log_probs` (a test pins the two equal at step 0)."""
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        kwargs["use_cache"] = False
        if self.aux_loss_enabled:
            kwargs["output_router_logits"] = True
        labels = input_ids.masked_fill(completion_mask == 0, -100)
        outputs = model(**kwargs, labels=labels, fused_lm_head=True)
        shift_mask = completion_mask[..., 1:]  # (N, L-1): the completion tokens as next-token targets
        # prompt-learning PEFT prepends virtual tokens: keep the positions of the real ones
        per_token = outputs.log_probs[:, -shift_mask.size(1) :]  # (N, L-1)
        return per_token.sum(dim=1), shift_mask.sum(dim=1).to(per_token.dtype), outputs

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        mode = "train" if self.model.training else "eval"
        pair = {k: inputs.pop(k) for k in PAIR_KEYS}
        logps, tokens, outputs = self.sequence_logps(
            model, inputs["input_ids"], inputs["attention_mask"], inputs["completion_mask"]
        )
        chosen_logps, rejected_logps = logps.chunk(2, dim=0)  # batch is [chosen; rejected]
        chosen_tokens, _ = tokens.chunk(2, dim=0)
        if self.precompute_ref_logps:
            ref_chosen, ref_rejected = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
        else:
            ref_chosen, ref_rejected = self.compute_ref_log_probs(
                self.ref_model if self.ref_model is not None else model, inputs
            )
        weights = pair["weight"] if mode == "train" else torch.ones_like(pair["weight"])  # eval: unweighted
        terms = losses.hdpo_terms(
            chosen_logps,
            rejected_logps,
            ref_chosen,
            ref_rejected,
            chosen_tokens,
            pair["d_chosen"],
            pair["d_rejected"],
            weights,
            self.beta,
        )
        # L = L_pref + λ_sup·L_sup + γ·L_anchor, per pair (B,)
        per_pair = terms.pref + self.args.lambda_sup * terms.sup + self.args.gamma_anchor * terms.anchor
        if num_items_in_batch is None:  # evaluation: no optimiser step, the micro-batch is the unit
            loss = per_pair.mean()
        else:  # Σ / B_step; DDP averages gradients over processes, so undo that mean
            loss = per_pair.sum() / num_items_in_batch * process_scale(self)
            if self.aux_loss_enabled:  # MoE balance loss: a per-micro-batch mean, averaged over the step
                steps = self.current_gradient_accumulation_steps
                loss = loss + self.router_aux_loss_coef * outputs.aux_loss / steps
            if self._online_due():
                loss = loss + self._online_loss(model, inputs, pair["bucket_ids"])
        self._windows[mode].add(
            pair["bucket_ids"],
            (
                torch.ones_like(per_pair),
                terms.pref,
                terms.sup,
                terms.anchor,
                terms.chosen_rewards,
                terms.rejected_rewards,
                terms.margins,
                (terms.chosen_rewards > terms.rejected_rewards).to(per_pair.dtype),
                pair["d_chosen"] - pair["d_rejected"],
            ),
        )
        if return_outputs:  # callers of the outputs want logits, which the fused head does not build
            with torch.no_grad():
                outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        return (loss, outputs) if return_outputs else loss

    def _online_due(self) -> bool:
        """True once per optimiser step (its first micro-batch) every `online_interval` steps."""
        step = self.state.global_step
        if self.args.lambda_online == 0 or step % self.args.online_interval or step == self._online_step:
            return False
        self._online_step = step
        return True

    def _online_loss(self, model: Any, inputs: dict[str, Any], bucket_ids: torch.Tensor) -> torch.Tensor:
        """λ_on · Σ_j (d_j − b_j) · log π(ŷ_j|x_j) / |ŷ_j| / N_step for responses sampled now."""
        device = inputs["input_ids"].device
        keys_in = ("input_ids", "attention_mask", "completion_mask")
        prompts = _prompts(*(inputs[k].chunk(2, dim=0)[0] for k in keys_in))  # chosen rows
        rows = [j % len(prompts) for j in range(self.args.online_batch_size)]
        keys = [self.bucket_names[int(bucket_ids[j])] for j in rows]
        input_ids, attention_mask, completion_mask, texts = self._sample(model, [prompts[j] for j in rows])
        distances = np.asarray(self.online_scorer(texts, keys), dtype=np.float64)
        if distances.shape != (len(texts),) or not np.isfinite(distances).all():
            raise ValueError(f"online_scorer must return {len(texts)} finite distances, got {distances!r}")
        d = torch.as_tensor(distances, dtype=torch.float32, device=device)  # (N,)
        baselines = torch.tensor(self._baselines(keys, distances), dtype=torch.float32, device=device)  # (N,)
        logp, n_tokens, _ = self.sequence_logps(model, input_ids, attention_mask, completion_mask)
        terms = losses.online_terms(logp, n_tokens, d, baselines)  # (N,)
        self._windows["train"].add(bucket_ids, (), (torch.tensor(float(len(rows))), terms.sum(), d.sum()))
        count = global_count(self, len(rows), device)
        return self.args.lambda_online * terms.sum() / count * process_scale(self)

    def _sample(
        self, model: Any, prompts: list[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
        """Sampled responses ŷ (no gradient, eval mode), as right-padded prompt + ŷ rows (N, L) with their
        attention and completion masks, and the decoded texts. Seeded by (seed, step, process)."""
        pad, eos = self._tokenizer.pad_token_id, self._tokenizer.eos_token_id
        width = max(len(p) for p in prompts)
        left = torch.full((len(prompts), width), pad, dtype=torch.long, device=prompts[0].device)
        left_mask = torch.zeros_like(left)
        for i, p in enumerate(prompts):  # generation continues the last column: pad on the left
            left[i, width - len(p) :], left_mask[i, width - len(p) :] = p, 1
        unwrapped = self.accelerator.unwrap_model(model)
        was_training = unwrapped.training
        unwrapped.eval()
        device = left.device
        seed = self.args.seed + 1_000_003 * self.state.global_step + self.accelerator.process_index
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            torch.manual_seed(seed)
            generated = unwrapped.generate(
                input_ids=left,
                attention_mask=left_mask,
                do_sample=True,
                temperature=self.args.online_temperature,
                top_p=self.args.online_top_p,
                max_new_tokens=self.args.online_max_new_tokens,
                pad_token_id=pad,
                eos_token_id=eos,
            )[:, width:]  # (N, T)
        unwrapped.train(was_training)
        responses = []
        for row in generated:
            ends = (row == eos).nonzero()
            responses.append(row[: int(ends[0]) + 1] if len(ends) else row)  # keep the eos: it is a choice
        texts = self._tokenizer.batch_decode(responses, skip_special_tokens=True)
        length = max(len(p) + len(r) for p, r in zip(prompts, responses, strict=True))
        input_ids = torch.full((len(prompts), length), pad, dtype=torch.long, device=device)
        attention_mask, completion_mask = torch.zeros_like(input_ids), torch.zeros_like(input_ids)
        for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
            input_ids[i, : len(p) + len(r)] = torch.cat([p, r])
            attention_mask[i, : len(p) + len(r)] = 1
            completion_mask[i, len(p) : len(p) + len(r)] = 1
        return input_ids, attention_mask, completion_mask, texts

    def _baselines(self, keys: list[str], distances: np.ndarray) -> list[float]:
        """Each sample's bucket baseline, read before this batch updates it (first visit: the batch mean)."""
        means = {k: float(np.mean(distances[[kk == k for kk in keys]])) for k in keys}
        used = [self.online_baselines.get(k, means[k]) for k in keys]
        m = self.args.online_baseline_momentum
        for k, mean in means.items():
            old = self.online_baselines.get(k)
            self.online_baselines[k] = mean if old is None else m * old + (1 - m) * mean
        return used

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Puts the window's sums ÷ counts into `_metrics` (one value each), which DPOTrainer.log writes."""
        mode = "train" if self.model.training else "eval"
        window = self._windows[mode]
        sums, online = window.split(window.pop(lambda t: reduce_sum(self, t), self.accelerator.device))
        metrics = self._metrics[mode]
        pairs = float(sums["pairs"].sum())
        if pairs > 0:
            for key, name in (
                ("pref", "hdpo/pref"),
                ("sup", "hdpo/sup"),
                ("anchor", "hdpo/anchor"),
                ("chosen", "rewards/chosen"),
                ("rejected", "rewards/rejected"),
                ("margins", "rewards/margins"),
                ("correct", "rewards/accuracies"),
                ("gap", "distance_gap"),
            ):
                metrics[name] = [float(sums[key].sum()) / pairs]
            for i, bucket in enumerate(self.bucket_names):
                if sums["pairs"][i] > 0:
                    metrics[f"rewards/accuracies/{bucket}"] = [float(sums["correct"][i] / sums["pairs"][i])]
        samples, term, distance = online.tolist()
        if samples > 0:
            metrics["hdpo/online"] = [term / samples]
            metrics["online/distance"] = [distance / samples]
        super().log(logs, start_time)


class OnlineBaselines(TrainerCallback, ExportableState):
    """Holds the online term's per-bucket baselines; saved in every checkpoint's trainer state and restored
    on resume (the trainer's public mechanism for stateful callbacks), so a resumed run continues them."""

    def __init__(self, values: dict[str, float] | None = None) -> None:
        self.values = dict(values or {})

    def state(self) -> dict[str, Any]:
        return {"args": {"values": dict(self.values)}, "attributes": {}}


def _check_pairs(dataset: Any, columns: tuple[str, str, str, str]) -> list[str]:
    """Raises unless `dataset` follows the contract; returns its bucket keys."""
    names = getattr(dataset, "column_names", None)
    required = ("prompt", "chosen", "rejected", *columns)
    missing = [c for c in required if names is None or c not in names]
    if missing:
        raise ValueError(
            f"HDPO pairs need columns {list(required)} in a map-style datasets.Dataset; missing {missing} "
            f"(columns: {names}). Build them with the pair builder."
        )
    _, weight, d_chosen, d_rejected = columns
    for column in (weight, d_chosen, d_rejected):
        values = np.asarray(dataset[column], dtype=np.float64)
        if not np.isfinite(values).all() or (column == weight and (values < 0).any()):
            raise ValueError(f"column {column!r} must hold finite values (weights >= 0)")
    return [str(b) for b in dataset[columns[0]]]


def _prompts(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_mask: torch.Tensor
) -> list[torch.Tensor]:
    """The prompt of each chosen row (B, L) → B tensors: the tokens before the first completion token."""
    prompts = []
    for ids, attention, completion in zip(input_ids, attention_mask, completion_mask, strict=True):
        start = int(completion.argmax()) if completion.any() else int(attention.sum())
        prompts.append(ids[:start])
    return prompts
