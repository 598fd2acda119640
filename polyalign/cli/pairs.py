"""`polyalign pairs build`: HDPO preference pairs from a prepared train split and a start policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from polyalign.cli.common import ConfigOption, OutOption, load_config, user_errors
from polyalign.cli.console import console, print_key

pairs_app = typer.Typer(
    help="HDPO preference pairs: human response vs start-policy samples.", no_args_is_help=True
)


def print_pair_report(report: dict[str, Any]) -> None:
    """Per bucket: kept, dropped (empty/identical), share with d_r > d_c, mean d_c and d_r, weight range."""
    title = "pairs per bucket (prompts × samples = kept + dropped empty/identical)"
    table = Table(title=title, box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    table.add_column("bucket", no_wrap=True)
    for column in ("kept", "dropped", "d_r>d_c", "d_c", "d_r", "weight"):
        table.add_column(column, justify="right", no_wrap=True)

    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    for name, group in [*report["buckets"].items(), ("all", report["all"])]:
        weight = group["weight"]
        table.add_row(
            name,
            str(group["n"]),
            f"{group['dropped']['empty']}/{group['dropped']['identical']}",
            number(group["share_rejected_further"]),
            number(group["d_chosen"]["mean"]),
            number(group["d_rejected"]["mean"]),
            f"{number(weight['min'])}-{number(weight['max'])}",
        )
    console.print(table)


@pairs_app.command("build")
@user_errors
def pairs_build(
    data: Annotated[Path, typer.Option("--data", help="A prepare artefact folder (its train split).")],
    reference: Annotated[Path, typer.Option("--reference", help="A reference artefact folder (d).")],
    policy: Annotated[Path, typer.Option("--policy", help="The start policy: a train artefact folder.")],
    config: ConfigOption = None,
    critic: Annotated[
        Path | None, typer.Option(help="A critic artefact folder (sets pairs.scorer critic).")
    ] = None,
    out: OutOption = None,
    force: Annotated[bool, typer.Option(help="Build again even if an identical artefact exists.")] = False,
) -> None:
    """Chosen = the human response, rejected = k policy samples; d_c, d_r and weights per pair."""
    import dataclasses
    import json

    from polyalign.config import artifact_root, config_hash
    from polyalign.data.prepare import load_prepared
    from polyalign.reference.stage import open_reference
    from polyalign.train.pairs import PAIRS_FILE, pairs_stage, stage_key
    from polyalign.train.stage import open_train

    cfg = load_config(config).pairs
    if critic is not None:
        cfg = dataclasses.replace(cfg, scorer="critic", critic=str(critic))  # re-validated
    prepared, ref, start = load_prepared(data), open_reference(reference), open_train(policy)
    print_key("pairs", stage_key(prepared, ref, start, cfg))
    console.print(f"pairs config (hash {config_hash(cfg)[:16]}):")
    console.print_json(json.dumps(dataclasses.asdict(cfg), ensure_ascii=False))
    artifact = pairs_stage(prepared, ref, start, cfg, root=artifact_root(), out=out, force=force)
    if artifact.reused:
        console.print("[dim]reused the complete pairs with this key (--force: build again)[/]")
    print_pair_report(artifact.content.report)
    counts = artifact.manifest["counts"]
    console.print(
        f"{counts['kept']} pairs kept of {counts['candidates']} ({counts['prompts']} prompts × "
        f"{artifact.manifest['samples']} samples), scorer {artifact.manifest['scorer']['kind']}"
    )
    console.print(f"pairs: [bold]{artifact.folder / PAIRS_FILE}[/]")
