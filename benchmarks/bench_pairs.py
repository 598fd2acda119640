"""Scoring rate of the pair builder, generation excluded (issue target: >= 4,000 responses/s on one core).

Prepares the development corpus (../shared/data/dev; else the synthetic fixture, said aloud), builds the
bucket references from its train split and makes one pair per train record: chosen = its human response,
rejected = the response of the next train record of the same language (a stand-in for a policy sample:
same length range, other content). Then times `pairs.score_pairs`, the stage's own scoring step (each human
response once, every rejected response, `SupportScorer` in chunks), best of `--repeat` runs.

    python benchmarks/bench_pairs.py [--repeat 3] [--dev DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import corpus

from polyalign.data.prepare import prepare_stage
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.reference import build_reference
from polyalign.reference.support import SupportScorer
from polyalign.train.pairs import score_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dev", type=Path, default=corpus.DEV, help="the development corpus folder")
    args = parser.parse_args()
    corpus.DEV = args.dev  # a script's own setting, read once by benchmark_corpus below
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    config, origin = corpus.benchmark_corpus()
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare_stage(config, root=Path(tmp), out=Path(tmp) / "prep", progress=False)
    train = sorted(data.content.splits["train"], key=lambda r: r.id)
    scorer = SupportScorer(build_reference(train, ReferenceConfig()))
    rows = []
    for language in ("en", "zh"):
        chosen = [r for r in train if r.language == language]
        for record, other in zip(chosen, chosen[1:] + chosen[:1], strict=True):
            rows.append(
                {
                    "record_id": record.id,
                    "bucket": record.bucket,
                    "chosen": [{"role": "assistant", "content": record.response}],
                    "rejected": [{"role": "assistant", "content": other.response}],
                }
            )
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        score_pairs(scorer, rows, progress=False)
        best = min(best, time.perf_counter() - start)
    responses = 2 * len(rows)  # each pair's human response (once per record) and its rejected response
    print(
        f"pair scoring: {responses / best:,.0f} responses/s ({len(rows)} {origin} pairs, {responses} "
        f"responses in {best:.2f} s, features + d, one core, generation excluded)"
    )


if __name__ == "__main__":
    main()
