"""Shared builders for the training tests: fixture records, a tiny tokenizer and model, trainer configs.

Everything is built in code (the synthetic fixture corpus, a BPE tokenizer trained on it) and cached per
process; nothing is downloaded or read from the development corpus.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import prepare_stage
from polyalign.data.records import Record
from polyalign.train.tiny import TEST_SIZE

# Four single-turn buckets of short answers with unequal sizes: at τ = 0 each gets 6 draws of 24.
SIZES = {
    "en|single|open_chat|short": 2,
    "en|single|task_dialogue|short": 4,
    "zh|single|open_chat|short": 6,
    "zh|single|task_dialogue|short": 12,
}


@functools.cache
def fixture_splits() -> dict[str, tuple[Record, ...]]:
    """The prepared fixture corpus: split name → its records."""
    with tempfile.TemporaryDirectory() as folder:
        splits = prepare_stage(
            PrepareConfig(sources=[SourceConfig(fixture=0)]),
            root=Path(folder),
            out=Path(folder) / "prep",
            progress=False,
        ).content.splits
        return {name: tuple(records) for name, records in splits.items()}


def fixture_train() -> tuple[Record, ...]:
    return fixture_splits()["train"]


def unequal_records(sizes: dict[str, int] | None = None, split: str = "train") -> list[Record]:
    """The first n_b fixture records of `split` in each bucket of `sizes`, shortest responses first."""
    sizes = sizes or SIZES
    by_bucket: dict[str, list[Record]] = defaultdict(list)
    for record in fixture_splits()[split]:
        by_bucket[str(record.bucket)].append(record)
    out = []
    for bucket, n in sizes.items():
        members = sorted(
            by_bucket[bucket], key=lambda r: len(r.response) + sum(len(m.content) for m in r.messages)
        )
        assert len(members) >= n, f"fixture {split} bucket {bucket} has {len(members)} < {n} records"
        out.extend(members[:n])
    return out


@functools.cache
def tokenizer() -> Any:
    from polyalign.train.tiny import train_tokenizer

    texts = [m.content for r in fixture_train()[:400] for m in r.messages]
    return train_tokenizer(texts, TEST_SIZE.vocab_size)


def model(seed: int = 0) -> Any:
    from dataclasses import replace

    from polyalign.train.tiny import build_tiny_model

    return build_tiny_model(tokenizer(), replace(TEST_SIZE, seed=seed))


def sft_args(output_dir: Path, **overrides: Any) -> dict[str, Any]:
    """Trainer arguments for fast CPU tests (fp32, no checkpointing, no logging integrations)."""
    return {
        "output_dir": str(output_dir),
        "bf16": False,
        "activation_checkpointing": False,
        "report_to": "none",
        "save_strategy": "no",
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "max_length": 256,
        "dataloader_pin_memory": False,
        "disable_tqdm": True,
        "seed": 0,
        **overrides,
    }


def pairs_dataset(n: int = 24) -> Any:
    """HDPO pairs in the pair builder's format: chosen = a fixture response, rejected = the next record's
    response; weights (0.4, 0.8, 1.2, 1.6) in turn (mean 1), distances varying with the index."""
    from datasets import Dataset

    from polyalign.train.data import records_to_dataset

    rows = records_to_dataset(unequal_records(), profile=False)[0].to_list()
    return Dataset.from_list(
        [
            {
                "prompt": row["prompt"],
                "chosen": row["completion"],
                "rejected": rows[(i + 1) % len(rows)]["completion"],
                "bucket": row["bucket"],
                "weight": 0.4 * (1 + i % 4),
                "d_chosen": 0.1 * (i % 3),
                "d_rejected": 0.5 + 0.1 * (i % 5),
            }
            for i, row in enumerate(rows[:n])
        ]
    )


def hdpo_args(output_dir: Path, **overrides: Any) -> dict[str, Any]:
    """`sft_args` for HDPOConfig / DPOConfig (whose learning rate default is 1e-6)."""
    return sft_args(output_dir, **{"lambda_online": 0.0, **overrides})


def single_and_two_processes(worker: Path, run_single: Any, tmp: Path) -> tuple[dict, dict]:
    """Runs a training worker in this process (1 process × batch 4) and under torchrun with 2 processes (gloo,
    batch 2 × 1, and batch 1 × accumulation 2); returns ({"4x1": ...}, {"2x1": ..., "1x2": ...}). Skips
    without torchrun."""
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    run_single(tmp / "single.json", tmp / "single", ["4x1"])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [torchrun, "--standalone", "--nproc_per_node", "2", str(worker)]
    command += [str(tmp / "ddp.json"), str(tmp / "ddp"), "2x1", "1x2"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((tmp / "single.json").read_text()), json.loads((tmp / "ddp.json").read_text())
