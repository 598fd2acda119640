"""Human reference distributions per bucket, from training-split human responses only (METHOD.md §2).

For every bucket with at least `min_bucket_size` training responses, and for every context cell (the
back-off target of sparser buckets), stores robust per-feature statistics (q05…q95, median, IQR, mean,
std, n), the band [L, H] and scale s used by the support distance, the empirical length distribution and,
optionally, a sample of response embeddings. When d has neighbour or style terms, it also keeps a seeded
sample of each reference's own responses (the very ones its bands were computed from). A val or test record
in the input is an error: the authors' references contained test answers. Saved as JSON (floats round-trip
exactly) plus `embeddings.npy` and `support_texts.json`.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyalign import artifacts
from polyalign.config import from_mapping
from polyalign.data.buckets import BucketKey
from polyalign.data.records import Record
from polyalign.errors import PolyAlignError
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.embedders import Embedder
from polyalign.reference.features import FEATURE_NAMES, FEATURES, extract

QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
REFERENCE_FILE = "reference.json"
EMBEDDINGS_FILE = "embeddings.npy"
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
    level: str  # "bucket" or "cell"
    quantiles: dict[str, list[float]]  # "q05".."q95" -> per-feature values
    mean: list[float]
    std: list[float]
    iqr: list[float]
    low: list[float]
    high: list[float]
    scale: list[float]
    lengths: list[int]  # sorted length units of the responses: the empirical length distribution

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
    support_texts: dict[str, list[str]] | None = None  # reference key -> sample of its training responses

    def __post_init__(self) -> None:
        self.bands = {key: s.band() for key, s in self.stats.items()}

    def resolve(self, bucket: str) -> str:
        """The reference key of a bucket: itself when it had enough training data, else its cell."""
        if bucket in self.stats:
            return bucket
        cell = str(BucketKey.parse(bucket).cell)  # a cell is its own cell
        if cell in self.stats:
            return cell
        raise PolyAlignError(
            f"no human reference for bucket {bucket!r} or its cell {cell!r}: the training split has no "
            f"responses there. Known cells: {sorted(k for k, s in self.stats.items() if s.level == 'cell')}"
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
            support_texts=support_texts,
        )


def build_reference(
    records: Sequence[Record],
    config: ReferenceConfig,
    source: dict[str, Any] | None = None,
    embedder: Embedder | None = None,
) -> HumanReference:
    """Statistics per bucket (enough data) and per cell (always), from training records only."""
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
    x = extract(
        [r.response for r in records], [str(r.language) for r in records], progress=len(records) > 5_000
    )
    members: dict[BucketKey, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        bucket = BucketKey.parse(str(record.bucket))
        members[bucket].append(i)
        members[bucket.cell].append(i)
    lengths = np.array([r.length_units or 0 for r in records])
    stats = {}
    used: dict[str, list[int]] = {}  # the responses behind each reference, for the support sample
    for key, idx in members.items():
        if not key.is_cell and len(idx) < config.min_bucket_size:
            continue  # backs off to its cell, which is always stored
        stats[str(key)] = _stats(x[idx], lengths[idx], "cell" if key.is_cell else "bucket", config)
        used[str(key)] = idx
    embeddings = None
    if embedder is not None:
        rng = np.random.default_rng(config.seed)
        embeddings = {}
        for key in sorted(stats):
            idx = np.asarray(members[BucketKey.parse(key)])
            chosen = np.sort(rng.choice(idx, size=min(len(idx), config.embedding_sample), replace=False))
            embeddings[key] = embedder.encode([records[i].response for i in chosen]).astype(np.float32)
    return HumanReference(
        config=config,
        feature_names=FEATURE_NAMES,
        stats=stats,
        source=source or {},
        embeddings=embeddings,
        embedder=embedder.name if embedder else None,
        support_texts=_support_sample(records, used, config) if config.needs_texts else None,
    )


def _support_sample(
    records: Sequence[Record], used: dict[str, list[int]], config: ReferenceConfig
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
