"""The `generate:` section of a run config, torch-free so that `polyalign.config` can import it.

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
    seed: int = 0  # with the record id, the seed of its sample (`sampling.record_seed`) and profile length

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
        """What `polyalign.data.prompts` takes: 'sample', 'none', 'off' or an int."""
        return int(self.profile) if self.profile.isdigit() else self.profile
