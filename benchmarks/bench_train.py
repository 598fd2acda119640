"""Step time of our trainers relative to TRL's on the same model and batches, in one process.

`--method bucket_sft|sft`: Bucket-SFT (or our plain SFT) over TRL's SFTTrainer (target ≤ 1.03).
`--method hdpo`: HDPO (λ_on = 0, default λ_sup and γ, real pair weights) over TRL's DPOTrainer (target
≤ 1.05), the cost of one online interval, and the pair builder's scoring rate (target ≥ 4,000
responses/s on one core, generation excluded).

The trainers run in alternating rounds (A B A B ...), each round a fresh trainer from the same initial
weights, timing every optimiser step (callback, step end → step end) after a warm-up; ratios are of the
median step times.

Same batches: the Bucket-SFT trainer draws its epoch from the BucketSampler (τ = 0); TRL's trainer gets the
dataset re-ordered by exactly that index stream and `train_sampling_strategy="sequential"`, so both see
identical batches in identical order. With `--method sft` both use TRL's seeded random sampler.

HDPO pairs come from the fixture's train records without generation: chosen = the human response,
rejected = the next train record's response in the same bucket (`bench_pairs.neighbour_pairs`), d from
`SupportScorer` over a reference of the same records, weights from the pair builder (`weigh_pairs`).
Both DPO trainers read the same seeded shuffle of the pairs in order (`train_sampling_strategy=
"sequential"`) and both use precomputed reference log-probs (`precompute_ref_log_probs=True`, done in
`__init__`, so outside the timed steps). The online interval is timed as HDPO with λ_on > 0 and
`online_interval=1` (every step) minus HDPO with λ_on = 0: sampling `--online-batch` responses of up to
`--online-tokens` new tokens (default: HDPOConfig's), scoring them and their forward/backward.

    python benchmarks/bench_train.py [--method bucket_sft|sft|hdpo] [--steps 30] [--rounds 3] [--batch 8]
        [--online-batch 8] [--online-tokens 128]

bench_gpu.py builds the same trainers around a GPU-sized model (`make_model`) and counts their tokens.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from bench_pairs import neighbour_pairs, scoring_rate
from datasets import Dataset, disable_progress_bars
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import prepare_stage
from polyalign.data.records import Record
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.reference import build_reference
from polyalign.reference.support import SupportScorer
from polyalign.train.bucket_sft import BucketSFTConfig, BucketSFTTrainer
from polyalign.train.data import records_to_dataset
from polyalign.train.hdpo import HDPOConfig, HDPOTrainer
from polyalign.train.pairs import score_pairs, weigh_pairs
from polyalign.train.pairs_config import PairsConfig
from polyalign.train.tiny import SPEED_SIZE, build_tiny_model, train_tokenizer


class StepTimer(TrainerCallback):
    """Wall time between consecutive optimiser steps: data loading, collation, forward, backward, optimiser
    step and logging all included; and the input tokens of each step when the trainer counts them
    (`include_num_input_tokens_seen`, else 0)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.tokens: list[int] = []
        self._last, self._seen = 0.0, 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._last, self._seen = time.perf_counter(), state.num_input_tokens_seen

    def on_step_end(self, args, state, control, **kwargs):
        now = time.perf_counter()
        self.times.append(now - self._last)
        self.tokens.append(state.num_input_tokens_seen - self._seen)
        self._last, self._seen = now, state.num_input_tokens_seen


Build = Callable[[], tuple[Trainer, StepTimer]]
MakeModel = Callable[[], Any]  # a fresh model with the same initial weights at every call


def alternate(
    builds: dict[str, Build], rounds: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Step times after warm-up of every round of each trainer, and each trainer's last-round losses;
    the trainers take turns within a round so that machine load falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in builds}
    losses: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, build in builds.items():
            trainer, timer = build()
            trainer.remove_callback(PrinterCallback)  # no log dicts on stdout
            trainer.train()
            times[name] += timer.times[warmup:]
            losses[name] = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return times, losses


def timed(make: Callable[[StepTimer], Trainer]) -> Build:
    """A builder of a fresh trainer with a fresh StepTimer among its callbacks."""

    def build() -> tuple[Trainer, StepTimer]:
        timer = StepTimer()
        return make(timer), timer

    return build


