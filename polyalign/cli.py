"""The `polyalign` command line: parse arguments, build the config (defaults, YAML, flags), call a stage.

User errors (bad config, unreadable input) print one clear message and exit with status 2; they never
show a traceback. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from polyalign.config import PrepareConfig, SourceConfig, load_yaml_config
from polyalign.errors import PolyAlignError

app = typer.Typer(
    help="PolyAlign: conditional human-distribution alignment of language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output folder (default: $POLYALIGN_HOME/<stage>/<key>).")
]


def _user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn PolyAlignError into a one-line message and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PolyAlignError as error:
            errors.print(f"[bold red]error:[/] {error}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@_user_errors
def prepare(
    inputs: Annotated[
        list[str] | None, typer.Argument(help="JSONL files, folders or globs (added to the config's).")
    ] = None,
    config: ConfigOption = None,
    out: OutOption = None,
    format: Annotated[
        str, typer.Option(help="Input format: auto|polyalign|messages|sharegpt|alpaca.")
    ] = "auto",
    language: Annotated[
        str | None, typer.Option(help="Language of inputs that do not say (else detected).")
    ] = None,
    track: Annotated[str | None, typer.Option(help="Track of inputs that do not say (else derived).")] = None,
    family: Annotated[str | None, typer.Option(help="Family of inputs that do not say.")] = None,
    seed: Annotated[int | None, typer.Option(help="Split seed (overrides splits.seed).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if an identical artefact exists.")] = False,
) -> None:
    """Load, normalise, deduplicate, bucket and split data; write the prepared dataset and bucket report."""
    cfg = load_yaml_config(PrepareConfig, config) if config else PrepareConfig()
    for spec in inputs or []:
        cfg.sources.append(
            SourceConfig(path=spec, format=format, language=language, track=track, family=family)
        )
    if seed is not None:
        cfg.splits.seed = seed
    _run_prepare(cfg, out, force)


@app.command()
@_user_errors
def run(config: ConfigOption = None, out: OutOption = None, force: bool = False) -> None:
    """The main job on its offline default (the built-in synthetic corpus): prepare and bucket report."""
    cfg = load_yaml_config(PrepareConfig, config) if config else PrepareConfig()
    if not cfg.sources:
        console.print(
            "[bold]No sources configured: using the built-in synthetic bilingual fixture corpus.[/]"
        )
    _run_prepare(cfg, out, force)


@app.command()
@_user_errors
def fixture(
    out: Annotated[Path, typer.Argument(help="JSONL file to write.")],
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 0,
) -> None:
    """Write the synthetic bilingual fixture corpus (generated, not real data) as JSONL."""
    from polyalign.fixture import write_fixture_corpus

    count = write_fixture_corpus(out, seed=seed)
    console.print(f"wrote {count} synthetic records to {out}")


@app.command()
@_user_errors
def buckets(folder: Annotated[Path, typer.Argument(help="A prepare artefact folder.")]) -> None:
    """Print the bucket report of a prepared dataset."""
    from polyalign.prepare import PreparedData

    data = PreparedData.load(folder)
    _print_summary(data.manifest)
    _print_buckets(data.report)


def _run_prepare(cfg: PrepareConfig, out: Path | None, force: bool) -> None:
    from polyalign.config import config_hash
    from polyalign.prepare import prepare

    console.print(f"config hash {config_hash(cfg)[:16]}")
    data = prepare(cfg, out, force=force)
    if data.reused:
        console.print(f"[dim]reusing the complete artefact with key {data.manifest['key']}[/]")
    _print_summary(data.manifest)
    _print_buckets(data.report)
    console.print(f"prepared dataset, bucket report and quarantine: [bold]{data.folder}[/]")


def _print_summary(manifest: dict[str, Any]) -> None:
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


def _print_buckets(report: Any) -> None:
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
