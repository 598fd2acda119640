"""What every command shares: the user-error decorator, config loading and the common options."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.markup import escape

from polyalign.cli.console import errors
from polyalign.config import RunConfig, load_yaml_config
from polyalign.errors import PolyAlignError

OFFLINE_DEFAULT = Path(__file__).parent.parent / "defaults" / "offline.yaml"
P = ParamSpec("P")
R = TypeVar("R")

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output folder (default: $POLYALIGN_HOME/<stage>/<key>).")
]


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn PolyAlignError into its message and exit status (no traceback for user errors)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PolyAlignError as error:
            # one line whatever the terminal width, and the message's brackets are text, not markup
            errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
            raise typer.Exit(error.exit_code) from None

    return wrapper


def load_config(path: Path | None) -> RunConfig:
    """Defaults, then the YAML file when one is given (flags are applied by each command)."""
    return load_yaml_config(RunConfig, path) if path else RunConfig()


def new_file(path: Path, force: bool) -> Path:
    """An output file a command may write: refused when it exists (unless `--force`) or cannot be made.

    Whatever is at a user-named path was not written by PolyAlign, so it is never overwritten silently.
    """
    if path.is_dir():
        raise PolyAlignError(f"{path} is a folder: give a file name to write")
    if path.exists() and not force:
        raise PolyAlignError(f"{path} exists: choose another file, or pass --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PolyAlignError(f"cannot create the folder of {path}: {error.strerror}") from None
    return path