def sft_builds(
    options: argparse.Namespace,
    records: Sequence[Record],
    tokenizer: Any,
    common: dict[str, Any],
    make_model: MakeModel,
) -> tuple[dict[str, Build], str]:
    """TRL's SFTTrainer and ours (Bucket-SFT or plain SFT) on the same batches; the label of ours."""
    profile = options.method == "bucket_sft"
    dataset, _ = records_to_dataset(records, profile, tokenizer=tokenizer, max_length=options.max_length)
    balance = {} if profile else {"bucket_balance": "none", "loss_normalization": "token"}
    ours = timed(
        lambda timer: BucketSFTTrainer(
            model=make_model(),
            args=BucketSFTConfig(**common, **balance),
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[timer],
        )
    )
    data, extra = dataset, {}
    if profile:  # TRL gets our epoch's index stream, in order
        sampler = ours()[0]._get_train_sampler()
        sampler.set_epoch(0)
        data = dataset.select(sampler.epoch_indices().tolist())
        extra = {"train_sampling_strategy": "sequential"}
    theirs = timed(
        lambda timer: SFTTrainer(
            model=make_model(),
            args=SFTConfig(**common, **extra),
            train_dataset=data,
            processing_class=tokenizer,
            callbacks=[timer],
        )
    )
    return {"trl": theirs, "ours": ours}, "Bucket-SFT" if profile else "our plain SFT"


def hdpo_pairs(
    options: argparse.Namespace, records: Sequence[Record], tokenizer: Any, scorer: SupportScorer
) -> tuple[Dataset, list[dict[str, Any]]]:
    """The timed pairs (a seeded shuffle, cut to the steps' length) and all scored pair rows."""
    prompts, _ = records_to_dataset(records, True, tokenizer=tokenizer, max_length=options.max_length)
    prompt_of = dict(zip(prompts["id"], prompts["prompt"], strict=True))  # with the profile, as Bucket-SFT
    rows = [r for r in neighbour_pairs(records, lambda r: str(r.bucket)) if r["record_id"] in prompt_of]
    score_pairs(scorer, rows, progress=False)  # d_chosen, d_rejected; also builds the scorer's indexes
    weigh_pairs(rows, PairsConfig())
    n = options.steps * options.batch * options.accumulation
    pairs = Dataset.from_list([{**row, "prompt": prompt_of[row["record_id"]]} for row in rows])
    return pairs.shuffle(seed=0).select(range(min(n, len(pairs)))), rows


def hdpo_builds(
    options: argparse.Namespace,
    pairs: Dataset,
    tokenizer: Any,
    scorer: SupportScorer,
    common: dict[str, Any],
    make_model: MakeModel,
) -> dict[str, Build]:
    """TRL's DPOTrainer, HDPO with λ_on = 0, and HDPO with an online term every step, same batches."""
    shared = {**common, "precompute_ref_log_probs": True, "train_sampling_strategy": "sequential"}

    def hdpo(timer: StepTimer, **online: Any) -> HDPOTrainer:
        return HDPOTrainer(
            model=make_model(),
            args=HDPOConfig(**shared, **online),
            train_dataset=pairs,
            processing_class=tokenizer,
            online_scorer=scorer.score,
            callbacks=[timer],
        )

    return {
        "trl": timed(
            lambda timer: DPOTrainer(
                model=make_model(),
                args=DPOConfig(**shared),
                train_dataset=pairs,
                processing_class=tokenizer,
                callbacks=[timer],
            )
        ),
        "ours": timed(lambda timer: hdpo(timer, lambda_online=0.0)),
        "online": timed(
            lambda timer: hdpo(
                timer,
                online_interval=1,
                online_batch_size=options.online_batch,
                online_max_new_tokens=options.online_tokens,
            )
        ),
    }


def fixture_and_tokenizer(folder: Path) -> tuple[list[Record], Any]:
    """The synthetic fixture's train records (prepared under `folder`) and a BPE tokenizer trained on them."""
    records = prepare_stage(
        PrepareConfig(sources=[SourceConfig(fixture=0)]), root=folder, out=folder / "prep", progress=False
    ).content.splits["train"]
    texts = [m.content for r in records[:2000] for m in r.messages]
    return records, train_tokenizer(texts, SPEED_SIZE.vocab_size)


