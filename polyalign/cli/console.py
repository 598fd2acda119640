"""Everything the CLI prints: the two consoles and the Rich views of artefacts (prepare summary, buckets,
references, training summary, evaluation results). Reads artefact content; writes nothing to disk."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def print_key(stage: str, key: str, reused: bool = False) -> None:
    """The first line of a command's output (STYLE §13): which artefact this is, and whether it was reused."""
    note = (
        " [dim](reused: a complete artefact with this key exists; --force rebuilds it)[/]" if reused else ""
    )
    console.print(f"{stage} artefact key [bold]{key}[/]{note}")


def print_summary(manifest: dict[str, Any]) -> None:
    counts = manifest["counts"]
    table = Table(title=f"prepare {manifest['key']}: every input record accounted for")
    for column in ("in", "kept", "duplicates", "rejected", "reconciles"):
        table.add_column(column, justify="right")
    table.add_row(*(str(counts[c]) for c in ("in", "kept", "duplicates", "rejected", "reconciles")))
    console.print(table)
    kept = counts["kept_by_split"]
    console.print("kept by split: " + ", ".join(f"{k} {v}" for k, v in kept.items()))
    if counts["rejected_by_reason"]:
        reasons = ", ".join(f"{reason} {n}" for reason, n in counts["rejected_by_reason"].items())
        console.print(f"[yellow]rejected by reason:[/] {reasons} (details in quarantine.jsonl)")
    crossing = manifest["groups"]["crossing_existing_splits"]
    if crossing:
        console.print(
            f"[yellow]{len(crossing)} group(s) arrived in more than one split and were kept as given; "
            f"first: {crossing[:3]}[/]"
        )


def print_buckets(report: Any) -> None:
    table = Table(
        title=f"records per bucket (reference: own, or the parent cell below {report.min_bucket_size} train)"
    )
    table.add_column("bucket", no_wrap=True)
    for column in ("train", "val", "test"):
        table.add_column(column, justify="right")
    table.add_column("reference", no_wrap=True)
    for row in report.rows:
        reference = "own" if row.status == "own" else "→ cell"
        table.add_row(row.bucket, str(row.train), str(row.val), str(row.test), reference)
    console.print(table)


def print_reference(artifact: Any) -> None:
    table = Table(title="human references: held-out human support distance (the floor)")
    for column, justify in (("bucket", "left"), ("ref", "left"), ("n", "right"), ("n out", "right"),
                            ("mean d", "right"), ("q90 d", "right")):  # fmt: skip
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in artifact.content.report.rows:
        reference = "own" if row.reference == row.bucket else "cell"
        mean = "n/a" if row.heldout_mean is None else f"{row.heldout_mean:.3f}"
        q90 = "n/a" if row.heldout_q90 is None else f"{row.heldout_q90:.3f}"
        table.add_row(row.bucket, reference, str(row.n_reference), str(row.heldout_n), mean, q90)
    console.print(table)


def print_training_summary(summary: dict[str, Any]) -> None:
    table = Table(
        title=f"{summary['method']}: {summary['global_step']} steps, balance {summary['balance']}, "
        f"loss per {summary['loss_normalization']}, final train loss {summary['train_loss']:.4f}"
    )
    table.add_column("bucket", no_wrap=True)
    for column in ("n", "expected mass", "effective mass", "last loss"):
        table.add_column(column, justify="right")
    for bucket, row in summary["buckets"].items():
        loss = row["final_train_loss"]
        table.add_row(
            bucket, str(row["n"]), f"{row['expected_mass']:.4f}", f"{row['effective_mass']:.4f}",
            "n/a" if loss is None else f"{loss:.3f}",
        )  # fmt: skip
    console.print(table)
    if summary["dropped_by_truncation"]:
        console.print(f"[yellow]dropped by truncation (max_length):[/] {summary['dropped_by_truncation']}")


def print_results(results: dict[str, Any]) -> None:
    counts = results["counts"]
    table = Table(title=f"{results['run']}: {counts['evaluated']} of {counts['records']} test records")
    for column in ("metric", "group", "macro [95% CI]", "human"):
        table.add_column(column, justify="left" if column in ("metric", "group") else "right")
    for metric, entry in results["metrics"].items():
        macro = entry.get("macro", {})
        if entry.get("kind") == "cell" and "global" in macro:
            cmauve = macro.get("value")
            cells = f"{cmauve:.3f} ({macro['n_cells']} cells)" if cmauve is not None else "n/a"
            value = f"global {macro['global']:.3f}; C-MAUVE {cells}"
        elif macro.get("value") is None:
            value = f"n/a ({macro.get('na') or entry.get('na', '')})"
        else:
            interval = f" [{macro['low']:.3f}, {macro['high']:.3f}]" if macro.get("low") is not None else ""
            value = f"{macro['value']:.3f}{interval}"
        human = f"{macro['human']:.3f}" if macro.get("human") is not None else ""
        table.add_row(metric, entry.get("group", ""), value, human)
    console.print(table)
    for warning in results.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")


def print_support_distances(scored: list[dict[str, Any]], source: str) -> None:
    """Mean and median d per bucket of scored responses (`reference score`)."""
    import numpy as np

    from polyalign.data.buckets import BucketKey

    by_bucket: dict[str, list[float]] = {}
    for row in scored:
        by_bucket.setdefault(row["bucket"], []).append(row["d"])
    table = Table(title=f"support distance d of {len(scored)} responses in {source}")
    for column, justify in (("bucket", "left"), ("n", "right"), ("mean d", "right"), ("median d", "right")):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for bucket, d in sorted(by_bucket.items(), key=lambda item: BucketKey.parse(item[0]).sort_key()):
        table.add_row(bucket, str(len(d)), f"{float(np.mean(d)):.3f}", f"{float(np.median(d)):.3f}")
    console.print(table)
