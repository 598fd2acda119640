"""Per-record sampling: a generated response is a function of (model, prompt, decoding, seed, record id).

`transformers` samples a whole batch from one global generator, so a record's sample depends on the batch
size and on which other records share its batch. Here each record draws from its own generator, seeded by
`record_seed(seed, id)`: the warpers (temperature, top-k, top-p, from transformers) shape the logits and
Gumbel-max noise from the row's generator turns greedy decoding into an exact sample of the warped
distribution (argmax(z + G) with G ~ Gumbel(0, 1) is distributed as softmax(z)). The vLLM backend passes
the same `record_seed` per request. Imports torch and transformers lazily (they are heavy).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any


def record_seed(seed: int, record_id: str) -> int:
    """A 63-bit seed from (seed, record id) alone: the same in every batch, process and backend."""
    digest = hashlib.sha256(f"{seed}\x1f{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def record_sampler(seeds: Sequence[int], temperature: float, top_k: int, top_p: float) -> Any:
    """A `LogitsProcessor` for greedy `generate` that samples row i from its own generator `seeds[i]`."""
    import torch
    from transformers import (
        LogitsProcessor,
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
    if top_k > 0:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))

    class RecordSampler(LogitsProcessor):
        def __init__(self) -> None:
            self.generators = [torch.Generator().manual_seed(s) for s in seeds]

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            warped = warpers(input_ids, scores.float())  # (b, V), -inf outside top-k/top-p
            uniform = torch.stack(
                [torch.rand(warped.shape[1], generator=g, dtype=torch.float64) for g in self.generators]
            )  # (b, V): row i from generator i only
            gumbel = -torch.log(-torch.log(uniform.clamp_min(1e-300)))
            return warped + gumbel.to(warped.device, warped.dtype)

    return RecordSampler()
