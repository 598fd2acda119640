"""Throughput of prepare's record path on 100k records (issue target: >= 5,000 records/s on one core).

Replicates the development corpus (../shared/data/dev) to N records with distinct ids, then times
load + normalise + label + dedup + bucket on one core, and separately the whole `prepare` stage
(groups, splits, report, writing). Without the dev corpus it says so and uses the synthetic fixture.

    python benchmarks/bench_prepare.py [--records 100000] [--distinct-content]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from corpus import DEV, dev_available

from polyalign.data.accounting import Ledger
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import collect_records, label_buckets, prepare_stage, split_records


def seed_rows() -> tuple[list[dict], str]:
    if dev_available():
        rows = [json.loads(line) for f in sorted(DEV.glob("*.jsonl")) for line in f.open(encoding="utf-8")]
        return rows, f"dev corpus ({len(rows)} records)"
    from polyalign.data.fixture.generator import make_fixture_corpus

    print(f"note: {DEV} not found; replicating the synthetic fixture instead")
    return [r.to_dict() for r in make_fixture_corpus(0)], "synthetic fixture"


def write_replicated(rows: list[dict], n: int, path: Path, distinct_content: bool) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            row = dict(rows[i % len(rows)])
            copy = i // len(rows)
            row["id"] = f"{row['id']}#copy{copy}"
            if distinct_content and copy:
                *history, last = row["messages"]
                row["messages"] = [*history, {**last, "content": f"{last['content']} ({copy})"}]
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument(
        "--distinct-content", action="store_true", help="vary each copy's response, so nothing deduplicates"
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    rows, origin = seed_rows()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replicated.jsonl"
        write_replicated(rows, args.records, path, args.distinct_content)
        config = PrepareConfig(sources=[SourceConfig(path=str(path), format="polyalign")])
        ledger = Ledger()
        start = time.perf_counter()
        records = collect_records(config, ledger, progress=False)
        collected = time.perf_counter()
        split_records(records, config)
        split = time.perf_counter()
        label_buckets(records, config)
        done = time.perf_counter()
        core = (collected - start) + (done - split)
        print(
            f"input: {args.records} records replicated from the {origin}; "
            f"{ledger.kept} kept, {len(ledger.duplicates)} duplicates, {len(ledger.rejections)} rejected"
        )
        print(
            f"load+normalise+label+dedup: {collected - start:.2f} s; bucket: {done - split:.2f} s; "
            f"groups+splits: {split - collected:.2f} s"
        )
        print(f"prepare (load+normalise+bucket+dedup): {args.records / core:,.0f} records/s on one core")
        start = time.perf_counter()
        prepare_stage(config, root=Path(tmp), out=Path(tmp) / "out", progress=False)
        whole = time.perf_counter() - start
        print(
            f"whole prepare stage incl. groups, splits and writing: {args.records / whole:,.0f} records/s "
            f"({whole:.1f} s)"
        )


if __name__ == "__main__":
    main()
