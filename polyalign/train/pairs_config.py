"""The `pairs:` section of a run config (HDPO preference pairs, METHOD.md §5), torch-free so that
`polyalign.config` can import it.

Decoding reuses `generate.config.DecodingConfig`: its default budget of 768 new tokens reaches the `xlong`
bin (above 240 length units; about 1.3 tokens per unit for EN BPE, 1-2 per CJK character), so a rejected
response is never kept short by the budget alone. Sampling seeds come from `pairs.seed` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from polyalign.errors import ConfigError
from polyalign.generate.config import BACKENDS, DecodingConfig

SCORERS = ("features", "critic")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class PairWeightsConfig:
    """w_i = clip(1 + bucket_coef·g_b + gap_coef·max(0, d_r − d_c), lo, hi), then scaled to mean 1 over
    the pair set and clipped to the same bounds (the paper's coefficients and clip)."""

    bucket_coef: float = 0.5  # paper: 0.5; g_b = log(N / (K·n_b)), see `pair_weights.bucket_balance`
    gap_coef: float = 1.0  # paper: 1.0; weight on how much further from human support the rejected is
    clip: list[float] = field(default_factory=lambda: [0.5, 3.0])  # paper: [0.5, 3]

    def __post_init__(self) -> None:
        if len(self.clip) != 2 or not 0 < self.clip[0] <= 1 <= self.clip[1]:
            raise ConfigError(
                f"pairs.weights.clip must be [lo, hi] with 0 < lo <= 1 <= hi (mean 1 must be reachable), "
                f"got {self.clip}"
            )
        if self.bucket_coef < 0 or self.gap_coef < 0:
            raise ConfigError("pairs.weights.bucket_coef and gap_coef must be >= 0 (0 turns a term off)")


@dataclass
class PairsConfig:
    """`polyalign pairs build`: chosen = the human response, rejected = k samples of the start policy."""

    samples: int = 1  # k rejected samples per training prompt
    decoding: DecodingConfig = field(default_factory=DecodingConfig)  # its seed stays 0: use pairs.seed
    batch_size: int = 8  # prompts per generation batch; changes no sample (each has its own seed)
    backend: str = "transformers"  # transformers | vllm (optional extra, GPU)
    dtype: str = "auto"  # torch dtype of the policy: auto | float32 | bfloat16 | float16
    weights: PairWeightsConfig = field(default_factory=PairWeightsConfig)
    scorer: str = "features"  # features: the support distance d(y, b) | critic: a validated critic
    critic: str | None = None  # the critic artefact folder (`polyalign reference critic`), scorer critic
    seed: int = 0  # with each (record id, sample index), the seed of that rejected sample

    def __post_init__(self) -> None:
        if self.samples < 1 or self.batch_size < 1:
            raise ConfigError("pairs.samples and pairs.batch_size must be >= 1")
        if self.samples > 1 and not self.decoding.do_sample:
            raise ConfigError(
                "pairs.samples > 1 needs pairs.decoding.do_sample: true (greedy decoding gives one response "
                "k times)"
            )
        if self.decoding.seed != DecodingConfig.seed:
            raise ConfigError("pairs.decoding.seed is not used; set pairs.seed")
        if self.backend not in BACKENDS:
            raise ConfigError(f"pairs.backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"pairs.dtype must be one of {list(DTYPES)}, got {self.dtype!r}")
        if self.scorer not in SCORERS:
            raise ConfigError(f"pairs.scorer must be one of {list(SCORERS)}, got {self.scorer!r}")
        if self.scorer == "critic" and not self.critic:
            raise ConfigError(
                "pairs.scorer critic needs pairs.critic (or --critic): the folder `polyalign reference "
                "critic` wrote"
            )
        if self.scorer == "features" and self.critic:
            raise ConfigError("pairs.critic is set but pairs.scorer is features: set scorer critic to use it")
