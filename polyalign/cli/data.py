"""Commands on data: `prepare`, `fixture`, `buckets`, and `data list|show` (the built-in corpora)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from polyalign.cli.common import ConfigOption, OutOption, load_config, new_file, user_errors
from polyalign.cli.console import console, errors, print_buckets, print_key, print_summary
from polyalign.data.config import SourceConfig


@user_errors
def prepare(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            help="JSONL, JSON-array, CSV, TSV or Parquet files, folders or globs (added to the config's)."
        ),
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
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of the input files (default: UTF-8, BOM or not).")
    ] = None,
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
    fixture: Annotated[
        int | None,
        typer.Option(help="Add the built-in synthetic corpus (generated, not real) with this seed."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Split seed (overrides splits.seed).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if an identical artefact exists.")] = False,
    strict: Annotated[
        bool, typer.Option(help="Fail (exit 1) when more than filters.max_rejected_share is rejected.")
    ] = False,
) -> None:
    """Load, normalise, deduplicate, bucket and split data; write the prepared dataset and bucket report."""
    from polyalign.config import artifact_root
    from polyalign.data.corpora import corpus_sources
    from polyalign.data.prepare import prepare_stage

    cfg = load_config(config).prepare
    for spec in inputs or []:
        cfg.sources.append(
            SourceConfig(
                path=spec, format=format, language=language, track=track, family=family, encoding=encoding
            )
        )
    cfg.sources += corpus_sources(corpus, str(from_dir) if from_dir else None)
    if fixture is not None:
        cfg.sources.append(SourceConfig(fixture=fixture))
    if seed is not None:
        cfg.splits.seed = seed
    cfg.strict = cfg.strict or strict
    data = prepare_stage(cfg, root=artifact_root(), out=out, force=force)
    print_key("prepare", data.manifest["key"], data.reused)
    print_summary(data.manifest)
    print_buckets(data.content.report)
    for warning in data.manifest.get("warnings", []):  # artefacts written before warnings have none
        errors.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    console.print(f"prepared dataset, bucket report and quarantine: [bold]{data.folder}[/]")


@user_errors
def fixture(
    out: Annotated[Path, typer.Argument(help="JSONL file to write.")],
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 0,
    force: Annotated[bool, typer.Option(help="Overwrite the file if it exists.")] = False,
) -> None:
    """Write the synthetic bilingual fixture corpus (generated, not real data) as JSONL."""
    from polyalign.data.fixture.generator import write_fixture_corpus

    count = write_fixture_corpus(new_file(out, force), seed=seed)
    console.print(f"wrote {count} synthetic records to {out}")


@user_errors
def buckets(folder: Annotated[Path, typer.Argument(help="A prepare artefact folder.")]) -> None:
    """Print the bucket report of a prepared dataset."""
    from polyalign.data.prepare import load_prepared

    data = load_prepared(folder)
    print_key("prepare", data.manifest["key"], reused=True)
    print_summary(data.manifest)
    print_buckets(data.content.report)


data_app = typer.Typer(
    help="The built-in corpora: recipes for the paper's fourteen datasets.", no_args_is_help=True
)


@data_app.command("list")
@user_errors
def data_list() -> None:
    """Every built-in corpus with its cell, licence and hub dataset, and the corpus groups."""
    from polyalign.data.corpora import GROUPS, list_recipes

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
@user_errors
def data_show(name: Annotated[str, typer.Argument(help="A corpus name from `polyalign data list`.")]) -> None:
    """Everything a corpus recipe says: hub parts, fields, dialogue cutting, drops, splits, assumptions."""
    from polyalign.data.corpora import describe_recipe

    table = Table(show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, text in describe_recipe(name):
        table.add_row(label, escape(text))
    console.print(table)
