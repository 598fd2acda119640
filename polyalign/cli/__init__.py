"""The `polyalign` command line: parse arguments, build the config (defaults, YAML, flags), call a stage.

One module per command group: `data` (prepare, fixture, buckets, data list|show), `reference`, `train`,
`pairs` (HDPO pairs), `generate`, `evaluate` (evaluate, report, judge) and `run` (the whole pipeline);
`common` holds the shared options, config loading and the user-error decorator, `console` the Rich views
of artefacts. Each command resolves the artefact root once, passes it to the stages, prints the artefact
key first and where it wrote last; nothing is written outside the root unless `--out` says where. User
errors (bad config, unreadable input, an --out holding other files) print one clear message and exit with
status 2, and a stage that produced nothing usable exits with 1; they never show a traceback. Heavy
modules are imported inside the commands.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from polyalign import __version__
from polyalign.cli import data, evaluate, generate, pairs, reference, run, train

# TRL's trainers send usage telemetry from a background thread. Offline that thread only waits on DNS, and
# on a loaded machine it has crashed a whole run (a segfault in getaddrinfo); HF_HUB_DISABLE_TELEMETRY=0
# turns it back on. Read when huggingface_hub is first imported, which the commands do lazily.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

app = typer.Typer(
    help="PolyAlign: conditional human-distribution alignment of language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every sub-command
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"polyalign {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """The app-level options; each command does its own work."""


app.command()(data.prepare)
app.command()(run.run)
app.command()(data.fixture)
app.command()(data.buckets)
app.add_typer(data.data_app, name="data")
app.add_typer(reference.reference_app, name="reference")
app.add_typer(train.train_app, name="train")
app.add_typer(pairs.pairs_app, name="pairs")
app.command()(generate.generate)
app.command()(evaluate.evaluate)
app.command()(evaluate.report)
app.command("judge")(evaluate.judge_command)
