"""`polyalign run`: the whole pipeline on one config (the offline default without one)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polyalign.cli.common import OFFLINE_DEFAULT, load_config, user_errors
from polyalign.cli.console import (
    StageConsole,
    console,
    print_buckets,
    print_headline,
    print_reference,
    print_results,
    print_summary,
    print_training_summary,
    quiet_third_party,
)


@user_errors
def run(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help=f"YAML config file (default: {OFFLINE_DEFAULT.name})."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild every stage even if its artefact exists.")] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue an interrupted training from its last checkpoint (--no-resume restarts it)."
        ),
    ] = True,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Print everything: trainer logs per bucket and every full table."
        ),
    ] = False,
) -> None:
    """The whole pipeline: prepare → references → SFT and Bucket-SFT → generate → evaluate → report.

    Without --config it runs the offline default: the synthetic fixture corpus and a tiny model built
    offline, sized for a few minutes on a CPU (a demonstration of the machinery, not of the method).
    """
    from polyalign.config import artifact_root
    from polyalign.pipeline import full_run

    if config is None:
        console.print(
            f"[bold]Offline default ({OFFLINE_DEFAULT}): the built-in synthetic bilingual fixture corpus "
            "and a tiny model built offline; its numbers demonstrate the pipeline, not the method.[/]"
        )
    methods = ("sft", "bucket_sft")
    if not verbose:
        quiet_third_party()
    stages = StageConsole(total=2 + 3 * len(methods) + 1)
    result = full_run(
        load_config(config or OFFLINE_DEFAULT), methods, root=artifact_root(), force=force, resume=resume,
        verbose=verbose, reporter=stages,
    )  # fmt: skip
    if verbose:
        print_summary(result.prepared.manifest)
        print_buckets(result.prepared.content.report)
        print_reference(result.reference)
        for model in result.models.values():
            print_training_summary(model.content)
        for evaluation in result.evaluations.values():
            print_results(evaluation.content)
    if stages.reused == stages.total:
        console.print(f"every stage reused ({stages.total} of {stages.total}); --force rebuilds them")
    print_headline(result.evaluations, result.report)
