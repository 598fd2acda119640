"""Training curves for the report: each run's training artefact (`train` or `preference` stage) read back,
with every loss term of its log history as a series against step.

Reads `training_summary.json` (its checksum enters the report's key, so a retrained model gives a new
report) and `log_history.json` of each folder; writes nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.data.buckets import BucketKey
from polyalign.errors import InputError
from polyalign.train import preference
from polyalign.train.stage import LOG_HISTORY, SUMMARY_FILE, load_summary
from polyalign.train.stage import STAGE as TRAIN_STAGE

STAGES = (TRAIN_STAGE, preference.STAGE)
# Logged numbers that are no loss term: the trainer's bookkeeping (the `train_*` end-of-run totals and
# `*_runtime`, `*_per_second` timings are left out by their names too).
BOOKKEEPING = frozenset({"step", "epoch", "learning_rate", "grad_norm", "num_tokens", "total_flos"})

Curve = list[tuple[int, float]]


@dataclass(frozen=True)
class Training:
    """One run's training: its folder, its summary and its loss terms against step."""

    folder: Path
    summary: dict[str, Any]
    curves: dict[str, Curve]


def checksum(folder: Path) -> str:
    """The checksum of a complete training artefact's summary, which the report's key hashes: a retrained
    model (its runtime and losses) gives a new report even where its artefact key is the same."""
    manifest = artifacts.read_manifest(folder) if artifacts.is_complete(folder) else {}
    if manifest.get("stage") not in STAGES:
        raise InputError(
            f"{folder} is not a complete training artefact (a {' or '.join(STAGES)} folder with its "
            f"{artifacts.MANIFEST}): give the folder polyalign train printed"
        )
    return artifacts.file_sha256(folder / SUMMARY_FILE)


def open_trainings(trainings: Mapping[str, Path], runs: Sequence[str]) -> dict[str, Training]:
    """The training of each run named in `trainings` (run name → folder); a name that is no run raises."""
    unknown = sorted(set(trainings) - set(runs))
    if unknown:
        raise InputError(
            f"--training names {', '.join(unknown)}, which no evaluated run is called "
            f"(runs: {', '.join(runs)}): use NAME=FOLDER with a run's name"
        )
    out = {}
    for name, folder in trainings.items():
        history = json.loads((Path(folder) / LOG_HISTORY).read_text(encoding="utf-8"))
        out[name] = Training(Path(folder), load_summary(Path(folder)), loss_curves(history))
    return out


def loss_curves(history: Sequence[Mapping[str, Any]]) -> dict[str, Curve]:
    """Every logged loss term (the loss; HDPO's pref, sup, anchor and online terms, the reward margins...)
    against step, in first-logged order; bookkeeping, end-of-run totals and per-bucket series left out."""
    curves: dict[str, Curve] = {}
    for entry in history:
        if "step" not in entry:
            continue
        for key, value in entry.items():
            if not _is_term(key) or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if math.isfinite(value):
                curves.setdefault(key, []).append((int(entry["step"]), float(value)))
    return curves


def _is_term(key: str) -> bool:
    if key in BOOKKEEPING or key.startswith("train_") or key.endswith(("_runtime", "_per_second")):
        return False
    return BucketKey.SEPARATOR not in key  # one bucket's series (bucket_loss/<bucket>, ...)
