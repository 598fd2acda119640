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
        title=f"records per bucket (reference: own, or below {report.min_bucket_size} train the cell's "
        "responses nearest in length)"
    )
    table.add_column("bucket", no_wrap=True)
    for column in ("train", "val", "test"):
        table.add_column(column, justify="right")
    table.add_column("reference", no_wrap=True)
    for row in report.rows:
        reference = "own" if row.status == "own" else "→ cell by length"
        table.add_row(row.bucket, str(row.train), str(row.val), str(row.test), reference)
    console.print(table)


def print_reference(artifact: Any) -> None:
    table = Table(title="human references: held-out human support distance (the floor)")
    for column, justify in (("bucket", "left"), ("ref", "left"), ("n", "right"), ("n out", "right"),
                            ("mean d", "right"), ("q90 d", "right")):  # fmt: skip
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in artifact.content.report.rows:
        reference = "own" if row.borrowed_range is None else "lengths {}–{}".format(*row.borrowed_range)
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
    for line in length_fit_lines(summary, per_bucket=True):
        console.print(line)


def print_preference_summary(summary: dict[str, Any]) -> None:
    """Each loss term, the margins and the reward accuracies as last logged."""
    terms = ", ".join(f"{k} {v:g}" for k, v in summary["coefficients"].items())
    table = Table(
        title=f"{summary['method']} from {summary['start_method']}: {summary['global_step']} steps, "
        f"{summary['examples']} pairs ({'weighted' if summary['weighted'] else 'w = 1'}), beta "
        f"{summary['beta']:g}, {terms}; loss over the run {summary['train_loss']:.4f}"
    )
    table.add_column("last logged", no_wrap=True)
    table.add_column("value", justify="right")
    for name, value in summary["final_logs"].items():
        table.add_row(name, f"{value:.4g}")
    console.print(table)
    for line in length_fit_lines(summary, per_bucket=True):
        console.print(line)


def print_results(results: dict[str, Any]) -> None:
    counts = results["counts"]
    table = Table(title=f"{results['run']}: {counts['evaluated']} of {counts['records']} test records")
    for column in ("metric", "group", "macro [95% CI]", "weighted", "human"):
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
        weighted = macro.get("weighted") or {}
        mean = f"{weighted['value']:.3f}" if weighted.get("value") is not None else ""
        human = f"{macro['human']:.3f}" if macro.get("human") is not None else ""
        table.add_row(metric, entry.get("group", ""), value, mean, human)
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


HEADLINE = ("token_f1", "chrf", "length_fit", "language_fit", "support_distance", "distinct_2")
"""The few macro metrics a run's console shows per method; every metric is in results.json and the report."""

STAGE_PURPOSE = {
    "prepare": "clean, deduplicate and split the corpus into buckets",
    "reference": "human references: style features, held-out distances",
    "base": "the untrained start model, answered and scored like every method",
    "train": "fine-tune the model",
    "pairs": "sample rejected answers from the start policy; score both sides' support distance",
    "preference": "preference-tune the start policy on the pairs",
    "generate": "answer the test prompts",
    "evaluate": "score the answers against gold and human references",
    "report": "compare the methods side by side",
}


class StageConsole:
    """Prints a header as each pipeline stage starts and a short summary when it is done (`polyalign run`)."""

    def __init__(self, total: int) -> None:
        self.total, self.count, self.reused, self.started = total, 0, 0, 0.0

    def start(self, stage: str, method: str | None = None) -> None:
        import time

        self.count += 1
        self.started = time.perf_counter()
        name = f"{method} {stage}" if method else stage
        console.rule(f"[bold][{self.count}/{self.total}] {name}[/]: {STAGE_PURPOSE[stage]}", align="left")

    def done(self, stage: str, artifact: Any, method: str | None = None) -> None:
        import time

        if artifact.reused:
            self.reused += 1
            console.print(
                f"reused {artifact.key} [dim](complete artefact with this key; --force rebuilds)[/]"
            )
        else:
            console.print(f"built {artifact.key} in {time.perf_counter() - self.started:.1f} s")
        for line in STAGE_LINES[stage](artifact):
            console.print(f"  {line}", highlight=False, soft_wrap=True)
        console.print(f"  [dim]{artifact.folder}[/]", highlight=False, soft_wrap=True)


