"""Throughput of features + support distance, per language (issue target: >= 4,000 responses/s on one core).

Prepares the development corpus (../shared/data/dev), builds the bucket references from its train split,
then times feature extraction alone and the full `SupportScorer.score` (features + every configured term
of d(y, b)) for bands only, the default terms and all terms, over every response of each language, best
of `--repeat` runs, side by side in one process (so a busy machine slows all alike). Without the dev corpus
it says so and uses the synthetic fixture instead.

    python benchmarks/bench_features.py [--repeat 3] [--data ../shared/data/dev]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from corpus import DEV, benchmark_corpus

from polyalign.data.prepare import prepare_stage
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.features import extract
from polyalign.reference.reference import build_reference
from polyalign.reference.support import SupportScorer
from polyalign.reference.terms import TERMS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEV, help="folder of the development corpus")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    config, origin = benchmark_corpus(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare_stage(config, root=Path(tmp), out=Path(tmp) / "prep", progress=False)
    train = data.content.splits["train"]
    default = ReferenceConfig().support_terms
    scorers = {
        f"d, {name} {terms}": SupportScorer(build_reference(train, ReferenceConfig(support_terms=terms)))
        for name, terms in (
            ("bands only", {"bands": 1.0}),
            ("default", default),
            ("all terms", dict.fromkeys(TERMS, 1.0)),
        )
    }
    records = [r for split in data.content.splits.values() for r in split]
    for language in ("en", "zh"):
        chosen = [r for r in records if r.language == language]
        texts, buckets = [r.response for r in chosen], [str(r.bucket) for r in chosen]
        mean_chars = sum(map(len, texts)) / len(texts)
        print(f"{language}: {len(texts)} {origin} responses, mean {mean_chars:.0f} chars, one core")
        for name, seconds in _best_times(scorers, texts, buckets, language, args.repeat).items():
            print(f"  {name:80s} {len(texts) / seconds:8,.0f} responses/s")


def _best_times(
    scorers: dict[str, SupportScorer], texts: list[str], buckets: list[str], language: str, repeat: int
) -> dict[str, float]:
    """Best seconds of each run, the runs interleaved within each repeat."""
    runs = {"features alone": lambda: extract(texts, language)}
    runs |= {name: (lambda s=s: s.score(texts, buckets)) for name, s in scorers.items()}
    for run in runs.values():
        run()  # warm-up: a scorer builds each reference's neighbour index and style profile once
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


if __name__ == "__main__":
    main()
