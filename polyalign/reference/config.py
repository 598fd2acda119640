"""The `reference:` section of a run config: bands, scales and the support distance (METHOD.md §2-3)."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyalign.errors import ConfigError


@dataclass
class ReferenceConfig:
    """Bucket references and the support distance d(y, b) (METHOD.md §2-3)."""

    min_bucket_size: int = 20  # fewer train responses: a bucket borrows its cell's length-nearest ones
    band: list[float] = field(
        default_factory=lambda: [0.1, 0.9]
    )  # [L, H] quantiles of the band (paper: q10-q90)
    clip: float = 5.0  # per-feature cap c on the scaled excess, so no feature dominates d
    weights: dict[str, float] = field(default_factory=dict)  # feature -> weight ω_f (default 1 each)
    embedder: str | None = None  # store a sample of response embeddings: `hashing`, or `module:factory`
    embedding_sample: int = 256  # responses per reference bucket whose embeddings are kept
    seed: int = 0  # for the embedding sample

    def __post_init__(self) -> None:
        if len(self.band) != 2 or not 0 <= self.band[0] < self.band[1] <= 1:
            raise ConfigError(f"reference.band must be two quantiles 0 <= L < H <= 1, got {self.band}")
        if self.clip <= 0 or self.min_bucket_size < 1:
            raise ConfigError("reference.clip must be > 0 and reference.min_bucket_size >= 1")
        if any(w < 0 for w in self.weights.values()):
            raise ConfigError(f"reference.weights must be non-negative, got {self.weights}")
