"""Sum, then divide once (STYLE.md §3.10): the counts and sums that the bucket trainers share.

A loss that must not depend on how a step is split divides each micro-batch's sum by a count fixed for
the whole optimiser step over every micro-batch and process (`global_count`), and multiplies by the
number of data-parallel processes (`process_scale`) because DDP averages their gradients. Logged values
are sums kept per bucket on the device (`BucketWindow`), summed over processes when logged
(`reduce_sum`), then divided. Reads and writes nothing; needs a `transformers.Trainer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch


def global_count(trainer: Any, count: torch.Tensor | int, device: torch.device) -> torch.Tensor:
    """`count` summed over processes (tensor-parallel ranks hold the same rows, so they count once)."""
    count = torch.as_tensor(count).to(device)
    if trainer.accelerator.num_processes > 1:
        count = trainer.accelerator.gather(count).sum() / trainer.get_tp_size()
    return count


def process_scale(trainer: Any) -> int:
    """The data-parallel process count, which undoes DDP's mean of the gradients."""
    return trainer.accelerator.num_processes // trainer.get_tp_size()


def reduce_sum(trainer: Any, tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` summed over processes (every process must call it)."""
    if trainer.accelerator.num_processes == 1:
        return tensor
    return trainer.accelerator.reduce(tensor, reduction="sum")


class BucketWindow:
    """Per-bucket sums of named fields plus a few global sums since the last log, on the training device
    (no host sync per micro-batch)."""

    def __init__(self, n_buckets: int, fields: Sequence[str], n_extra: int) -> None:
        self.n = n_buckets
        self.fields = tuple(fields)
        self.n_extra = n_extra
        self.sums: torch.Tensor | None = None  # (len(fields), n_buckets)
        self.extra: torch.Tensor | None = None  # (n_extra,)

    def add(
        self, bucket_ids: torch.Tensor, columns: Sequence[torch.Tensor], extra: Sequence[torch.Tensor] = ()
    ) -> None:
        """Adds `columns` (one (B,) tensor per field, or none) by bucket, and `extra` (scalars, n_extra at
        most, the rest stay zero) to the global sums."""
        device = bucket_ids.device
        if self.sums is None:
            self.sums = torch.zeros(len(self.fields), self.n, dtype=torch.float64, device=device)
            self.extra = torch.zeros(self.n_extra, dtype=torch.float64, device=device)
        if columns:
            values = torch.stack([c.detach().to(device, torch.float64) for c in columns])  # (F, B)
            self.sums.index_add_(1, bucket_ids, values)
        for i, x in enumerate(extra):
            self.extra[i] += x.detach().to(device, torch.float64)

    def pop(self, reduce: Callable[[torch.Tensor], torch.Tensor], device: torch.device) -> torch.Tensor:
        """All sums as one (F * n + n_extra,) CPU tensor, summed over processes; the window restarts."""
        if self.sums is None:
            flat = torch.zeros(len(self.fields) * self.n + self.n_extra, dtype=torch.float64, device=device)
        else:
            flat = torch.cat([self.sums.flatten(), self.extra])
        self.sums, self.extra = None, None
        return reduce(flat).cpu()

    def split(self, flat: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """`pop`'s tensor as {field: (n_buckets,)} and the (n_extra,) global sums."""
        per_bucket = flat[: len(self.fields) * self.n].view(len(self.fields), self.n)
        return dict(zip(self.fields, per_bucket, strict=True)), flat[len(self.fields) * self.n :]
