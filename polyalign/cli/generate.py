"""`polyalign generate`: one model's responses to the full test split with the shared decoding config."""

from __future__ import annotations

from typing import Annotated

import typer

from polyalign.cli.common import ConfigOption, OutOption, load_config, user_errors
from polyalign.cli.console import console, print_key


@user_errors
def generate(
    config: ConfigOption = None,
    model: Annotated[str | None, typer.Option(help="Model folder (overrides generate.model).")] = None,
    profile: Annotated[
        str | None, typer.Option(help="Profile mode sample|none|off|<units> (overrides generate.profile).")
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="transformers | vllm (overrides generate.backend).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Smoke runs only: the first N records by id.")] = None,
    out: OutOption = None,
    force: Annotated[bool, typer.Option(help="Generate again even if an identical artefact exists.")] = False,
) -> None:
    """Generate responses for the full test split with the shared decoding config (one model per call)."""
    import dataclasses
    import json

    from polyalign.config import artifact_root, config_hash
    from polyalign.generate.stage import generate_key, generate_stage
    from polyalign.pipeline import prepare_and_reference

    cfg = load_config(config)
    overrides = {"model": model, "profile": profile, "backend": backend, "limit": limit}
    cfg.generate = dataclasses.replace(cfg.generate, **{k: v for k, v in overrides.items() if v is not None})
    root = artifact_root()
    prepared, reference = prepare_and_reference(cfg, root=root)
    print_key("generate", generate_key(prepared.key, reference.manifest["key"], cfg.generate))
    console.print(f"generate config (hash {config_hash(cfg.generate)[:16]}):")
    console.print_json(json.dumps(dataclasses.asdict(cfg.generate), ensure_ascii=False))
    artifact = generate_stage(prepared, reference, cfg.generate, root=root, out=out, force=force)
    m = artifact.manifest
    if artifact.reused:
        console.print("[dim]reused the complete generations with this key (--force: generate again)[/]")
    guard = m["leak_guard"]
    console.print(
        f"{m['records']} generations ({'full split' if m['full_split'] else 'PARTIAL: --limit'}), "
        f"{m['truncated_by_budget']} stopped by max_new_tokens, {m['history_dropped']} with history dropped; "
        f"leak guard {guard['mode']}: gold found in its own conversation and allowed for "
        f"{guard['allowed_extractive']} passage spans, {guard['allowed_history']} repeated earlier turns, "
        f"{guard['allowed_short']} short answers"
    )
    console.print(f"generations: [bold]{artifact.content}[/]")
