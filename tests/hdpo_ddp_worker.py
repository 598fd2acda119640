"""Run under `torchrun --nproc_per_node 2` by test_hdpo_ddp.py (or alone, as one process).

Trains two optimiser steps of HDPO (unequal weights, λ_sup and γ on, explicit reference) on the tiny pairs
for each `per_device_batch x accumulation` given, and rank 0 writes {config: {losses, sup, steps}} as JSON.
Usage: hdpo_ddp_worker.py OUT.json WORKDIR BxA [BxA ...]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from train_helpers import hdpo_args, model, pairs_dataset, tokenizer

from polyalign.train.hdpo import HDPOConfig, HDPOTrainer


def main(out: Path, workdir: Path, configs: list[str]) -> None:
    results = {}
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1  # set by torchrun
    for spec in configs:
        batch, accumulation = (int(x) for x in spec.split("x"))
        args = HDPOConfig(
            **hdpo_args(
                workdir / spec,
                per_device_train_batch_size=batch,
                gradient_accumulation_steps=accumulation,
                max_steps=2,
                ddp_backend="gloo" if distributed else None,
                use_cpu=True,
            )
        )
        trainer = HDPOTrainer(
            model(), ref_model=model(), args=args, train_dataset=pairs_dataset(), processing_class=tokenizer()
        )
        trainer.train()
        logs = [e for e in trainer.state.log_history if "loss" in e]
        results[spec] = {
            "world_size": trainer.accelerator.num_processes,
            "steps": trainer.state.global_step,
            "losses": [e["loss"] for e in logs],
            "sup": [e["hdpo/sup"] for e in logs],
            "accuracy": [e["rewards/accuracies"] for e in logs],
        }
        if trainer.is_world_process_zero():
            out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
