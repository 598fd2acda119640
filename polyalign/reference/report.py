"""Report of a human reference: per bucket its size, whether it borrowed (and from what length range, in
length units), the human band of the main features and the support distance of held-out human
responses (the floor any model should aim for).

Built from the reference and the prepared val/test records, which are only scored, never used to build.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from polyalign.data.bucket_report import table_code
from polyalign.data.buckets import BucketKey
from polyalign.data.records import Record
from polyalign.reference.features import FEATURE_INDEX
from polyalign.reference.reference import HumanReference
from polyalign.reference.support import SupportScorer

MAIN_FEATURES = (
    "length_units",
    "sentences",
    "questions",
    "bullets",
    "commas_per_unit",
    "first_person_per_unit",
)


@dataclass
class ReferenceRow:
    bucket: str
    reference: str
    n_reference: int
    own: int | None  # the bucket's own training responses (None for a cell)
    borrowed_range: list[int] | None  # [shortest, longest] length units borrowed from its cell, if sparse
    bands: dict[str, list[float]]  # main feature -> [L, H]
    heldout_n: int
    heldout_mean: float | None
    heldout_median: float | None
    heldout_q90: float | None


@dataclass
class ReferenceReport:
    rows: list[ReferenceRow]
    heldout_splits: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReferenceReport:
        return cls([ReferenceRow(**row) for row in data["rows"]], data["heldout_splits"])

    def to_markdown(self) -> str:
        lines = [
            "# Human reference report",
            "",
            f"Support distance d of held-out human responses ({' + '.join(self.heldout_splits)}): "
            "the floor any model should aim for. Bands are the training humans' q10–q90. A bucket with too "
            "few training responses of its own borrows its cell's responses nearest in length (range in "
            "length units).",
            "",
            "| bucket | reference | n | "
            + " | ".join(MAIN_FEATURES)
            + " | held-out n | d mean | d median | d q90 |",
            "| --- | --- | ---: | "
            + " | ".join("---" for _ in MAIN_FEATURES)
            + " | ---: | ---: | ---: | ---: |",
        ]
        for row in self.rows:
            reference = "own"
            if row.borrowed_range is not None:
                low, high = row.borrowed_range
                reference = f"borrowed (own {row.own}): lengths {low}–{high}"
            bands = " | ".join(_band_text(row.bands[f]) for f in MAIN_FEATURES)
            stats = " | ".join(_number(v) for v in (row.heldout_mean, row.heldout_median, row.heldout_q90))
            head = f"| {table_code(row.bucket)} | {reference} | {row.n_reference}"
            lines.append(f"{head} | {bands} | {row.heldout_n} | {stats} |")
        return "\n".join(lines) + "\n"


def build_reference_report(
    reference: HumanReference, buckets: Sequence[str], heldout: dict[str, Sequence[Record]]
) -> ReferenceReport:
    """One row per bucket; held-out records are scored against the bucket they belong to."""
    records = [r for split in heldout.values() for r in split]
    distances = SupportScorer(reference).score(
        [r.response for r in records], [str(r.bucket) for r in records]
    )
    by_bucket: dict[str, list[float]] = defaultdict(list)
    for record, d in zip(records, distances, strict=True):
        by_bucket[str(record.bucket)].append(float(d))
    rows = []
    for bucket in sorted(set(buckets) | set(by_bucket), key=lambda b: BucketKey.parse(b).sort_key()):
        key = reference.resolve(bucket)
        stats = reference.stats[key]
        ds = np.asarray(by_bucket.get(bucket, []))
        rows.append(
            ReferenceRow(
                bucket=bucket,
                reference=key,
                n_reference=stats.n,
                own=stats.own,
                borrowed_range=stats.borrowed_range,
                bands={f: [stats.low[FEATURE_INDEX[f]], stats.high[FEATURE_INDEX[f]]] for f in MAIN_FEATURES},
                heldout_n=len(ds),
                heldout_mean=float(ds.mean()) if len(ds) else None,
                heldout_median=float(np.median(ds)) if len(ds) else None,
                heldout_q90=float(np.quantile(ds, 0.9)) if len(ds) else None,
            )
        )
    return ReferenceReport(rows=rows, heldout_splits=sorted(heldout))


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _band_text(band: list[float]) -> str:
    low, high = band
    return f"{low:.3g}–{high:.3g}"
