"""The `train:` section of a run config (YAML), kept free of torch so `polyalign.config` can import it.

Method presets (METHOD.md §4): `bucket_sft` = profile on, bucket balance by sampling at τ = 0, loss per
example (the `BucketSFTConfig` defaults); `sft` = the same trainer with profile and balancing off and
TRL's per-token loss, so the two are compared like for like. Trainer settings (learning rate, epochs,
batch size, accumulation, precision, logging, checkpoints, and the bucket fields of `BucketSFTConfig`)
go under `args` and are checked against `BucketSFTConfig` when the stage runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from polyalign.errors import ConfigError

METHODS = ("sft", "bucket_sft")
# What `method: sft` means: TRL's SFT. These trainer fields may not be set otherwise for it.
PLAIN_SFT_ARGS = {"bucket_balance": "none", "loss_normalization": "token"}


@dataclass
class TinyModelSettings:
    """Size of the offline tiny Qwen2 and its BPE tokenizer (`model: tiny`); trained on the train split."""

    vocab_size: int = 2048  # BPE vocabulary incl. 256 byte symbols and 4 special tokens
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 4096
    seed: int = 0  # weight initialisation
    tokenizer_texts: int = 2000  # train records whose messages train the tokenizer
    tokenizer_profiles: bool = False  # their profile prompts too: a profile then costs a few tokens, not
    #                                   ~100 byte-level ones (for a tight max_length, as the offline default)


@dataclass
class LoraSettings:
    """A LoRA adapter (peft.LoraConfig); the saved model is the merged one, the adapter is kept beside it."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])

    def __post_init__(self) -> None:
        if self.r < 1 or self.alpha <= 0 or not 0 <= self.dropout < 1:
            raise ConfigError(f"train.lora needs r >= 1, alpha > 0, 0 <= dropout < 1; got {self}")


@dataclass
class TrainConfig:
    """SFT or Bucket-SFT of a causal LM on the prepared train split."""

    method: str = "bucket_sft"  # sft | bucket_sft
    model: str = "tiny"  # a local model folder or hub name, or `tiny` (built offline, see `tiny`)
    tiny: TinyModelSettings = field(default_factory=TinyModelSettings)
    profile: bool | None = None  # response-profile system prompt; None: on for bucket_sft, off for sft
    profile_length_dropout: float = 0.0  # share of training profiles without length (teaches mode `none`)
    lora: LoraSettings | None = None  # None: full fine-tuning
    seed: int = 0  # trainer seed (sampler, init of adapters); `args.seed` is refused, set it here
    args: dict[str, Any] = field(default_factory=dict)  # BucketSFTConfig fields, e.g. learning_rate

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"train.method must be one of {list(METHODS)}, got {self.method!r}")
        if not 0 <= self.profile_length_dropout < 1:
            raise ConfigError(
                f"train.profile_length_dropout must be in [0, 1), got {self.profile_length_dropout}"
            )
        for key in ("output_dir", "seed"):
            if key in self.args:
                hint = "use --out" if key == "output_dir" else "use train.seed"
                raise ConfigError(f"train.args.{key} is set by the stage; {hint}")
        if self.method == "sft":
            if self.profile:
                raise ConfigError(
                    "method sft is plain SFT (no profile); use method bucket_sft for the profile"
                )
            for key, value in self.args.items():
                if key.startswith("bucket_") or (key in PLAIN_SFT_ARGS and value != PLAIN_SFT_ARGS[key]):
                    raise ConfigError(
                        f"method sft is plain SFT (no balancing, TRL's token loss): train.args.{key} is not "
                        "allowed; use method bucket_sft"
                    )

    @property
    def use_profile(self) -> bool:
        return self.method == "bucket_sft" if self.profile is None else self.profile


PREFERENCE_METHODS = ("dpo", "dpo_anchor", "hdpo")
BASE = "base"  # the untrained start model, compared beside the trained methods
ALL_METHODS = (*METHODS, *PREFERENCE_METHODS, BASE)  # what `polyalign run` compares by default
REFERENCE_MODES = ("cached", "model")
# What each preference method is (METHOD.md §5): the terms it keeps, whether pair weights count, and the
# start policy its pairs are sampled from. Coefficients left unset take the paper's defaults where kept.
PREFERENCE_PRESETS: dict[str, dict[str, Any]] = {
    "dpo": {"terms": (), "weighted": False, "start": "sft"},
    "dpo_anchor": {"terms": ("gamma",), "weighted": False, "start": "bucket_sft"},
    "hdpo": {"terms": ("lambda_sup", "gamma", "lambda_online"), "weighted": True, "start": "bucket_sft"},
}
PAPER_COEFFICIENTS = {"lambda_sup": 0.1, "gamma": 0.05, "lambda_online": 0.05}


