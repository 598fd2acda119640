"""The `prepare:` section of a run config: sources, filters, buckets and splits (torch-free)."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field

from polyalign.data.buckets import FAMILIES, PAPER_EDGES, TRACKS
from polyalign.errors import ConfigError

SPLITS = ("train", "val", "test")
# The split names datasets commonly use for ours; others are mapped with `splits.names`.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "development": "val",
    "test": "test",
    "testing": "test",
}
# Optional source fields that mean nothing to the fixture, which labels its own records.
_NOT_FOR_FIXTURE = ("source", "language", "track", "family", "split", "from_dir", "encoding")
INPUT_FORMATS = ("auto", "polyalign", "messages", "sharegpt", "alpaca", "columns")


@dataclass
class SourceConfig:
    """One input: JSONL file(s), a Hugging Face dataset, a registered corpus or the synthetic fixture.

    File and dataset sources carry defaults for the fields their records lack; a corpus and the fixture
    label their own records.
    """

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
    fixture: int | None = None  # seed of the built-in synthetic test corpus (all 80 buckets)
    demo: int | None = None  # seed of the built-in synthetic demo corpus (the offline default of `run`)
    encoding: str | None = None  # text encoding of the files (default: UTF-8, with or without a BOM)

    @property
    def synthetic(self) -> tuple[str, int] | None:
        """(`fixture` or `demo`, its seed) for a built-in synthetic corpus, else None."""
        if self.fixture is not None:
            return "fixture", self.fixture
        return ("demo", self.demo) if self.demo is not None else None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.path, self.hf, self.corpus, self.fixture, self.demo)) != 1:
            raise ConfigError(
                "a source needs exactly one of 'path' (JSONL), 'hf' (a datasets dataset), "
                "'corpus' (a registered recipe), 'fixture' or 'demo' (a synthetic corpus's seed)"
            )
        if self.synthetic is not None:
            defaults = {"format": self.format != "auto", "columns": bool(self.columns)}
            defaults |= {name: getattr(self, name) is not None for name in _NOT_FOR_FIXTURE}
            if any(defaults.values()):
                given = [name for name, is_set in defaults.items() if is_set]
                raise ConfigError(
                    f"the {self.synthetic[0]} source labels its own records; remove {given} from it"
                )
        if self.from_dir is not None and self.corpus is None:
            raise ConfigError("'from_dir' is the local copy of a registered 'corpus'; set 'corpus' too")
        if self.format not in INPUT_FORMATS:
            raise ConfigError(f"source format {self.format!r} is not one of {', '.join(INPUT_FORMATS)}")
        if self.split is not None and self.split not in SPLITS:
            raise ConfigError(f"source split {self.split!r} must be one of {list(SPLITS)}")
        if self.track is not None and self.track not in TRACKS:
            raise ConfigError(f"source track {self.track!r} must be one of {list(TRACKS)}")
        if self.family is not None and self.family not in FAMILIES:
            raise ConfigError(f"source family {self.family!r} must be one of {list(FAMILIES)}")
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ConfigError(
                    f"source encoding {self.encoding!r} is not a known codec (e.g. utf-8, gb18030, cp1252)"
                ) from None


@dataclass
class FilterConfig:
    """What a record must satisfy to be kept; anything else is quarantined with its reason."""

    languages: list[str] = field(default_factory=lambda: ["en", "zh"])  # supported languages
    max_response_chars: int = 32_768  # longer reference responses are rejected as over_long
    max_conversation_chars: int = 262_144  # longer conversations are rejected as over_long
    mixed_share: float = 0.3  # detection calls a text mixed when its minority script has this share
    min_language_confidence: float = 0.5  # below this the detected language is reported as unknown
    max_rejected_share: float = 0.05  # prepare warns above this share of rejected input (`strict`: fails)


@dataclass
class BucketConfig:
    """Length bins, family mapping/coarsening and the sparse-bucket back-off (METHOD.md §1)."""

    edges: str = "fixed"  # fixed: the paper's 40/120/240 units | quantile: per-language, fitted on train
    fixed_edges: list[float] = field(default_factory=lambda: [float(e) for e in PAPER_EDGES])
    quantiles: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75])
    min_bucket_size: int = 20  # train responses below which a bucket borrows from its cell (paper: skip <20)
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
    names: dict[str, str] = field(default_factory=dict)  # the data's split names -> ours, beyond aliases

    def __post_init__(self) -> None:
        wrong = {name: ours for name, ours in self.names.items() if ours not in SPLITS}
        if wrong:
            raise ConfigError(f"splits.names must map to one of {list(SPLITS)}; got {wrong}")
        if set(self.ratios) != set(SPLITS) or any(r < 0 for r in self.ratios.values()):
            raise ConfigError(f"splits.ratios needs non-negative train, val and test, got {self.ratios}")
        if abs(sum(self.ratios.values()) - 1.0) > 1e-6:
            raise ConfigError(f"splits.ratios must sum to 1, got {sum(self.ratios.values())}")


@dataclass
class PrepareConfig:
    """Everything `polyalign prepare` needs. `sources` must name at least one input when the stage runs
    (the synthetic corpus too is a source: `{fixture: 0}`); it may start empty for the CLI to fill.
    """

    sources: list[SourceConfig] = field(default_factory=list)
    filters: FilterConfig = field(default_factory=FilterConfig)
    buckets: BucketConfig = field(default_factory=BucketConfig)
    splits: SplitConfig = field(default_factory=SplitConfig)
    strict: bool = (
        False  # fail (exit 1) instead of warning when over `filters.max_rejected_share` is rejected
    )


def canonical_split(name: str, names: Mapping[str, str]) -> str | None:
    """Our split for a split name found in the data (`splits.names` first, then the common aliases)."""
    return names.get(name) or SPLIT_ALIASES.get(name.lower())
