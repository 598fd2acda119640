"""Does every metric see every degradation? Support distance d per cell, and the cheap evaluation suite.

References come from a seeded share of the train split (`--train-share`, 0.3 by default, so that many
buckets are sparse and their back-off matters). Each degradation of `polyalign.evaluate.degrade` is
applied to the test split's human responses, and per context cell (language|track|family) and
degradation the table prints:
- changed: responses the degradation altered (a one-sentence answer is not halved, for instance);
- ratio: mean d of the changed, degraded responses / the human floor (mean d of the cell's test humans);
- AUC: P(d of a degraded response > d of a human one), `rank_auc` (changed responses vs the cell's
  humans); acceptance is AUC >= 0.75 wherever at least `--min-changed` responses changed;
- wrong way: suite metrics that rate the degradation as more human than the human split does, beyond the
  split's own noise: the suite is the evaluation engine run without embeddings (MAUVE is skipped; the LLM
  judge is never run) on the records `human_split` evaluates, with the split's own human responses as the
  model under `--resplits` seeds (the floor and its noise band) and once per degradation of the first
  split's responses; a cell's value is the mean of its buckets' values, and a degraded value is flagged
  only when it is better than every split's. A metric the glossary (the registry's `blind_degradations`)
  lists as blind to that degradation is shown apart, not counted.

Degradations: `first_sentence` (a one-sentence response stays as it is), `plain_templated` (the assistant
template, one bullet per sentence, between an opening and a closing line that no feature list names),
`swapped` (the response of another cell of the same language), `repeated` (the response said twice),
`halved` (the first half of the sentences, rounded up: the length changes, the sentences do not).

    python benchmarks/metric_validity.py PREPARED_FOLDER [--train-share 0.3] [--seed 0] [--json PATH]
        [--support-terms bands=1,neighbours=1,style=1]   # which terms of d see which degradation
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from polyalign.data.buckets import BucketKey
from polyalign.data.prepare import load_prepared
from polyalign.data.records import Record
from polyalign.evaluate.config import EvalConfig
from polyalign.evaluate.degrade import degrade
from polyalign.evaluate.engine import evaluate_generations
from polyalign.evaluate.generations import Generations, human_split
from polyalign.evaluate.registry import METRICS
from polyalign.evaluate.stats import rank_auc
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.reference import build_reference
from polyalign.reference.support import SupportScorer

KINDS = ("first_sentence", "plain_templated", "swapped", "repeated", "halved")


def blind_metrics() -> dict[str, list[str]]:
    """The glossary (the registry's `blind_degradations`): metric -> degradations it cannot see by
    construction, not counted against it."""
    return {
        m.name: [k for k in KINDS if k in m.blind_degradations]
        for m in METRICS.values()
        if m.blind_degradations
    }


def train_sample(train: list[Record], share: float, seed: int) -> list[Record]:
    """A seeded share of the train split (at least one record), in id order."""
    ordered = sorted(train, key=lambda r: r.id)
    size = max(1, round(share * len(ordered)))
    chosen = np.random.default_rng([seed, 17]).choice(len(ordered), size=size, replace=False)
    return [ordered[i] for i in sorted(chosen)]


def distance_rows(scorer: SupportScorer, test: list[Record], min_changed: int, seed: int) -> list[dict]:
    """Per cell and degradation: changed responses, ratio of mean d to the human floor, AUC of d."""
    buckets = [str(r.bucket) for r in test]
    human = {r.id: r.response for r in test}
    d_human = scorer.score([r.response for r in test], buckets)
    cells = np.array([r.cell for r in test])
    rows = []
    for kind in KINDS:
        degraded = degrade(test, human, kind, seed)
        d = scorer.score([degraded[r.id] for r in test], buckets)
        changed = np.array([degraded[r.id] != r.response for r in test])
        for cell in sorted(set(cells.tolist())):
            in_cell = cells == cell
            floor, moved = d_human[in_cell], d[in_cell & changed]
            auc = float(rank_auc(floor[None], moved[None])[0]) if len(moved) else None
            rows.append(
                {
                    "cell": cell,
                    "degradation": kind,
                    "n": int(in_cell.sum()),
                    "changed": len(moved),
                    "floor": float(floor.mean()),
                    "ratio": float(moved.mean() / floor.mean()) if len(moved) and floor.mean() else None,
                    "auc": auc,
                    "checked": len(moved) >= min_changed,
                }
            )
    return rows


def cell_values(entry: dict[str, Any]) -> dict[str, tuple[float, float | None]]:
    """(model, human) per context cell: the means of its buckets' values (cells without a value left out)."""
    values: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    for bucket, row in (entry.get("buckets") or {}).items():
        if row.get("value") is not None:
            values[str(BucketKey.parse(bucket).cell)].append((row["value"], row.get("human")))
    out = {}
    for cell, pairs in values.items():
        humans = [h for _, h in pairs if h is not None]
        out[cell] = (float(np.mean([m for m, _ in pairs])), float(np.mean(humans)) if humans else None)
    return out


def suite_flags(
    prepared: Any, reference: Any, sample: list[Record], seed: int, resplits: int
) -> dict[str, Any]:
    """Per degradation: {cell: [metrics more human than the split]} and the same over the macro.

    "More human" must beat human-vs-human noise: the floor is the human split under `resplits` seeds (as
    C-MAUVE's noise band), and a degraded value counts only when it is better than the floor of every one of
    them. The degradations apply to the first split's records."""
    test = prepared.content.splits["test"]
    config = EvalConfig(bootstrap=10, seed=seed, metrics=[n for n in METRICS if n != "mauve"])
    edges = {lang: list(e) for lang, e in prepared.content.report.edges.items()}

    def run(records: list[Record], generations: Generations) -> dict[str, Any]:
        result = evaluate_generations(
            records, generations, reference, config, edges=edges, train_records=sample, embedder=None
        )
        return result.results["metrics"]

    splits = [human_split(test, seed + k) for k in range(resplits)]
    floors = [run(records, split) for records, split in splits]
    records, split = splits[0]
    blind = blind_metrics()
    out: dict[str, Any] = {"glossary": blind}
    for kind in KINDS:
        degraded = run(
            records,
            Generations(
                degrade(records, split.responses, kind, seed), {"method": kind}, partners=split.partners
            ),
        )
        flags: dict[str, dict[str, list[str]]] = {"counted": defaultdict(list), "blind": defaultdict(list)}
        for name, entry in degraded.items():
            metric = METRICS[name]
            bands = [cell_values(floor[name]) for floor in floors]
            group = "blind" if kind in blind.get(name, {}) else "counted"
            for cell, (value, human) in cell_values(entry).items():
                band = [b[cell][0] for b in bands if cell in b]
                if band and all(metric.better(value, f, human) for f in band):
                    flags[group][cell].append(name)
            macro = entry.get("macro") or {}
            band = [
                f[name]["macro"]["value"]
                for f in floors
                if (f[name].get("macro") or {}).get("value") is not None
            ]
            value = macro.get("value")
            if value is not None and band and all(metric.better(value, f, macro.get("human")) for f in band):
                flags[group]["macro"].append(name)
        out[kind] = {group: dict(cells) for group, cells in flags.items()}
    return out


def print_table(rows: list[dict], suite: dict[str, Any], min_changed: int) -> None:
    print(f"{'cell':<28} {'degradation':<15} {'n':>4} {'changed':>7} {'ratio':>6} {'AUC':>5}  wrong way")
    for row in rows:
        wrong = suite[row["degradation"]]["counted"].get(row["cell"], [])
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
        auc = "n/a" if row["auc"] is None else f"{row['auc']:.2f}"
        mark = "" if not row["checked"] or (row["auc"] or 0) >= 0.75 else " <"
        print(
            f"{row['cell']:<28} {row['degradation']:<15} {row['n']:>4} {row['changed']:>7} {ratio:>6} "
            f"{auc:>5}{mark:2} {', '.join(wrong) or '-'}"
        )
    print(
        f"\nper degradation: cells with AUC >= 0.75 / cells with >= {min_changed} changed; wrong-way flags "
        "in those cells and over the macro-average"
    )
    for kind in KINDS:
        checked = [r for r in rows if r["degradation"] == kind and r["checked"]]
        passed = sum((r["auc"] or 0) >= 0.75 for r in checked)
        counted, blind = suite[kind]["counted"], suite[kind]["blind"]
        cells = sum(len(counted.get(r["cell"], [])) for r in checked)  # where the degradation matters
        macro = ", ".join(counted.get("macro", [])) or "-"
        unseen = ", ".join(sorted({n for names in blind.values() for n in names})) or "-"
        print(
            f"  {kind:<15} {passed}/{len(checked)}  suite: {cells} cell flags; macro {macro}; blind {unseen}"
        )
    print("glossary (blind by construction, not counted):")
    for name, kinds in suite["glossary"].items():
        print(f"  {name}: {', '.join(kinds)} ({METRICS[name].blind_to})")


def parse_terms(text: str) -> dict[str, float]:
    """`bands=1,neighbours=0.5` → {"bands": 1.0, "neighbours": 0.5}."""
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    return {name.strip(): float(value) for name, value in pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("prepared", type=Path, help="a prepare artefact folder (`polyalign prepare`)")
    parser.add_argument("--train-share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-changed", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--resplits", type=int, default=5, help="human splits (seeds) whose spread is the suite's noise band"
    )
    parser.add_argument(
        "--support-terms",
        default=None,
        help="terms of d and their weights, e.g. bands=1,neighbours=1,style=1 (default: the config default)",
    )
    args = parser.parse_args()
    terms = {} if args.support_terms is None else {"support_terms": parse_terms(args.support_terms)}
    start = time.perf_counter()
    prepared = load_prepared(args.prepared)
    sample = train_sample(prepared.content.splits["train"], args.train_share, args.seed)
    config = ReferenceConfig(**terms)
    reference = build_reference(sample, config, edges=prepared.content.report.edges)
    test = sorted(prepared.content.splits["test"], key=lambda r: r.id)
    scorer = SupportScorer(reference)
    floor = float(scorer.score([r.response for r in test], [str(r.bucket) for r in test]).mean())
    rows = distance_rows(scorer, test, args.min_changed, args.seed)
    suite = suite_flags(prepared, reference, sample, args.seed, args.resplits)
    print(
        f"{len(sample)} train records ({args.train_share:.0%}), {len(test)} test records; "
        f"d = {config.support_terms}"
    )
    print_table(rows, suite, args.min_changed)
    elapsed = time.perf_counter() - start
    print(
        f"held-out human floor (record-weighted mean d of test humans): {floor:.4f}; runtime {elapsed:.0f} s"
    )
    if args.json:
        summary = {"train_records": len(sample), "floor": floor, "runtime_s": elapsed}
        args.json.write_text(
            json.dumps({**summary, "rows": rows, "suite": suite}, indent=1), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
