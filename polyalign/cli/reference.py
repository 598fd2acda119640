"""`polyalign reference build|features|score|critic`: human references and the support distance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from polyalign.cli.common import ConfigOption, OutOption, load_config, new_file, user_errors
from polyalign.cli.console import console, print_key, print_reference, print_support_distances

reference_app = typer.Typer(help="Human reference distributions per bucket and the support distance d(y, b).")


@reference_app.command("build")
@user_errors
def reference_build(
    prepared: Annotated[Path, typer.Argument(help="A prepare artefact folder (its train split is used).")],
    config: ConfigOption = None,
    out: OutOption = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if an identical artefact exists.")] = False,
) -> None:
    """Build per-bucket human references from the train split; report the held-out human floor."""
    from polyalign.config import artifact_root
    from polyalign.data.prepare import load_prepared
    from polyalign.reference.stage import reference_stage

    cfg = load_config(config).reference
    artifact = reference_stage(load_prepared(prepared), cfg, root=artifact_root(), out=out, force=force)
    print_key("reference", artifact.manifest["key"], artifact.reused)
    print_reference(artifact)
    console.print(f"human reference and its report: [bold]{artifact.folder}[/]")


@reference_app.command("features")
def reference_features() -> None:
    """List the response features: name, kind (which sets its scale floor), definition and why it matters."""
    from polyalign.reference.features import FEATURES

    table = Table(title=f"{len(FEATURES)} response features (EN and ZH each computed the right way)")
    table.add_column("feature", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("definition", overflow="fold")
    table.add_column("why it matters", overflow="fold")
    for feature in FEATURES:
        table.add_row(feature.name, feature.kind, feature.definition, feature.why)
    console.print(table)


@reference_app.command("score")
@user_errors
def reference_score(
    reference: Annotated[Path, typer.Argument(help="A reference artefact folder.")],
    responses: Annotated[
        Path, typer.Argument(help="JSONL with 'bucket' and 'response' (or prepared records).")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="JSONL of id, bucket, reference, d.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Score responses (human or model) with the support distance d(y, b) against their bucket."""
    from polyalign.reference.scoring import read_scoring_input, score_file_rows

    rows = read_scoring_input(responses)
    scored = score_file_rows(reference, rows, new_file(out, force) if out else None)
    print_support_distances(scored, responses.name)
    if out:
        console.print(f"per-response distances: [bold]{out}[/]")


@reference_app.command("critic")
@user_errors
def reference_critic(
    reference: Annotated[Path, typer.Argument(help="A reference artefact folder.")],
    responses: Annotated[
        Path, typer.Argument(help="JSONL of model responses: 'id' (a train record) and 'response'.")
    ],
    out: OutOption = None,
    seed: int = 0,
    force: Annotated[bool, typer.Option(help="Train again even if an identical artefact exists.")] = False,
) -> None:
    """Train the optional human-vs-model critic on train prompts; report held-out AUC and pair accuracy."""
    from polyalign.config import artifact_root
    from polyalign.reference.stage import CRITIC_FILE, critic_stage

    artifact = critic_stage(reference, responses, seed=seed, root=artifact_root(), out=out, force=force)
    print_key("critic", artifact.key, artifact.reused)
    m = artifact.content.metrics
    console.print(
        f"critic: held-out AUC {m.auc:.3f}, pair-ranking accuracy {m.pair_accuracy:.3f} "
        f"({m.heldout_pairs} held-out prompts, {m.n_train} training responses)"
    )
    console.print(f"critic: [bold]{artifact.folder / CRITIC_FILE}[/]")
