"""`polyalign run`: the whole pipeline on one config (the offline default without one)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polyalign.cli.common import OFFLINE_DEFAULT, load_config, user_errors
from polyalign.cli.console import (
    console,
    print_buckets,
    print_key,
    print_reference,
    print_results,
    print_summary,
    print_training_summary,
)


@user_errors
def run(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help=f"YAML config file (default: {OFFLINE_DEFAULT.name})."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild every stage even if its artefact exists.")] = False,
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
    result = full_run(load_config(config or OFFLINE_DEFAULT), root=artifact_root(), force=force)
    print_key("prepare", result.prepared.key, result.prepared.reused)
    print_key("reference", result.reference.manifest["key"], result.reference.reused)
    for method in result.models:
        for stage, artifact in (
            ("train", result.models[method]),
            ("generate", result.generations[method]),
            ("evaluate", result.evaluations[method]),
        ):
            print_key(f"{method} {stage}", artifact.manifest["key"], artifact.reused)
    print_summary(result.prepared.manifest)
    print_buckets(result.prepared.content.report)
    print_reference(result.reference)
    for method, model in result.models.items():
        console.print(f"[bold]{method}[/]: model {model.folder}")
        print_training_summary(model.content)
    for evaluation in result.evaluations.values():
        print_results(evaluation.content)
    console.print(
        f"prepared data: [bold]{result.prepared.folder}[/]\n"
        f"human reference and its report: [bold]{result.reference.folder}[/]\n"
        f"comparison report: [bold]{result.report.content.html}[/] (and report.md beside it)"
    )
