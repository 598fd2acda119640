"""Throughput of features + support distance, per language (issue target: >= 4,000 responses/s on one core).

Prepares the development corpus (../shared/data/dev), builds the bucket references from its train split,
then times `SupportScorer.score` (feature extraction + d(y, b)) over every response of each language,
best of `--repeat` runs. Without the dev corpus it says so and uses the synthetic fixture instead.

    python benchmarks/bench_features.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from corpus import benchmark_corpus

from polyalign.data.prepare import prepare_stage
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.reference import build_reference
from polyalign.reference.support import SupportScorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    config, origin = benchmark_corpus()
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare_stage(config, root=Path(tmp), out=Path(tmp) / "prep", progress=False)
    scorer = SupportScorer(build_reference(data.content.splits["train"], ReferenceConfig()))
    records = [r for split in data.content.splits.values() for r in split]
    for language in ("en", "zh"):
        chosen = [r for r in records if r.language == language]
        texts, buckets = [r.response for r in chosen], [str(r.bucket) for r in chosen]
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            scorer.score(texts, buckets)
            best = min(best, time.perf_counter() - start)
        mean_chars = sum(map(len, texts)) / len(texts)
        print(
            f"{language}: {len(texts) / best:,.0f} responses/s "
            f"({len(texts)} {origin} responses, mean {mean_chars:.0f} chars, features + distance, one core)"
        )


if __name__ == "__main__":
    main()
