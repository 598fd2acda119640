"""Human reference distributions per bucket, from training-split human responses only (METHOD.md §2).

For every length bin of every context cell seen in training, and for every cell, stores robust
per-feature statistics (q05…q95, median, IQR, mean, std, n), the band [L, H] and scale s used by the
support distance, the empirical length distribution and, optionally, a sample of response embeddings.
A bucket with fewer than `min_bucket_size` training responses (none at all, for a bin met only at
scoring time) *borrows*: its reference is built from the cell's training responses nearest in length
to the bin's range, the window widened (by a common factor on both sides, length being a scale) until
the minimum count is met. Never from the whole cell: a cell's band is that of its majority length, and
a long answer judged against it looks less human than its own first sentence. A val or test record in
the input is an error: the authors' references contained test answers. Saved as JSON (floats
round-trip exactly) plus `embeddings.npy`;
when d has neighbour or style terms, also a seeded sample of each reference's own responses (the
very ones its bands were computed from), in `support_texts.json`.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polyalign import artifacts
from polyalign.config import from_mapping
from polyalign.data.buckets import LENGTH_BINS, PAPER_EDGES, BucketKey
from polyalign.data.records import Record
from polyalign.errors import PolyAlignError
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.embedders import Embedder
from polyalign.reference.features import FEATURE_NAMES, FEATURES, extract

QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
REFERENCE_FILE = "reference.json"
EMBEDDINGS_FILE = "embeddings.npy"
FORMAT = 2  # 2: sparse buckets borrow length-nearest responses of their cell (1: the whole cell)
SUPPORT_TEXTS_FILE = "support_texts.json"


class ReferenceLeakError(PolyAlignError):
    """A reference was asked to include held-out (val/test) human responses."""


@dataclass(frozen=True)
class Band:
    """What d(y, b) needs of one reference: per-feature low L, high H and scale s, each (F,)."""

    low: np.ndarray
    high: np.ndarray
    scale: np.ndarray


@dataclass
class ReferenceStats:
    """Statistics of the training human responses behind one reference key (a bucket or a cell)."""

    n: int
    level: str  # "bucket" (its own responses), "borrowed" (length-nearest responses of its cell) or "cell"
    quantiles: dict[str, list[float]]  # "q05".."q95" -> per-feature values
    mean: list[float]
    std: list[float]
    iqr: list[float]
    low: list[float]
    high: list[float]
    scale: list[float]
    lengths: list[int]  # sorted length units of the responses: the empirical length distribution
    own: int | None = None  # a bucket's own training responses (borrowed: fewer than min_bucket_size)
    borrowed_range: list[int] | None = None  # borrowed: [shortest, longest] length units it was built from

    @property
    def median(self) -> list[float]:
        return self.quantiles["q50"]

    def band(self) -> Band:
        return Band(np.asarray(self.low), np.asarray(self.high), np.asarray(self.scale))


@dataclass
class HumanReference:
    config: ReferenceConfig
    feature_names: tuple[str, ...]
    stats: dict[str, ReferenceStats]
    source: dict[str, Any]  # the prepare artefact it was built from (key, folder)
    embeddings: dict[str, np.ndarray] | None = None
    embedder: str | None = None
    edges: dict[str, list[float]] = field(default_factory=dict)  # length-bin edges per language (units)
    support_texts: dict[str, list[str]] | None = None  # reference key -> sample of its training responses

    def __post_init__(self) -> None:
        self.bands = {key: s.band() for key, s in self.stats.items()}

    def resolve(self, bucket: str) -> str:
        """The reference key of a bucket or cell: every length bin of a cell seen in training has one
        (its own responses, or borrowed length-nearest ones), so a bucket resolves to itself."""
        if bucket in self.stats:
            return bucket
        key = BucketKey.parse(bucket)
        cells = sorted(k for k, s in self.stats.items() if s.level == "cell")
        if str(key.cell) in self.stats:
            raise PolyAlignError(
                f"bucket {bucket!r}: length bin {key.length_bin!r} is not one of {list(LENGTH_BINS)}"
            )
        raise PolyAlignError(
            f"no human reference for bucket {bucket!r}: the training split has no responses in its cell "
            f"{str(key.cell)!r}. Known cells: {cells}"
        )

    def band_arrays(self, ref_keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-row band low L, high H and scale s, each (n, F), of resolved reference keys (`resolve`)."""
        rows, unique = self._rows(ref_keys)
        low = self._gather([self.bands[k].low for k in unique], rows)
        high = self._gather([self.bands[k].high for k in unique], rows)
        scale = self._gather([self.bands[k].scale for k in unique], rows)
        return low, high, scale

    def deviation(self, x: np.ndarray, ref_keys: Sequence[str]) -> np.ndarray:
        """x: (n, F) → (n, F): each feature's signed deviation from its reference's median in units of
        the reference's scale, clipped to ±clip. The one human-vs-model design of the critic and of the
        discriminability metric, so both read a response the same way."""
        rows, unique = self._rows(ref_keys)
        median = self._gather([self.stats[k].median for k in unique], rows)
        scale = self._gather([self.bands[k].scale for k in unique], rows)
        clip = self.config.clip
        return np.clip((x - median) / scale, -clip, clip)

    def _rows(self, ref_keys: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """Each row's position among the sorted distinct keys: gather per key once, then index rows."""
        unique = sorted(set(ref_keys))
        unknown = [k for k in unique if k not in self.stats]
        if unknown:
            raise PolyAlignError(
                f"{unknown[:3]} are not reference keys of this reference: map buckets through "
                "HumanReference.resolve first"
            )
        position = {k: i for i, k in enumerate(unique)}
        rows = np.fromiter((position[k] for k in ref_keys), dtype=np.intp, count=len(ref_keys))
        return rows, unique

    def _gather(self, per_key: list[Any], rows: np.ndarray) -> np.ndarray:
        """(k, F) values of the distinct keys → (n, F) per row."""
        if not per_key:
            return np.empty((0, len(self.feature_names)))
        return np.stack(per_key)[rows]

    def weight_vector(self) -> np.ndarray:
        unknown = set(self.config.weights) - set(self.feature_names)
        if unknown:
            raise PolyAlignError(
                f"reference.weights names unknown features {sorted(unknown)}: {self.feature_names}"
            )
        return np.array([self.config.weights.get(name, 1.0) for name in self.feature_names])

    def save(self, folder: Path) -> None:
        """Write the reference into `folder` (called inside an atomic staging folder)."""
        data = {
            "config": dataclasses.asdict(self.config),
            "feature_names": list(self.feature_names),
            "features": [f.describe() for f in FEATURES if f.name in self.feature_names],
            "source": self.source,
            "embedder": self.embedder,
            "format": FORMAT,
            "edges": self.edges,
            "stats": {key: dataclasses.asdict(s) for key, s in sorted(self.stats.items())},
        }
        artifacts.write_json(folder / REFERENCE_FILE, data)
        if self.embeddings:
            keys = sorted(self.embeddings)
            np.save(
                folder / EMBEDDINGS_FILE,
                np.concatenate([self.embeddings[k] for k in keys]),
                allow_pickle=False,
            )
            bounds = np.cumsum([0, *(len(self.embeddings[k]) for k in keys)]).tolist()
            artifacts.write_json(
                folder / "embeddings.json", {k: bounds[i : i + 2] for i, k in enumerate(keys)}
            )
        if self.support_texts is not None:
            artifacts.write_json(folder / SUPPORT_TEXTS_FILE, dict(sorted(self.support_texts.items())))

    @classmethod
    def load(cls, folder: Path) -> HumanReference:
        path = folder / REFERENCE_FILE
        if not path.is_file():
            raise PolyAlignError(f"{folder} holds no human reference ({REFERENCE_FILE}); build one first")
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise PolyAlignError(
                f"{path} is reference format {data.get('format', 1)}, this polyalign reads format {FORMAT} "
                "(sparse buckets borrow length-nearest responses): rebuild the reference"
            )
        if tuple(data["feature_names"]) != FEATURE_NAMES:
            raise PolyAlignError(
                f"{path} was built with features {data['feature_names']}, "
                f"this polyalign has {list(FEATURE_NAMES)}: "
                "rebuild the reference"
            )
        embeddings = None
        if (folder / EMBEDDINGS_FILE).is_file():
            matrix = np.load(folder / EMBEDDINGS_FILE, allow_pickle=False)
            index = json.loads((folder / "embeddings.json").read_text(encoding="utf-8"))
            embeddings = {key: matrix[start:end] for key, (start, end) in index.items()}
        texts_path = folder / SUPPORT_TEXTS_FILE
        support_texts = json.loads(texts_path.read_text(encoding="utf-8")) if texts_path.is_file() else None
        return cls(
            config=from_mapping(ReferenceConfig, data["config"], where=str(path)),
            feature_names=tuple(data["feature_names"]),
            stats={key: ReferenceStats(**s) for key, s in data["stats"].items()},
            source=data["source"],
            embeddings=embeddings,
            embedder=data["embedder"],
            edges=data["edges"],
            support_texts=support_texts,
        )


def build_reference(
    records: Sequence[Record],
    config: ReferenceConfig,
    source: dict[str, Any] | None = None,
    embedder: Embedder | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
) -> HumanReference:
    """Statistics per cell and per length bin of each cell (own or borrowed), from training records only.

    `edges`: the length-bin edges per language the records were bucketed with (the prepare artefact's);
    None means the paper's fixed edges for every language.
    """
    held_out = [r.id for r in records if r.split != "train"]
    if held_out:
        raise ReferenceLeakError(
            f"a human reference is built from the train split only, but {len(held_out)} record(s) are not "
            f"train (first: {held_out[:3]}); pass only PreparedData.splits['train']"
        )
    if not records:
        raise PolyAlignError("no training records to build a human reference from")
    if any(r.bucket is None for r in records):
        raise PolyAlignError(
            "records have no bucket: build references from prepared data (`polyalign prepare`)"
        )
    languages = sorted({str(r.language) for r in records})
    given = dict.fromkeys(languages, PAPER_EDGES) if edges is None else edges
    if missing := [lang for lang in languages if lang not in given]:
        raise PolyAlignError(f"no length-bin edges for language(s) {missing}: pass the prepare artefact's")
    edges = {lang: [float(e) for e in given[lang]] for lang in languages}
    x = extract(
        [r.response for r in records], [str(r.language) for r in records], progress=len(records) > 5_000
    )
    keys = [BucketKey.parse(str(r.bucket)) for r in records]
    lengths = np.array([r.length_units or 0 for r in records])
    by_cell: dict[BucketKey, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        by_cell[key.cell].append(i)
    members: dict[str, np.ndarray] = {}
    stats = {}
    for cell, cell_rows in by_cell.items():
        idx = np.asarray(cell_rows)
        members[str(cell)] = idx
        stats[str(cell)] = _stats(x[idx], lengths[idx], "cell", config)
        bins = np.array([keys[i].length_bin for i in idx])
        for name, (lower, upper) in bin_ranges(edges[cell.language]).items():
            own = bins == name
            sparse = own.sum() < config.min_bucket_size
            window = length_window(lengths[idx], own, lower, upper, config.min_bucket_size) if sparse else own
            chosen = idx[window]
            key = str(cell.with_bin(name))
            members[key] = chosen
            stats[key] = dataclasses.replace(
                _stats(x[chosen], lengths[chosen], "borrowed" if sparse else "bucket", config),
                own=int(own.sum()),
                borrowed_range=[int(lengths[chosen].min()), int(lengths[chosen].max())] if sparse else None,
            )
    embeddings = None
    if embedder is not None:
        rng = np.random.default_rng(config.seed)
        sampled = {}
        for key in sorted(stats):
            idx = members[key]
            sampled[key] = np.sort(
                rng.choice(idx, size=min(len(idx), config.embedding_sample), replace=False)
            )
        # A response sampled for several keys (its cell, its bucket, a borrowing one) is encoded once.
        encoded = np.unique(np.concatenate(list(sampled.values())))
        matrix = embedder.encode([records[i].response for i in encoded]).astype(np.float32)
        embeddings = {key: matrix[np.searchsorted(encoded, idx)] for key, idx in sampled.items()}
    return HumanReference(
        config=config,
        feature_names=FEATURE_NAMES,
        stats=stats,
        source=source or {},
        embeddings=embeddings,
        embedder=embedder.name if embedder else None,
        edges=edges,
        support_texts=_support_sample(records, members, config) if config.needs_texts else None,
    )


def bin_ranges(edges: Sequence[float]) -> dict[str, tuple[float, float]]:
    """Each length bin's (lower, upper] range in length units: `short` (0, e0], ..., `xlong` (e_last, inf)."""
    bounds = [0.0, *edges, np.inf]
    return {name: (bounds[i], bounds[i + 1]) for i, name in enumerate(LENGTH_BINS[: len(edges) + 1])}


def length_window(
    lengths: np.ndarray, own: np.ndarray, lower: float, upper: float, min_count: int
) -> np.ndarray:
    """Positions of a sparse bucket's own responses plus the cell's responses nearest to its length range
    (lower, upper], enough to reach `min_count` (all of the cell when it has fewer).

    Nearness is the factor by which the range must widen to reach a length (log units, both sides alike,
    since a length is a scale: 30 is as far below 40 as 160 is above 120). Responses as near as the last
    one taken are all taken, so the window is the same whatever the order of the records.
    """
    units = np.maximum(lengths, 1).astype(float)
    below = np.log(lower / units) if lower > 0 else np.zeros(len(units))
    above = np.log(units / upper) if np.isfinite(upper) else np.zeros(len(units))
    distance = np.maximum(0.0, np.maximum(below, above))  # 0 inside the range
    distance[own] = -1.0  # its own responses always count, first
    if len(units) <= min_count:
        return np.arange(len(units))
    reach = np.partition(distance, min_count - 1)[min_count - 1]
    return np.flatnonzero(distance <= reach)


def _support_sample(
    records: Sequence[Record], used: dict[str, np.ndarray], config: ReferenceConfig
) -> dict[str, list[str]]:
    """Up to `support_sample` responses of each reference, seeded, in record order."""
    rng = np.random.default_rng([config.seed, 1])  # a stream apart from the embedding sample's
    sample = {}
    for key in sorted(used):
        idx = np.asarray(used[key])
        chosen = np.sort(rng.choice(idx, size=min(len(idx), config.support_sample), replace=False))
        sample[key] = [records[i].response for i in chosen]
    return sample


def _stats(x: np.ndarray, lengths: np.ndarray, level: str, config: ReferenceConfig) -> ReferenceStats:
    quantiles = np.quantile(x, QUANTILES, axis=0)  # (7, F)
    low, high = np.quantile(x, config.band, axis=0)  # (F,) each
    iqr = quantiles[QUANTILES.index(0.75)] - quantiles[QUANTILES.index(0.25)]
    floors = scale_floors(float(np.median(lengths)))
    scale = np.maximum.reduce([high - low, iqr, floors])
    return ReferenceStats(
        n=len(x),
        level=level,
        quantiles={
            f"q{round(q * 100):02d}": row.tolist() for q, row in zip(QUANTILES, quantiles, strict=True)
        },
        mean=x.mean(axis=0).tolist(),
        std=x.std(axis=0).tolist(),
        iqr=iqr.tolist(),
        low=low.tolist(),
        high=high.tolist(),
        scale=scale.tolist(),
        lengths=sorted(int(n) for n in lengths),
    )


def scale_floors(median_units: float) -> np.ndarray:
    """Event-aware floors (METHOD.md §3): one extra event costs about 1 for counts and per-unit rates."""
    per_unit = 1.0 / max(median_units, 1.0)
    return np.array(
        [1.0 if f.kind == "count" else per_unit if f.kind == "rate" else f.floor for f in FEATURES]
    )