def _prepare_lines(artifact: Any) -> list[str]:
    counts = artifact.manifest["counts"]
    splits = ", ".join(f"{k} {v}" for k, v in counts["kept_by_split"].items())
    lines = [
        f"in {counts['in']} = kept {counts['kept']} + duplicates {counts['duplicates']} + rejected "
        f"{counts['rejected']}; kept by split: {splits}; {len(artifact.content.report.rows)} buckets"
    ]
    reasons = sorted(counts["rejected_by_reason"].items(), key=lambda item: -item[1])[:3]
    if reasons:
        lines.append("top rejections: " + ", ".join(f"{r} {n}" for r, n in reasons) + " (quarantine.jsonl)")
    lines += [f"[yellow]warning:[/] {w}" for w in artifact.manifest.get("warnings", [])]
    return lines


def _reference_lines(artifact: Any) -> list[str]:
    import numpy as np

    rows = artifact.content.report.rows
    means = [row.heldout_mean for row in rows if row.heldout_mean is not None]
    median = f"{float(np.median(means)):.3f}" if means else "n/a"
    counts = artifact.manifest.get("references", {})
    return [
        f"{counts.get('buckets', len(rows))} bucket and {counts.get('cells', 0)} cell references; "
        f"median held-out mean d {median} (the floor a model is measured against)"
    ]


def _train_lines(artifact: Any) -> list[str]:
    summary = artifact.content
    resumed = f", resumed from {summary['resumed_from']}" if summary.get("resumed_from") else ""
    lines = [
        f"{summary['global_step']} steps, {summary['examples']} examples, loss over the run "
        f"{summary['train_loss']:.4f}, {summary['wall_seconds']:.1f} s{resumed}"
    ]
    return lines + length_fit_lines(summary)


def _generate_lines(artifact: Any) -> list[str]:
    manifest = artifact.manifest
    return [
        f"{manifest['records']} responses in {manifest['seconds']:.1f} s; "
        f"{manifest.get('truncated_by_budget', 0)} stopped at the token budget"
    ]


def _evaluate_lines(artifact: Any) -> list[str]:
    results = artifact.content
    counts = results["counts"]
    lines = [f"{counts['evaluated']} of {counts['records']} test records; " + _headline_text(results)]
    warnings = results.get("warnings", [])
    if warnings:
        lines.append(f"[yellow]{len(warnings)} warning(s)[/], first: {warnings[0][:120]}")
    return lines


def _headline_text(results: dict[str, Any]) -> str:
    values = [f"{m} {_macro(results, m)}" for m in HEADLINE if m in results["metrics"]]
    return ", ".join(values)


def _macro(results: dict[str, Any], metric: str, side: str = "value") -> str:
    """The macro over buckets with enough records; where no bucket has enough (a small test set), the
    record-weighted mean over every bucket, marked `w`."""
    macro = results["metrics"][metric].get("macro") or {}
    if macro.get(side) is not None:
        return f"{macro[side]:.3f}"
    weighted = (macro.get("weighted") or {}).get(side)
    return "n/a" if weighted is None else f"{weighted:.3f} w"


def _pairs_lines(artifact: Any) -> list[str]:
    from polyalign.train.pair_report import TOTAL

    group = artifact.content.report[TOTAL]
    dropped = ", ".join(f"{n} {reason}" for reason, n in group["dropped"].items() if n) or "none"
    further = group["share_rejected_further"]
    return [
        f"{group['n']} pairs of {group['candidates']} samples (dropped: {dropped}); d_r > d_c in "
        f"{'n/a' if further is None else f'{further:.0%}'}; mean d_c {group['d_chosen']['mean']:.3f}, "
        f"d_r {group['d_rejected']['mean']:.3f}; pair_report.md"
    ]


