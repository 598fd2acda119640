"""Scoring rate of the pair builder, generation excluded (issue target: >= 4,000 responses/s on one core).

Prepares the development corpus (../shared/data/dev; else the synthetic fixture, said aloud), builds the
bucket references from its train split and makes one pair per train record: chosen = its human response,
rejected = the response of the next train record of the same language (a stand-in for a policy sample:
same length range, other content). Then times `pairs.score_pairs`, the stage's own scoring step (each human
response once, every rejected response, `SupportScorer` in chunks), best of `--repeat` runs on one core.
`bench_train.py --method hdpo` reuses `neighbour_pairs` and `scoring_rate`.

    python benchmarks/bench_pairs.py [--repeat 3] [--dev DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import corpus

from polyalign.data.prepare import prepare_stage
from polyalign.data.records import Record
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.reference import build_reference
from polyalign.reference.support import SupportScorer
from polyalign.train.pairs import PairScorer, score_pairs


def neighbour_pairs(records: Sequence[Record], group: Callable[[Record], str]) -> list[dict[str, Any]]:
    """One pair per record of a group with two or more members: chosen = its response, rejected = the
    response of the group's next record (cyclic), in the pair builder's row format without a prompt."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        groups[group(record)].append(record)
    rows = []
    for members in groups.values():
        if len(members) < 2:
            continue  # a pair with itself has no preference
        for record, other in zip(members, members[1:] + members[:1], strict=True):
            rows.append(
                {
                    "record_id": record.id,
                    "bucket": record.bucket,
                    "chosen": [{"role": "assistant", "content": record.response}],
                    "rejected": [{"role": "assistant", "content": other.response}],
                }
            )
    return rows


def scoring_rate(scorer: PairScorer, rows: list[dict[str, Any]], repeat: int) -> tuple[float, int, float]:
    """(responses/s, responses, best seconds) of `score_pairs` over `rows`, best of `repeat`, pinned to one
    core for the timing only (the previous affinity is restored). Sets the rows' d as the stage does."""
    pinned = hasattr(os, "sched_setaffinity")
    if pinned:
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cores)})
    try:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            score_pairs(scorer, rows, progress=False)
            best = min(best, time.perf_counter() - start)
    finally:
        if pinned:
            os.sched_setaffinity(0, cores)
    responses = len({row["record_id"] for row in rows}) + len(rows)  # each human response once
    return responses / best, responses, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dev", type=Path, default=corpus.DEV, help="the development corpus folder")
    args = parser.parse_args()
    corpus.DEV = args.dev  # a script's own setting, read once by benchmark_corpus below
    config, origin = corpus.benchmark_corpus()
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare_stage(config, root=Path(tmp), out=Path(tmp) / "prep", progress=False)
    train = sorted(data.content.splits["train"], key=lambda r: r.id)
    scorer = SupportScorer(build_reference(train, ReferenceConfig()))
    rows = neighbour_pairs([r for r in train if r.language in ("en", "zh")], lambda r: r.language)
    rate, responses, best = scoring_rate(scorer, rows, args.repeat)
    print(
        f"pair scoring: {rate:,.0f} responses/s ({len(rows)} {origin} pairs, {responses} "
        f"responses in {best:.2f} s, features + d, one core, generation excluded)"
    )


if __name__ == "__main__":
    main()