@dataclass
class PreferenceConfig:
    """DPO, DPO + anchor or HDPO on preference pairs (METHOD.md §5): the `preference:` section.

    All three run the same trainer: `dpo` is sigmoid DPO (no extra terms, pair weights 1, pairs from plain
    SFT); `dpo_anchor` adds only the NLL anchor on the human response, the ablation that shows whether
    HDPO is more than DPO with an SFT term; `hdpo` adds the support term, the anchor, the on-policy term
    and the pair weights. A coefficient set for a term its method does not have is an error.
    """

    method: str = "hdpo"  # dpo | dpo_anchor | hdpo
    start: str | None = None  # SFT method of the start policy; None: sft for dpo, bucket_sft otherwise
    beta: float = 0.1
    lambda_sup: float | None = None  # support term; None: 0.1 for hdpo
    gamma: float | None = None  # NLL anchor on the human response; None: 0.05 for dpo_anchor and hdpo
    lambda_online: float | None = None  # on-policy REINFORCE term; None: 0.05 for hdpo
    online_interval: int = 10  # optimiser steps between on-policy batches
    reference: str = "cached"  # cached: reference log-probs computed once, kept on disk | model: in memory
    lora: LoraSettings | None = None  # None: full fine-tuning (the reference is the start policy)
    seed: int = 0
    args: dict[str, Any] = field(default_factory=dict)  # HDPOConfig (DPOConfig) fields, e.g. learning_rate

    def __post_init__(self) -> None:
        if self.method not in PREFERENCE_METHODS:
            raise ConfigError(
                f"preference.method must be one of {list(PREFERENCE_METHODS)}, got {self.method!r}"
            )
        if self.start is not None and self.start not in METHODS:
            raise ConfigError(f"preference.start must be one of {list(METHODS)}, got {self.start!r}")
        if self.reference not in REFERENCE_MODES:
            raise ConfigError(
                f"preference.reference must be one of {list(REFERENCE_MODES)}, got {self.reference!r}"
            )
        if self.beta <= 0 or self.online_interval < 1:
            raise ConfigError("preference.beta must be > 0 and preference.online_interval >= 1")
        kept = PREFERENCE_PRESETS[self.method]["terms"]
        for name in PAPER_COEFFICIENTS:
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"preference.{name} must be >= 0, got {value}")
            if value and name not in kept:
                raise ConfigError(
                    f"method {self.method} has no {name} term (it keeps {list(kept) or 'none'}); "
                    "use method hdpo, or leave it unset"
                )
        for key in ("output_dir", "seed", "beta"):
            if key in self.args:
                raise ConfigError(f"preference.args.{key} is set by the stage; use preference.{key} or --out")

    def for_method(self, method: str) -> PreferenceConfig:
        """This section as `method` runs it in a whole-pipeline run: coefficients of terms `method` does not
        have are left unset rather than refused, so one section serves DPO, DPO + anchor and HDPO alike."""
        kept = PREFERENCE_PRESETS[method]["terms"]
        unset = {name: None for name in PAPER_COEFFICIENTS if name not in kept}
        return dataclasses.replace(self, method=method, **unset)

    @property
    def start_method(self) -> str:
        return self.start or PREFERENCE_PRESETS[self.method]["start"]

    @property
    def weighted(self) -> bool:
        """Whether the pair weights count (HDPO); DPO and DPO + anchor train with w ≡ 1."""
        return PREFERENCE_PRESETS[self.method]["weighted"]

    def coefficients(self) -> dict[str, float]:
        """λ_sup, γ and λ_on of this method: 0 for terms it has not, the paper's value where unset."""
        kept = PREFERENCE_PRESETS[self.method]["terms"]
        return {
            name: 0.0
            if name not in kept
            else float(default if getattr(self, name) is None else getattr(self, name))
            for name, default in PAPER_COEFFICIENTS.items()
        }