def _preference_lines(artifact: Any) -> list[str]:
    summary = artifact.content
    resumed = f", resumed from {summary['resumed_from']}" if summary.get("resumed_from") else ""
    return [
        f"{summary['method']} from {summary['start_method']}: {summary['global_step']} steps, "
        f"{summary['examples']} pairs, loss over the run {summary['train_loss']:.4f}, "
        f"{summary['wall_seconds']:.1f} s{resumed}",
        *length_fit_lines(summary),
    ]


def length_fit_lines(summary: dict[str, Any], per_bucket: bool = False) -> list[str]:
    """What fitting to max_length did (train and preference summaries), in yellow; none when nothing."""
    cut = ("responses_cut", "responses cut"), ("chosen_cut", "chosen cut"), ("rejected_cut", "rejected cut")
    counts = [(label, summary.get(key, {})) for key, label in cut]
    dropped = {b: sum(reasons.values()) for b, reasons in summary.get("dropped_for_length", {}).items()}
    counts += [
        ("dropped, no room for a response", dropped),
        ("dropped by TRL's truncation", summary.get("dropped_by_truncation", {})),
    ]
    return [
        f"[yellow]{sum(n.values())} {label} (max_length {summary.get('max_length')})[/]"
        + (f": {n}" if per_bucket else "")
        for label, n in counts
        if n
    ]


def _report_lines(artifact: Any) -> list[str]:
    return [f"report: {artifact.content.html} (and report.md beside it)"]


STAGE_LINES = {
    "base": lambda artifact: [],
    "prepare": _prepare_lines,
    "reference": _reference_lines,
    "train": _train_lines,
    "pairs": _pairs_lines,
    "preference": _preference_lines,
    "generate": _generate_lines,
    "evaluate": _evaluate_lines,
    "report": _report_lines,
}


def print_headline(evaluations: dict[str, Any], report: Any) -> None:
    """The final screen: a few macro metrics per method, and where the full tables are."""
    table = Table(
        title="headline (macro over buckets with enough records, else w: the record-weighted mean; every "
        "metric, interval and bucket in the report)"
    )
    table.add_column("method", no_wrap=True)
    metrics = [m for m in HEADLINE if any(m in e.content["metrics"] for e in evaluations.values())]
    for metric in metrics:
        table.add_column(metric, justify="right")
    first = next(iter(evaluations.values())).content
    for method, evaluation in evaluations.items():
        table.add_row(method, *(_macro(evaluation.content, m) for m in metrics))
    humans = [_macro(first, m, "human") if m in first["metrics"] else "n/a" for m in metrics]
    table.add_row("[dim]human[/]", *(f"[dim]{h}[/]" if h != "n/a" else "" for h in humans))
    console.print(table)
    print_findings([e.folder for e in evaluations.values()])
    console.print(f"comparison report: [bold]{report.content.html}[/] (and report.md beside it)")


def print_findings(folders: list[Any]) -> None:
    """What the comparison shows: each of the method's contrasts whose runs are here, in a line per metric."""
    from polyalign.evaluate.compare import load_runs
    from polyalign.report.findings import findings, sentence

    question = None
    for finding in findings(load_runs(folders)):
        if finding.question != question:
            question = finding.question
            console.print(f"[bold]{finding.run} vs {finding.against}[/]: {question}")
        console.print(f"  {sentence(finding)}", highlight=False, soft_wrap=True)


def quiet_third_party() -> None:
    """Progress bars of dataset maps and weight loading, and libraries' info logs, tell a user nothing to
    act on; their warnings and errors still show, but for one that only libraries can act on."""
    import warnings

    import datasets
    from transformers.utils import logging

    datasets.disable_progress_bars()
    logging.disable_progress_bar()
    logging.set_verbosity_warning()
    # TRL 1.16's DPOTrainer calls a transformers 5 method deprecated for v6: nothing for a user to change
    deprecated = "`is_gradient_checkpointing` is deprecated"
    warnings.filterwarnings("ignore", message=deprecated, category=FutureWarning)
