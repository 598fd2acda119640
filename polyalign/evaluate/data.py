"""What every metric reads: one aligned row per evaluated record (human and model response side by side).

Built once by `engine.build_eval_data`; metric functions take it and return arrays. `cache` holds values
that several metrics share (utility scores, token lists, out-of-fold classifier scores), computed on
first use. Reads and writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from polyalign.data.buckets import BucketKey

if TYPE_CHECKING:
    from polyalign.reference.reference import HumanReference


@dataclass
class EvalData:
    ids: list[str]  # sorted record ids; row i of every array below is record ids[i]
    buckets: list[str]  # the record's bucket: context cell + the human reference's length bin
    languages: list[str]
    tracks: list[str]
    model: list[str]  # generated responses
    human: list[str]  # the human test responses (gold; the human split: the partner record's response)
    user: list[str]  # the last user turn of the prompt the model side answers (TDM)
    human_user: list[str]  # the last user turn of the prompt the human side answers (the same when paired)
    model_x: np.ndarray  # (n, F) features of the model responses
    human_x: np.ndarray  # (n, F) features of the human responses
    reference: HumanReference
    ref_keys: list[str]  # the reference each bucket resolved to (itself or its cell)
    edges: dict[str, list[float]]  # length-bin edges per language (from the prepare artefact)
    model_emb: np.ndarray | None = None  # (n, E) embeddings, when an embedder is configured
    human_emb: np.ndarray | None = None
    user_emb: np.ndarray | None = None
    human_user_emb: np.ndarray | None = None
    pool_emb: dict[str, np.ndarray] = field(default_factory=dict)  # cell -> train human embeddings (noise)
    paired: bool = True  # model and human side answer the same prompt (False: the human split, no gold)
    seed: int = 0
    auc_folds: int = 2
    auc_repeats: int = 5
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def cells(self) -> list[str]:
        """The context cell of each row's bucket."""
        return [str(BucketKey.parse(b).cell) for b in self.buckets]

    def rows_by(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Row indices per key (bucket or cell), in id order."""
        rows: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            rows[key].append(i)
        return {k: np.asarray(v) for k, v in rows.items()}
