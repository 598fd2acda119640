"""The `reference:` section of a run config: bands, scales and the support distance (METHOD.md §2-3)."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyalign.errors import ConfigError
from polyalign.reference.terms import TERMS


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
    seed: int = 0  # for the embedding sample and the support sample
    # term -> weight in d = Σ_t w_t·term_t / Σ_t w_t (each term in [0, clip]); {bands: 1} is METHOD.md §3's d.
    # Default by measurement (benchmarks/metric_validity.py --support-terms ...): neighbours lift cross-cell
    # and truncation detection at a lower human floor; length (0 for every human inside its bucket's length
    # bin, so no AUC can drop) sees halving; style adds little on the dev corpus, so it is opt-in.
    support_terms: dict[str, float] = field(
        default_factory=lambda: {"bands": 1.0, "length": 1.0, "neighbours": 1.0}
    )
    support_sample: int = 256  # reference responses per key kept for the neighbour and style terms
    neighbours_k: int = 5  # nearest human responses averaged by the neighbour term
    style_window: int = 8  # words at each edge (opening, closing) read by the style term

    def __post_init__(self) -> None:
        if len(self.band) != 2 or not 0 <= self.band[0] < self.band[1] <= 1:
            raise ConfigError(f"reference.band must be two quantiles 0 <= L < H <= 1, got {self.band}")
        if self.clip <= 0 or self.min_bucket_size < 1:
            raise ConfigError("reference.clip must be > 0 and reference.min_bucket_size >= 1")
        if any(w < 0 for w in self.weights.values()):
            raise ConfigError(f"reference.weights must be non-negative, got {self.weights}")
        unknown = sorted(set(self.support_terms) - set(TERMS))
        if unknown or any(w < 0 for w in self.support_terms.values()) or not sum(self.support_terms.values()):
            raise ConfigError(
                f"reference.support_terms must map terms of {list(TERMS)} to non-negative weights with a "
                f"positive sum, got {self.support_terms}"
            )
        if min(self.support_sample, self.neighbours_k, self.style_window) < 1:
            raise ConfigError("reference.support_sample, neighbours_k and style_window must be >= 1")

    @property
    def needs_texts(self) -> bool:
        """Whether d reads reference responses (neighbour or style terms), not only their statistics."""
        return any(w > 0 for t, w in self.support_terms.items() if t in ("neighbours", "style"))
