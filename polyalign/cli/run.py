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
    print_preference_summary,
    print_reference,
    print_results,
    print_summary,
    print_training_summary,
    quiet_third_party,
)
from polyalign.config import RunConfig
from polyalign.train.config import ALL_METHODS, BASE, PREFERENCE_METHODS


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
    methods: Annotated[
        str,
        typer.Option(
            help="Comma-separated methods to compare, the first the baseline: sft, bucket_sft, dpo, "
            "dpo_anchor, hdpo, and base (the untrained start model)."
        ),
    ] = ",".join(ALL_METHODS),
) -> None:
    """The whole pipeline: prepare → references → the methods' training (SFT, Bucket-SFT; pairs and
    DPO, DPO + anchor, HDPO) → generate → evaluate → report.

    Without --config it runs the offline default: the synthetic demo corpus
    (four cells with their own formats and length profiles, imbalanced buckets)
    and a tiny model built offline, within 5 minutes on 2 CPU cores.
    """
    from polyalign.config import artifact_root
    from polyalign.pipeline import full_run

    if config is None:
        console.print(
            f"[bold]Offline default ({OFFLINE_DEFAULT}): every method on the built-in synthetic bilingual "
            "demo corpus with a tiny model built offline; it shows what the method does to such data, not "
            "what it does to a real model.[/]"
        )
    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    cfg = load_config(config or OFFLINE_DEFAULT)
    if not verbose:
        quiet_third_party()
    stages = StageConsole(total=stage_count(cfg, chosen))
    result = full_run(
        cfg, chosen, root=artifact_root(), force=force, resume=resume, verbose=verbose, reporter=stages
    )
    if verbose:
        print_summary(result.prepared.manifest)
        print_buckets(result.prepared.content.report)
        print_reference(result.reference)
        for method, model in result.models.items():
            printer = print_preference_summary if method in PREFERENCE_METHODS else print_training_summary
            printer(model.content)
        for evaluation in result.evaluations.values():
            print_results(evaluation.content)
    if stages.reused == stages.total:
        console.print(f"every stage reused ({stages.total} of {stages.total}); --force rebuilds them")
    print_headline(result.evaluations, result.report)


def stage_count(config: RunConfig, methods: tuple[str, ...]) -> int:
    """Stages a run reports: prepare, reference, each SFT model once (start policies included), pairs and
    preference training per preference method, the tiny base model's artefact, generate and evaluate per
    method, the report."""
    preference = [m for m in methods if m in PREFERENCE_METHODS]
    starts = {config.preference.for_method(m).start_method for m in preference}
    sft = {m for m in methods if m not in (*PREFERENCE_METHODS, BASE)} | starts
    base = int(BASE in methods and config.train.model == "tiny")
    return 2 + len(sft) + 2 * len(preference) + base + 2 * len(methods) + 1
