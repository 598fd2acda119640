"""`polyalign train sft`: SFT or Bucket-SFT; `polyalign train pref`: DPO, DPO + anchor or HDPO."""

from __future__ import annotations

from typing import Annotated

import typer

from polyalign.cli.common import ConfigOption, OutOption, load_config, user_errors
from polyalign.cli.console import console, print_key, print_preference_summary, print_training_summary

train_app = typer.Typer(
    help="Training: Bucket-Aware SFT and plain SFT; HDPO and the DPO baselines.", no_args_is_help=True
)


@train_app.command("sft")
@user_errors
def train_sft(
    config: ConfigOption = None,
    method: Annotated[
        str | None, typer.Option(help="sft | bucket_sft (overrides train.method; default bucket_sft).")
    ] = None,
    out: OutOption = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the last checkpoint of the output folder.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Train again even if a complete model folder exists.")] = False,
) -> None:
    """SFT or Bucket-SFT on the prepared train split (prepare and references are built or reused first)."""
    import dataclasses
    import json

    from polyalign.config import artifact_root, config_hash
    from polyalign.pipeline import prepare_and_reference
    from polyalign.train.stage import train_key, train_stage

    cfg = load_config(config)
    if method is not None:
        cfg.train = dataclasses.replace(cfg.train, method=method)  # re-validated by __post_init__
    root = artifact_root()
    prepared, reference = prepare_and_reference(cfg, root=root)
    key = train_key(prepared.key, reference.manifest["key"], cfg.train)
    print_key("train", key)
    console.print(f"train config (hash {config_hash(cfg.train)[:16]}):")
    console.print_json(json.dumps(dataclasses.asdict(cfg.train), ensure_ascii=False))
    artifact = train_stage(prepared, reference, cfg.train, root=root, out=out, resume=resume, force=force)
    if artifact.reused:
        console.print("[dim]reused the complete model folder with this key (--force to train again)[/]")
    print_training_summary(artifact.content)
    console.print(f"model, tokenizer, config and training summary: [bold]{artifact.folder}[/]")


@train_app.command("pref")
@user_errors
def train_pref(
    config: ConfigOption = None,
    method: Annotated[
        str | None,
        typer.Option(help="dpo | dpo_anchor | hdpo (overrides preference.method; default hdpo)."),
    ] = None,
    out: OutOption = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the last checkpoint of the output folder.")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="Rebuild every stage (start policy, pairs, this model) even if complete.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every trainer log dict.")] = False,
) -> None:
    """DPO, DPO + anchor or HDPO (METHOD.md §5). Builds or reuses, in order: prepare, references, the start
    policy (plain SFT for dpo, Bucket-SFT otherwise; `preference.start`), and the pairs sampled from it."""
    import dataclasses

    from polyalign.config import artifact_root
    from polyalign.pipeline import preference_run

    cfg = load_config(config)
    if method is not None:
        cfg.preference = dataclasses.replace(cfg.preference, method=method)  # re-validated
    result = preference_run(cfg, root=artifact_root(), out=out, force=force, resume=resume, verbose=verbose)
    print_key("train", result.policy.key, result.policy.reused)
    print_key("pairs", result.pairs.key, result.pairs.reused)
    print_key("preference", result.model.key, result.model.reused)
    print_preference_summary(result.model.content)
    console.print(f"model, tokenizer, config and training summary: [bold]{result.model.folder}[/]")
