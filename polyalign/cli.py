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

from polyalign.config import PrepareConfig, RunConfig, SourceConfig, load_yaml_config
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
    corpus: Annotated[
        str | None,
        typer.Option(
            help="Built-in corpora: paper-en | paper-zh | paper | NAME[,NAME...] (`polyalign data list`)."
        ),
    ] = None,
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from-dir", help="Local copies of the --corpus datasets: DIR/<corpus>/ in the hub's layout."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Split seed (overrides splits.seed).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if an identical artefact exists.")] = False,
) -> None:
    """Load, normalise, deduplicate, bucket and split data; write the prepared dataset and bucket report."""
    from polyalign.corpora import corpus_sources

    cfg = _load_config(config).prepare
    for spec in inputs or []:
        cfg.sources.append(
            SourceConfig(path=spec, format=format, language=language, track=track, family=family)
        )
    cfg.sources += corpus_sources(corpus, str(from_dir) if from_dir else None)
    if seed is not None:
        cfg.splits.seed = seed
    _run_prepare(cfg, out, force)


@app.command()
@_user_errors
def run(config: ConfigOption = None, force: bool = False) -> None:
    """The main job on its offline default (the built-in synthetic corpus): prepare, then human references."""
    from polyalign.pipeline import run as run_pipeline

    cfg = _load_config(config)
    if not cfg.prepare.sources:
        console.print(
            "[bold]No sources configured: using the built-in synthetic bilingual fixture corpus.[/]"
        )
    prepared, reference = run_pipeline(cfg, force=force)
    _print_summary(prepared.manifest)
    _print_buckets(prepared.report)
    _print_reference(reference)
    console.print(
        f"prepared data: [bold]{prepared.folder}[/]\n"
        f"human reference and its report: [bold]{reference.folder}[/]"
    )


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


data_app = typer.Typer(
    help="The built-in corpora: recipes for the paper's fourteen datasets.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


@data_app.command("list")
@_user_errors
def data_list() -> None:
    """Every built-in corpus with its cell, licence and hub dataset, and the corpus groups."""
    from rich.markup import escape

    from polyalign.corpora import GROUPS, list_recipes

    table = Table(title="built-in corpora (`polyalign prepare --corpus NAME`)")
    table.add_column("name", no_wrap=True)
    for column in ("language", "track", "family", "licence", "hub id"):
        table.add_column(column, overflow="fold")
    for r in list_recipes():
        table.add_row(r.name, r.language, r.track, r.families, escape(r.licence), ", ".join(r.hub_ids))
    console.print(table)
    for group, names in GROUPS.items():
        console.print(f"[bold]{group}[/]: {', '.join(names)}")


@data_app.command("show")
@_user_errors
def data_show(name: Annotated[str, typer.Argument(help="A corpus name from `polyalign data list`.")]) -> None:
    """Everything a corpus recipe says: hub parts, fields, dialogue cutting, drops, splits, assumptions."""
    from rich.markup import escape

    from polyalign.corpora import get_recipe

    table = Table(show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, text in get_recipe(name).describe():
        table.add_row(label, escape(text))
    console.print(table)


def _load_config(path: Path | None) -> RunConfig:
    return load_yaml_config(RunConfig, path) if path else RunConfig()


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


reference_app = typer.Typer(help="Human reference distributions per bucket and the support distance d(y, b).")
app.add_typer(reference_app, name="reference")


@reference_app.command("build")
@_user_errors
def reference_build(
    prepared: Annotated[Path, typer.Argument(help="A prepare artefact folder (its train split is used).")],
    config: ConfigOption = None,
    out: OutOption = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if an identical artefact exists.")] = False,
) -> None:
    """Build per-bucket human references from the train split; report the held-out human floor."""
    from polyalign.pipeline import reference_stage
    from polyalign.prepare import PreparedData

    artifact = reference_stage(PreparedData.load(prepared), _load_config(config).reference, out, force=force)
    _print_reference(artifact)
    console.print(f"human reference and its report: [bold]{artifact.folder}[/]")


@reference_app.command("features")
def reference_features() -> None:
    """List the response features: name, kind (which sets its scale floor), definition and why it matters."""
    from polyalign.features import FEATURES

    table = Table(title=f"{len(FEATURES)} response features (EN and ZH each computed the right way)")
    table.add_column("feature", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("definition", overflow="fold")
    table.add_column("why it matters", overflow="fold")
    for feature in FEATURES:
        table.add_row(feature.name, feature.kind, feature.definition, feature.why)
    console.print(table)


@reference_app.command("score")
@_user_errors
def reference_score(
    reference: Annotated[Path, typer.Argument(help="A reference artefact folder.")],
    responses: Annotated[
        Path, typer.Argument(help="JSONL with 'bucket' and 'response' (or prepared records).")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="JSONL of id, bucket, reference, d.")
    ] = None,
) -> None:
    """Score responses (human or model) with the support distance d(y, b) against their bucket."""
    from polyalign.scoring import read_scoring_input, score_file_rows

    rows = read_scoring_input(responses)
    scored = score_file_rows(reference, rows, out)
    table = Table(title=f"support distance d of {len(scored)} responses in {responses.name}")
    for column, justify in (("bucket", "left"), ("n", "right"), ("mean d", "right"), ("median d", "right")):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for bucket, n, mean, median in _per_bucket_means(scored):
        table.add_row(bucket, str(n), f"{mean:.3f}", f"{median:.3f}")
    console.print(table)
    if out:
        console.print(f"per-response distances: [bold]{out}[/]")


@reference_app.command("critic")
@_user_errors
def reference_critic(
    reference: Annotated[Path, typer.Argument(help="A reference artefact folder.")],
    responses: Annotated[
        Path, typer.Argument(help="JSONL of model responses: 'id' (a train record) and 'response'.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the critic (JSON).")] = Path(
        "critic.json"
    ),
    seed: int = 0,
) -> None:
    """Train the optional human-vs-model critic on train prompts; report held-out AUC and pair accuracy."""
    from polyalign.scoring import train_critic_from_files

    critic = train_critic_from_files(reference, responses, seed=seed)
    m = critic.metrics
    console.print(
        f"critic: held-out AUC {m.auc:.3f}, pair-ranking accuracy {m.pair_accuracy:.3f} "
        f"({m.heldout_pairs} held-out prompts, {m.n_train} training responses)"
    )
    critic.save(out)
    console.print(f"critic written to [bold]{out}[/]")


def _per_bucket_means(scored: list[dict[str, Any]]) -> list[tuple[str, int, float, float]]:
    import numpy as np

    from polyalign.buckets import bucket_sort_key

    by_bucket: dict[str, list[float]] = {}
    for row in scored:
        by_bucket.setdefault(row["bucket"], []).append(row["d"])
    return [
        (b, len(d), float(np.mean(d)), float(np.median(d)))
        for b, d in sorted(by_bucket.items(), key=lambda item: bucket_sort_key(item[0]))
    ]


def _print_reference(artifact: Any) -> None:
    table = Table(title="human references: held-out human support distance (the floor)")
    for column, justify in (("bucket", "left"), ("ref", "left"), ("n", "right"), ("n out", "right"),
                            ("mean d", "right"), ("q90 d", "right")):  # fmt: skip
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in artifact.report.rows:
        reference = "own" if row.reference == row.bucket else "cell"
        mean = "n/a" if row.heldout_mean is None else f"{row.heldout_mean:.3f}"
        q90 = "n/a" if row.heldout_q90 is None else f"{row.heldout_q90:.3f}"
        table.add_row(row.bucket, reference, str(row.n_reference), str(row.heldout_n), mean, q90)
    console.print(table)
