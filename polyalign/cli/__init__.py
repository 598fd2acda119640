"""The `polyalign` command line: parse arguments, build the config (defaults, YAML, flags), call a stage.

One module per command group: `data` (prepare, fixture, buckets, data list|show), `reference`, `train`,
`generate`, `evaluate` (evaluate, report, judge) and `run` (the whole pipeline); `common` holds the
shared options, config loading and the user-error decorator, `console` the Rich views of artefacts.
Each command resolves the artefact root once, passes it to the stages and prints the artefact key
first. User errors (bad config, unreadable input) print one clear message and exit with status 2 (1
when a stage produced nothing usable); they never show a traceback. Heavy modules are imported inside
the commands.
"""

from __future__ import annotations

import typer

from polyalign.cli import data, evaluate, generate, reference, run, train

app = typer.Typer(
    help="PolyAlign: conditional human-distribution alignment of language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(data.prepare)
app.command()(run.run)
app.command()(data.fixture)
app.command()(data.buckets)
app.add_typer(data.data_app, name="data")
app.add_typer(reference.reference_app, name="reference")
app.add_typer(train.train_app, name="train")
app.command()(generate.generate)
app.command()(evaluate.evaluate)
app.command()(evaluate.report)
app.command("judge")(evaluate.judge_command)
