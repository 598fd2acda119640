"""Which support terms see which degradation: per cell, AUC of d (degraded vs held-out human) and mean ratio.

References come from a seeded `--fraction` of the train split (so many buckets are sparse and back off);
the test split's human responses are scored against their bucket and so are five degradations of them:
first-sentence truncation, a neutral wrapper built from phrases in none of the feature lists, a swap with a
response of another cell of the same language, repetition of the last sentence, and a length-only change
(another human response of the same cell appended). Configurations: bands only (METHOD.md §3), + neighbours,
+ style, all. Every term is an excess over its own human band (0 for ~90% of humans), so the human floor
(record-weighted mean d of test humans) compares across configurations as is. AUCs and ratios are counted
only in cells where >= `--min-changed` responses change. Without the dev corpus it runs on the fixture.

    python benchmarks/support_terms.py [--data ../shared/data/dev] [--fraction 0.3] [--seed 0]
    python benchmarks/support_terms.py --fixture --heldout val,test --min-changed 10  # its cells are small
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from corpus import DEV

from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import prepare_stage
from polyalign.data.records import Record
from polyalign.evaluate import degrade
from polyalign.evaluate.stats import rank_auc
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.reference import build_reference
from polyalign.reference.support import SupportScorer

CONFIGS = {
    "bands": {"bands": 1.0},
    "+neighbours": {"bands": 1.0, "neighbours": 1.0},
    "+style": {"bands": 1.0, "style": 1.0},
    "all": {"bands": 1.0, "neighbours": 1.0, "style": 1.0},
}
TARGET = 0.75


def degradations(test: list[Record], seed: int) -> dict[str, dict[str, str]]:
    human = {r.id: r.response for r in test}
    swapped: dict[str, str] = {}
    for language in sorted({str(r.language) for r in test}):  # another cell of the same language
        swapped |= degrade.shuffle_between_cells([r for r in test if r.language == language], human, seed)
    return {
        "truncated": {r.id: degrade.truncate(human[r.id]) for r in test},
        "wrapped": {r.id: degrade.wrap(human[r.id], str(r.language), i) for i, r in enumerate(test)},
        "swapped": swapped,
        "repeated": {r.id: degrade.repeat(human[r.id]) for r in test},
        "lengthened": degrade.lengthen(test, human, seed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEV, help="folder of the development corpus")
    parser.add_argument("--fixture", action="store_true", help="use the synthetic fixture corpus")
    parser.add_argument("--fraction", type=float, default=0.3, help="share of train behind the references")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heldout", default="test", help="comma-separated held-out splits to score")
    parser.add_argument("--min-changed", type=int, default=20, help="changed responses a cell needs")
    args = parser.parse_args()
    if args.fixture or not (args.data / "train.jsonl").is_file():
        if not args.fixture:
            print(f"note: {args.data} not found; using the synthetic fixture corpus instead")
        source = SourceConfig(fixture=args.seed)
    else:
        source = SourceConfig(path=str(args.data / "*.jsonl"), format="polyalign")
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare_stage(
            PrepareConfig(sources=[source]), root=Path(tmp), out=Path(tmp) / "p", progress=False
        )
    train = data.content.splits["train"]
    test = [r for split in args.heldout.split(",") for r in data.content.splits[split]]
    rng = np.random.default_rng(args.seed)
    train = [
        train[i] for i in np.sort(rng.choice(len(train), round(args.fraction * len(train)), replace=False))
    ]
    degraded = degradations(test, args.seed)
    buckets, cells = [str(r.bucket) for r in test], np.array([r.cell for r in test])
    print(f"{len(train)} train responses behind the references, {len(test)} test responses\n")
    summary = []
    for name, terms in CONFIGS.items():
        reference = build_reference(train, ReferenceConfig(support_terms=terms, seed=args.seed))
        scorer = SupportScorer(reference)
        human = scorer.score([r.response for r in test], buckets)
        rows: dict[str, list[str]] = defaultdict(list)
        worst = {}
        for kind, texts in degraded.items():
            d = scorer.score([texts[r.id] for r in test], buckets)
            changed = np.array([texts[r.id] != r.response for r in test])
            aucs, ratios = [], []
            for cell in sorted(set(cells)):
                of_cell, moved = cells == cell, (cells == cell) & changed
                if moved.sum() < args.min_changed:
                    rows[cell].append(f"{'-':>11}")
                    continue
                auc = float(rank_auc(human[of_cell][None], d[moved][None])[0])
                ratio = d[moved].mean() / max(human[of_cell].mean(), 1e-12)
                aucs.append(auc)
                ratios.append(ratio)
                rows[cell].append(f"{auc:5.2f} {ratio:4.1f}x")
            worst[kind] = (np.mean(aucs), min(aucs, default=np.nan), sum(a < TARGET for a in aucs), len(aucs),
                           np.median(ratios))  # fmt: skip
        print(f"== {name} {terms}: human floor {human.mean():.4f}")
        print(f"{'cell (AUC, ratio)':28s}" + "".join(f"{k:>12}" for k in degraded))
        for cell, entries in sorted(rows.items()):
            print(f"{cell:28s}" + "".join(f"{e:>12}" for e in entries))
        print()
        summary.append((name, human.mean(), worst))
    floor = summary[0][1]
    print(f"summary per degradation: mean AUC, min AUC, cells < {TARGET} / cells, median ratio")
    print(f"{'':14s}{'floor':>8}{'vs bands':>9}" + "".join(f"{k:>24}" for k in degraded))
    for name, mean, worst in summary:
        cols = "".join(f"{f'{m:.2f} {a:.2f} {b:2d}/{n} {r:4.1f}x':>24}" for m, a, b, n, r in worst.values())
        print(f"{name:14s}{mean:8.4f}{mean / floor:8.2f}x" + cols)


if __name__ == "__main__":
    main()