def common_args(options: argparse.Namespace, output_dir: Path, max_steps: int) -> dict[str, Any]:
    """Trainer arguments every timed trainer shares: fp32 on the CPU, no checkpoints, no integrations."""
    return {
        "output_dir": str(output_dir),
        "bf16": False,
        "activation_checkpointing": False,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 10,
        "disable_tqdm": True,
        "per_device_train_batch_size": options.batch,
        "gradient_accumulation_steps": options.accumulation,
        "max_steps": max_steps,
        "max_length": options.max_length,
        "learning_rate": 1e-4,
        "dataloader_pin_memory": False,
        "seed": 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", choices=["bucket_sft", "sft", "hdpo"], default="bucket_sft")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--accumulation", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--online-batch", type=int, default=HDPOConfig.online_batch_size, help="hdpo")
    parser.add_argument("--online-tokens", type=int, default=HDPOConfig.online_max_new_tokens, help="hdpo")
    parser.add_argument("--repeat", type=int, default=3, help="scoring-rate runs (hdpo); the best counts")
    options = parser.parse_args()
    disable_progress_bars()  # datasets' map bars, once per trainer

    with tempfile.TemporaryDirectory() as tmp:
        records, tokenizer = fixture_and_tokenizer(Path(tmp))
        common = common_args(options, Path(tmp) / "out", max_steps=options.steps)
        make_model = functools.partial(build_tiny_model, tokenizer, SPEED_SIZE)
        if options.method == "hdpo":
            scorer = SupportScorer(build_reference(records, ReferenceConfig()))
            pairs, rows = hdpo_pairs(options, records, tokenizer, scorer)
            builds = hdpo_builds(options, pairs, tokenizer, scorer, common, make_model)
            label, target = "HDPO", 1.05
        else:
            (builds, label), target = sft_builds(options, records, tokenizer, common, make_model), 1.03
        times, losses = alternate(builds, options.rounds, options.warmup)

    median = {k: statistics.median(v) for k, v in times.items()}
    mean = {k: statistics.fmean(v) for k, v in times.items()}
    base = "TRL DPOTrainer" if options.method == "hdpo" else "TRL SFTTrainer"
    print(
        f"model: Qwen2 hidden {SPEED_SIZE.hidden_size}, {SPEED_SIZE.num_hidden_layers} layers, fp32, "
        f"{torch.get_num_threads()} threads; batch {options.batch} x accumulation {options.accumulation}, "
        f"max_length {options.max_length}; {options.rounds} rounds x {options.steps} steps "
        f"({options.warmup} warm-up dropped per round)"
    )
    print(f"{base}: median step {median['trl'] * 1000:.1f} ms (mean {mean['trl'] * 1000:.1f} ms)")
    print(f"{label}: median step {median['ours'] * 1000:.1f} ms (mean {mean['ours'] * 1000:.1f} ms)")
    ratio = {k: v["ours"] / v["trl"] for k, v in (("median", median), ("mean", mean))}
    print(
        f"step time ratio {label} / {base.removeprefix('TRL ')}: median {ratio['median']:.3f}, "
        f"mean {ratio['mean']:.3f} (target <= {target})"
    )
    if options.method == "sft":
        print(f"same losses as TRL (plain SFT is TRL's loss): {losses['ours'][:3]} vs {losses['trl'][:3]}")
    if options.method == "hdpo":
        cost = median["online"] - median["ours"]
        print(
            f"one online interval (λ_on {HDPOConfig.lambda_online}, every step): median step "
            f"{median['online'] * 1000:.1f} ms, cost {cost * 1000:.1f} ms over λ_on = 0 "
            f"({options.online_batch} samples x up to {options.online_tokens} new tokens, "
            "scored, forward + backward)"
        )
        rate, responses, best = scoring_rate(scorer, rows, options.repeat)
        print(
            f"pair scoring: {rate:,.0f} responses/s ({len(rows)} fixture pairs, {responses} responses in "
            f"{best:.2f} s, one core, generation excluded; target >= 4,000)"
        )


if __name__ == "__main__":
    main()
