"""Run configuration: a tree of dataclasses, strict YAML loading and a stable hash.

Unknown keys and wrongly typed values are errors that name the key, the file and the allowed fields.
The artefact root is resolved here and nowhere else: `$POLYALIGN_HOME`, else `~/.cache/polyalign`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from polyalign.errors import ConfigError
from polyalign.evaluate.config import EvalConfig, GenerateConfig, JudgeConfig
from polyalign.train.config import TrainConfig

SPLITS = ("train", "val", "test")
INPUT_FORMATS = ("auto", "polyalign", "messages", "sharegpt", "alpaca", "columns")
T = TypeVar("T")


@dataclass
class SourceConfig:
    """One input: JSONL file(s) or a Hugging Face dataset, with defaults for fields its records lack."""

    path: str | None = None  # a JSONL file, a directory of *.jsonl, or a glob; relative to the config file
    hf: str | None = (
        None  # a `datasets` dataset: hub name (online), saved dataset directory, or data-file dir
    )
    hf_config: str | None = None  # the dataset's config name (`load_dataset(hf, hf_config)`)
    hf_split: str | None = None  # one split of the dataset; None reads every split it has
    format: str = "auto"  # auto | polyalign | messages | sharegpt | alpaca | columns
    columns: dict[str, str] = field(default_factory=dict)  # record field -> column (format columns/hf)
    source: str | None = None  # source name for records without one (default: file stem / dataset name)
    language: str | None = None  # used when a record has no language (else detected offline)
    track: str | None = None  # used when a record has no track (else derived from the user turns)
    family: str | None = None  # used when a record has no family (else `buckets.families[source]`)
    split: str | None = None  # put every record of this source in this split (e.g. an official test set)
    corpus: str | None = None  # a registered corpus recipe (`polyalign data list`) instead of path/hf
    from_dir: str | None = None  # local copy of a registered corpus, in the hub's file layout

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.path, self.hf, self.corpus)) != 1:
            raise ConfigError(
                "a source needs exactly one of 'path' (JSONL), 'hf' (a datasets dataset) "
                "or 'corpus' (a registered recipe)"
            )
        if self.from_dir is not None and self.corpus is None:
            raise ConfigError("'from_dir' is the local copy of a registered 'corpus'; set 'corpus' too")
        if self.format not in INPUT_FORMATS:
            raise ConfigError(f"source format {self.format!r} is not one of {', '.join(INPUT_FORMATS)}")
        if self.split is not None and self.split not in SPLITS:
            raise ConfigError(f"source split {self.split!r} must be one of {list(SPLITS)}")


@dataclass
class FilterConfig:
    """What a record must satisfy to be kept; anything else is quarantined with its reason."""

    languages: list[str] = field(default_factory=lambda: ["en", "zh"])  # supported languages
    max_response_chars: int = 32_768  # longer reference responses are rejected as over_long
    max_conversation_chars: int = 262_144  # longer conversations are rejected as over_long
    mixed_share: float = 0.3  # detection calls a text mixed when its minority script has this share
    min_language_confidence: float = 0.5  # below this the detected language is reported as unknown


@dataclass
class BucketConfig:
    """Length bins, family mapping/coarsening and the sparse-bucket back-off (METHOD.md §1)."""

    edges: str = "fixed"  # fixed: the paper's 40/120/240 units | quantile: per-language, fitted on train
    fixed_edges: list[float] = field(default_factory=lambda: [40.0, 120.0, 240.0])
    quantiles: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75])
    min_bucket_size: int = 20  # train responses below which a bucket uses its parent cell (paper: skip <20)
    families: dict[str, str] = field(default_factory=dict)  # source name -> family, for records without one
    coarsen: dict[str, str] = field(default_factory=dict)  # family -> coarse family (e.g. the paper's 3-way)

    def __post_init__(self) -> None:
        if self.edges not in ("fixed", "quantile"):
            raise ConfigError(f"buckets.edges must be 'fixed' or 'quantile', got {self.edges!r}")
        if len(self.fixed_edges) != 3 or sorted(self.fixed_edges) != list(self.fixed_edges):
            raise ConfigError(f"buckets.fixed_edges must be 3 increasing numbers, got {self.fixed_edges}")
        if len(self.quantiles) != 3 or not all(0 < q < 1 for q in self.quantiles):
            raise ConfigError(f"buckets.quantiles must be 3 numbers in (0, 1), got {self.quantiles}")
        if self.min_bucket_size < 1:
            raise ConfigError("buckets.min_bucket_size must be at least 1")


@dataclass
class SplitConfig:
    """Group-aware, seeded splits; existing splits in the data are kept."""

    seed: int = 0
    ratios: dict[str, float] = field(default_factory=lambda: {"train": 0.8, "val": 0.1, "test": 0.1})
    respect_existing: bool = True  # keep a record's own split (field `split` or `meta.split`)
    min_shared_response_chars: int = 30  # identical responses at least this long join one group
    min_shared_prompt_chars: int = 30  # identical opening user turns at least this long join one group
    min_passage_chars: int = 200  # identical paragraphs at least this long (passages) join one group

    def __post_init__(self) -> None:
        if set(self.ratios) != set(SPLITS) or any(r < 0 for r in self.ratios.values()):
            raise ConfigError(f"splits.ratios needs non-negative train, val and test, got {self.ratios}")
        if abs(sum(self.ratios.values()) - 1.0) > 1e-6:
            raise ConfigError(f"splits.ratios must sum to 1, got {sum(self.ratios.values())}")


@dataclass
class PrepareConfig:
    """Everything `polyalign prepare` needs; an empty `sources` means the built-in synthetic fixture."""

    sources: list[SourceConfig] = field(default_factory=list)
    filters: FilterConfig = field(default_factory=FilterConfig)
    buckets: BucketConfig = field(default_factory=BucketConfig)
    splits: SplitConfig = field(default_factory=SplitConfig)
    fixture_seed: int = 0  # seed of the synthetic corpus used when no source is given


@dataclass
class ReferenceConfig:
    """Bucket references and the support distance d(y, b) (METHOD.md §2-3)."""

    min_bucket_size: int = 20  # train responses below which a bucket's reference is its parent cell
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


@dataclass
class RunConfig:
    """A whole run: one section per stage. YAML files hold this tree."""

    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    reference: ReferenceConfig = field(default_factory=ReferenceConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)  # shared by every compared method
    evaluate: EvalConfig = field(default_factory=EvalConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)


def artifact_root() -> Path:
    """Where artefacts live unless a command is given an explicit output folder."""
    return Path(os.environ.get("POLYALIGN_HOME", Path.home() / ".cache" / "polyalign")).expanduser()


def config_hash(config: Any) -> str:
    """SHA-256 of the sorted-key JSON of a config dataclass: equal configs give equal hashes."""
    payload = json.dumps(dataclasses.asdict(config), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def load_yaml_config(cls: type[T], path: Path) -> T:
    """Read a YAML file into `cls`; relative source paths are resolved against the file's folder."""
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from error
    config = from_mapping(cls, data, where=str(path))
    prepare = config.prepare if isinstance(config, RunConfig) else config
    if isinstance(prepare, PrepareConfig):
        for source in prepare.sources:
            if source.path is not None and not Path(source.path).is_absolute():
                source.path = str((path.parent / source.path).resolve())
            if source.hf is not None and (path.parent / source.hf).exists():
                source.hf = str((path.parent / source.hf).resolve())
            if source.from_dir is not None and not Path(source.from_dir).is_absolute():
                source.from_dir = str((path.parent / source.from_dir).resolve())
    return config


def from_mapping(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass `cls` from plain data, refusing unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} for {cls.__name__}; allowed: {names}")
    values = {name: _coerce(hints[name], data[name], f"{where}: {name}") for name in names if name in data}
    try:
        return cls(**values)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): _coerce(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, float, bool):
        wrong_type = not isinstance(value, hint)
        bool_as_number = isinstance(value, bool) and hint is not bool  # bool is an int subclass in Python
        if wrong_type or bool_as_number:
            raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
