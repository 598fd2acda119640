"""User-facing errors: the CLI prints their message (what is wrong and how to fix it) without a traceback."""

from __future__ import annotations


class PolyAlignError(Exception):
    """An error caused by the user's input or configuration, with a message that says what to do."""


class ConfigError(PolyAlignError):
    """A configuration value or file that cannot be used."""


class InputError(PolyAlignError):
    """An input file or dataset that cannot be read at all (single bad records are quarantined instead)."""


class NothingUsable(PolyAlignError):
    """A stage ran but produced nothing usable: exit 1"""
