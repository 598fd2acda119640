"""Step time of Bucket-SFT (or our plain SFT) relative to TRL's SFTTrainer on the same model and batches.

Issue target: Bucket-SFT / plain TRL SFT ≤ 1.03. One process runs both trainers in alternating rounds
(A B A B ...), each round a fresh trainer from the same initial weights, timing every optimiser step
(callback, step begin → step end) after a warm-up; the ratio is of the median step times.

Same batches: the Bucket-SFT trainer draws its epoch from the BucketSampler (τ = 0); TRL's trainer gets the
dataset re-ordered by exactly that index stream and `train_sampling_strategy="sequential"`, so both see
identical batches in identical order. With `--method sft` both use TRL's seeded random sampler.

    python benchmarks/bench_train.py [--method bucket_sft|sft] [--steps 30] [--rounds 3] [--batch 8]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback
from trl import SFTConfig, SFTTrainer

from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import prepare_stage
from polyalign.train.bucket_sft import BucketSFTConfig, BucketSFTTrainer
from polyalign.train.data import records_to_dataset
from polyalign.train.tiny import SPEED_SIZE, build_tiny_model, train_tokenizer


class StepTimer(TrainerCallback):
    """Wall time between consecutive optimiser steps: data loading, collation, forward, backward, optimiser
    step and logging all included."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._last = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._last = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        now = time.perf_counter()
        self.times.append(now - self._last)
        self._last = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", choices=["bucket_sft", "sft"], default="bucket_sft")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--accumulation", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=256)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        records = prepare_stage(
            PrepareConfig(sources=[SourceConfig(fixture=0)]),
            root=Path(tmp),
            out=Path(tmp) / "prep",
            progress=False,
        ).content.splits["train"]
        tokenizer = train_tokenizer(
            [m.content for r in records[:2000] for m in r.messages], SPEED_SIZE.vocab_size
        )
        profile = options.method == "bucket_sft"
        dataset, _ = records_to_dataset(records, profile, tokenizer=tokenizer, max_length=options.max_length)
        common = {
            "output_dir": str(Path(tmp) / "out"),
            "bf16": False,
            "activation_checkpointing": False,
            "report_to": "none",
            "save_strategy": "no",
            "logging_steps": 10,
            "disable_tqdm": True,
            "per_device_train_batch_size": options.batch,
            "gradient_accumulation_steps": options.accumulation,
            "max_steps": options.steps,
            "max_length": options.max_length,
            "learning_rate": 1e-4,
            "dataloader_pin_memory": False,
            "seed": 0,
        }
        balance = {} if profile else {"bucket_balance": "none", "loss_normalization": "token"}

        def ours() -> tuple[BucketSFTTrainer, StepTimer]:
            timer = StepTimer()
            trainer = BucketSFTTrainer(
                model=build_tiny_model(tokenizer, SPEED_SIZE),
                args=BucketSFTConfig(**common, **balance),
                train_dataset=dataset,
                processing_class=tokenizer,
                callbacks=[timer],
            )
            return trainer, timer

        probe, _ = ours()
        order = None
        if profile:  # TRL gets our epoch's index stream, in order
            sampler = probe._get_train_sampler()
            sampler.set_epoch(0)
            order = sampler.epoch_indices().tolist()

        def theirs() -> tuple[SFTTrainer, StepTimer]:
            timer = StepTimer()
            data, extra = dataset, {}
            if order is not None:
                data, extra = dataset.select(order), {"train_sampling_strategy": "sequential"}
            trainer = SFTTrainer(
                model=build_tiny_model(tokenizer, SPEED_SIZE),
                args=SFTConfig(**common, **extra),
                train_dataset=data,
                processing_class=tokenizer,
                callbacks=[timer],
            )
            return trainer, timer

        times: dict[str, list[float]] = {"ours": [], "trl": []}
        losses: dict[str, list[float]] = {}
        for _ in range(options.rounds):
            for name, build in (("trl", theirs), ("ours", ours)):
                trainer, timer = build()
                trainer.remove_callback(PrinterCallback)  # no log dicts on stdout
                trainer.train()
                times[name] += timer.times[options.warmup :]
                losses[name] = [e["loss"] for e in trainer.state.log_history if "loss" in e]

    median = {k: statistics.median(v) for k, v in times.items()}
    mean = {k: statistics.fmean(v) for k, v in times.items()}
    label = "Bucket-SFT" if profile else "our plain SFT"
    print(
        f"model: Qwen2 hidden {SPEED_SIZE.hidden_size}, {SPEED_SIZE.num_hidden_layers} layers, fp32, "
        f"{torch.get_num_threads()} threads; batch {options.batch} x accumulation {options.accumulation}, "
        f"max_length {options.max_length}; {options.rounds} rounds x {options.steps} steps "
        f"({options.warmup} warm-up dropped per round)"
    )
    print(f"TRL SFTTrainer: median step {median['trl'] * 1000:.1f} ms (mean {mean['trl'] * 1000:.1f} ms)")
    print(f"{label}: median step {median['ours'] * 1000:.1f} ms (mean {mean['ours'] * 1000:.1f} ms)")
    print(
        f"step time ratio {label} / TRL SFT: median {median['ours'] / median['trl']:.3f}, "
        f"mean {mean['ours'] / mean['trl']:.3f} (target <= 1.03)"
    )
    if not profile:
        print(f"same losses as TRL (plain SFT is TRL's loss): {losses['ours'][:3]} vs {losses['trl'][:3]}")


if __name__ == "__main__":
    main()
