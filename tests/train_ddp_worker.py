"""Run under `torchrun --nproc_per_node 2` by test_train_ddp.py (or alone, as one process).

Trains one epoch of Bucket-SFT (τ = 0, sampling) on the 24-example tiny set for each
`per_device_batch x accumulation` given, and rank 0 writes {config: {mass, losses, steps}} as JSON.
Usage: train_ddp_worker.py OUT.json WORKDIR BxA [BxA ...]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from train_helpers import model, sft_args, tokenizer, unequal_records

from polyalign.train.bucket_sft import BucketSFTConfig, BucketSFTTrainer
from polyalign.train.data import records_to_dataset


def main(out: Path, workdir: Path, configs: list[str]) -> None:
    results = {}
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1  # set by torchrun
    train = records_to_dataset(unequal_records(), profile=False)[0]
    for spec in configs:
        batch, accumulation = (int(x) for x in spec.split("x"))
        args = BucketSFTConfig(
            **sft_args(
                workdir / spec,
                per_device_train_batch_size=batch,
                gradient_accumulation_steps=accumulation,
                num_train_epochs=1,
                ddp_backend="gloo" if distributed else None,
                use_cpu=True,
            )
        )
        trainer = BucketSFTTrainer(
            model=model(), args=args, train_dataset=train, processing_class=tokenizer()
        )
        trainer.train()
        results[spec] = {
            "world_size": trainer.accelerator.num_processes,
            "steps": trainer.state.global_step,
            "mass": trainer.bucket_summary()["effective_mass"],
            "losses": [e["loss"] for e in trainer.state.log_history if "loss" in e],
        }
        if trainer.is_world_process_zero():
            out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
