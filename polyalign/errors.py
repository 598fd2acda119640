"""User-facing errors: the CLI prints their message (what is wrong and how to fix it) without a traceback."""

from __future__ import annotations


class PolyAlignError(Exception):
    """An error caused by the user's input or configuration, with a message that says what to do.

    `exit_code` is the CLI's exit status: 2 for usage and configuration errors, so scripts can tell them
    apart from a run that worked but produced nothing usable (`NothingUsable`, 1).
    """

    exit_code = 2


class ConfigError(PolyAlignError):
    """A configuration value or file that cannot be used."""


class InputError(PolyAlignError):
    """An input file or dataset that cannot be read at all (single bad records are quarantined instead)."""


class NothingUsable(PolyAlignError):
    """A stage read its inputs but produced nothing usable (no record kept, no generation, no metric)."""

    exit_code = 1
