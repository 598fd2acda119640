"""The bucket report of a prepared dataset: records per bucket and split, back-off, length histograms.

Built from prepared records only; rendered as JSON (for tools), Markdown (for people and the repository)
and a Rich table (for the terminal). Histograms are per context cell over fixed unit edges, so cells and
runs can be compared by eye.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from polyalign.data.buckets import BackOff, BucketKey
from polyalign.data.config import SPLITS

HISTOGRAM_EDGES = (0, 10, 20, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960)
BAR_WIDTH = 30


@dataclass
class BucketRow:
    bucket: str
    train: int
    val: int
    test: int
    reference_bucket: str

    @property
    def total(self) -> int:
        return self.train + self.val + self.test

    @property
    def status(self) -> str:
        return "own" if self.reference_bucket == self.bucket else "sparse: borrows from its cell by length"


@dataclass
class BucketReport:
    rows: list[BucketRow]
    histograms: dict[str, list[int]]  # cell -> counts per HISTOGRAM_EDGES interval (all splits)
    edges: dict[str, list[float]]
    min_bucket_size: int
    sparse_cells: list[str] = field(default_factory=list)

    @property
    def cells(self) -> list[str]:
        return sorted({str(BucketKey.parse(r.bucket).cell) for r in self.rows})

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["histogram_edges"] = list(HISTOGRAM_EDGES)
        data["cells"] = self.cells
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BucketReport:
        return cls(
            rows=[BucketRow(**row) for row in data["rows"]],
            histograms=data["histograms"],
            edges=data["edges"],
            min_bucket_size=data["min_bucket_size"],
            sparse_cells=data.get("sparse_cells", []),
        )

    def to_markdown(self) -> str:
        lines = ["# Bucket report", ""]
        lines += [
            f"{len(self.rows)} buckets in {len(self.cells)} cells. Length edges (units): "
            + "; ".join(f"{lang}: {', '.join(f'{e:g}' for e in edges)}" for lang, edges in self.edges.items())
            + f". A bucket with fewer than {self.min_bucket_size} train records is sparse: its reference "
            "borrows the responses of its cell nearest in length (the reference report gives the range).",
            "",
            "| bucket | train | val | test | total | reference |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for row in self.rows:
            reference = (
                "own" if row.status == "own" else f"sparse → {table_code(row.reference_bucket)} by length"
            )
            counts = f"{row.train} | {row.val} | {row.test} | {row.total}"
            lines.append(f"| {table_code(row.bucket)} | {counts} | {reference} |")
        totals = [sum(getattr(r, s) for r in self.rows) for s in SPLITS]
        lines.append(f"| **all** | {totals[0]} | {totals[1]} | {totals[2]} | {sum(totals)} | |")
        if self.sparse_cells:
            lines += [
                "",
                f"Cells below {self.min_bucket_size} train records even pooled: "
                + ", ".join(self.sparse_cells),
            ]
        lines += ["", "## Response length per cell (units)", ""]
        for cell in self.cells:
            lines += [f"### `{cell}`", "", "```", *histogram_lines(self.histograms[cell]), "```", ""]
        return "\n".join(lines)


def table_code(key: str) -> str:
    """A bucket or cell key as code inside a Markdown table: its pipes must be escaped there."""
    return "`" + key.replace("|", "\\|") + "`"


def histogram_lines(counts: list[int]) -> list[str]:
    """Text bars, one per length interval, scaled to the largest count."""
    peak = max(counts) or 1
    labels = [f"{lo}-{hi}" for lo, hi in itertools.pairwise(HISTOGRAM_EDGES)]
    labels.append(f"{HISTOGRAM_EDGES[-1]}+")
    return [
        f"{label:>9} | {'█' * round(BAR_WIDTH * n / peak):<{BAR_WIDTH}} {n}"
        for label, n in zip(labels, counts, strict=True)
    ]


def _histogram_index(units: int) -> int:
    for i, upper in enumerate(HISTOGRAM_EDGES[1:]):
        if units < upper:
            return i
    return len(HISTOGRAM_EDGES) - 1


def build_bucket_report(
    by_split: dict[str, list[Any]], back_off: BackOff, edges: dict[str, tuple[float, ...]]
) -> BucketReport:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    histograms: dict[str, list[int]] = defaultdict(lambda: [0] * len(HISTOGRAM_EDGES))
    for split, records in by_split.items():
        for record in records:
            counts[record.bucket][split] += 1
            histograms[record.cell][_histogram_index(record.length_units)] += 1
    ordered = sorted(counts, key=lambda b: BucketKey.parse(b).sort_key())
    rows = [
        BucketRow(b, counts[b]["train"], counts[b]["val"], counts[b]["test"], back_off.reference[b])
        for b in ordered
    ]
    return BucketReport(
        rows=rows,
        histograms=dict(histograms),
        edges={lang: list(e) for lang, e in edges.items()},
        min_bucket_size=back_off.min_size,
        sparse_cells=back_off.sparse_cells,
    )
