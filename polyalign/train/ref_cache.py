"""Reference log-probs of a pairs dataset, cached on disk under (pairs content hash, reference model hash).

Why our own cache and not TRL's: `DPOTrainer._precompute_ref_logps` already caches, in a file named by
hashing the dataset *fingerprint* with `hash_module(reference)`, placed in the dataset's own cache folder.
For a dataset built in memory (`Dataset.from_list`, what the pair builder hands over) that folder is a
temporary directory deleted at exit and private to each process, so a second run recomputes, and under
several processes the other ranks look for a file they cannot see. The key here hashes the *content*
the reference reads (prompt, chosen and rejected token ids, plus the truncation and precision settings),
so the same pairs and the same reference hit the same file in any process and any later run.

One file per key, `<key>.safetensors`, holding `ref_chosen_logps` and `ref_rejected_logps` (float32, in
dataset order) and the two hashes as metadata: plain tensors, no pickle. Written to a temporary file
beside the target and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from polyalign.artifacts import artifact_key

CACHE_VERSION = 1  # bump when the meaning of the cached values changes
TOKEN_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")


def pairs_hash(dataset: Any, settings: Mapping[str, Any]) -> str:
    """sha256 of the tokenised pairs (in order) and of the settings that change what the reference sees."""
    digest = hashlib.sha256(json.dumps(dict(sorted(settings.items()))).encode("utf-8"))
    for batch in dataset.select_columns(list(TOKEN_COLUMNS)).iter(batch_size=1024):
        digest.update(json.dumps([batch[c] for c in TOKEN_COLUMNS], separators=(",", ":")).encode("utf-8"))
    return digest.hexdigest()


def cache_path(folder: Path, dataset_hash: str, model_hash: str) -> Path:
    return folder / f"{artifact_key('ref_logps', CACHE_VERSION, dataset_hash, model_hash)}.safetensors"


def read(path: Path, n_pairs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The cached (chosen, rejected) log-probs, each (n_pairs,); raises if the file holds another count."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    chosen, rejected = tensors["ref_chosen_logps"], tensors["ref_rejected_logps"]
    if chosen.shape != (n_pairs,) or rejected.shape != (n_pairs,):
        raise ValueError(
            f"reference cache {path} holds {tuple(chosen.shape)} values for {n_pairs} pairs; "
            "delete it to rebuild"
        )
    return chosen, rejected


def write(
    path: Path, chosen: torch.Tensor, rejected: torch.Tensor, dataset_hash: str, model_hash: str
) -> None:
    """Atomic write: a temporary file in the same folder, renamed into place."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tensors = {
        "ref_chosen_logps": chosen.detach().to(torch.float32).cpu().contiguous(),
        "ref_rejected_logps": rejected.detach().to(torch.float32).cpu().contiguous(),
    }
    metadata = {"dataset_hash": dataset_hash, "model_hash": model_hash, "version": str(CACHE_VERSION)}
    save_file(tensors, str(partial), metadata=metadata)
    os.replace(partial, path)
