"""Run configuration: a tree of dataclasses, strict YAML loading and a stable hash.

Unknown keys and wrongly typed values are errors that name the key, the file and the allowed fields.
The artefact root is resolved here and nowhere else: `$POLYALIGN_HOME`, else `~/.cache/polyalign`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from polyalign.data.config import PrepareConfig
from polyalign.errors import ConfigError
from polyalign.evaluate.config import EvalConfig, JudgeConfig
from polyalign.generate.config import GenerateConfig
from polyalign.reference.config import ReferenceConfig
from polyalign.train.config import PreferenceConfig, TrainConfig
from polyalign.train.pairs_config import PairsConfig

T = TypeVar("T")


@dataclass
class RunConfig:
    """A whole run: one section per stage. YAML files hold this tree."""

    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    reference: ReferenceConfig = field(default_factory=ReferenceConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pairs: PairsConfig = field(default_factory=PairsConfig)  # preference pairs from the start policy
    preference: PreferenceConfig = field(default_factory=PreferenceConfig)  # DPO, DPO + anchor, HDPO
    generate: GenerateConfig = field(default_factory=GenerateConfig)  # shared by every compared method
    evaluate: EvalConfig = field(default_factory=EvalConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)


def artifact_root() -> Path:
    """Where artefacts live unless a command is given --out; created and probed here, so that a root that
    cannot be written is one clear error before any work rather than a traceback in the middle of it."""
    given = os.environ.get("POLYALIGN_HOME")
    root = Path(given or Path.home() / ".cache" / "polyalign").expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=root).close()
    except OSError as error:
        where = f"$POLYALIGN_HOME ({root})" if given else f"the default artefact root {root}"
        raise ConfigError(
            f"cannot write to {where}: {error.strerror}; set POLYALIGN_HOME to a folder you can write"
        ) from None
    return root


def config_hash(config: Any) -> str:
    """SHA-256 of the sorted-key JSON of a config's non-default fields (see `non_default_fields`).

    As `datasets` fingerprints omit arguments left at their default, a new option with a default changes
    no key, and neither does the order of a mapping; a changed value changes the key.
    """
    payload = json.dumps(non_default_fields(config), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def non_default_fields(config: Any) -> dict[str, Any]:
    """The fields of a config dataclass that differ from their defaults, nested configs recursively."""
    out: dict[str, Any] = {}
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if dataclasses.is_dataclass(value):
            nested = non_default_fields(value)
            if nested:
                out[item.name] = nested
            continue
        if item.default is not dataclasses.MISSING:
            default = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = dataclasses.MISSING
        if value != default:
            out[item.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    """JSON-ready value; configs inside lists (e.g. sources) keep only their non-default fields."""
    if dataclasses.is_dataclass(value):
        return non_default_fields(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def load_yaml_config(cls: type[T], path: Path) -> T:
    """Read a YAML file into `cls`; relative source paths are resolved against the file's folder."""
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from error
    config = from_mapping(cls, data, where=str(path))
    prepare = config.prepare if isinstance(config, RunConfig) else config
    if isinstance(prepare, PrepareConfig):
        for source in prepare.sources:
            if source.path is not None and not Path(source.path).is_absolute():
                source.path = str((path.parent / source.path).resolve())
            if source.hf is not None and (path.parent / source.hf).exists():
                source.hf = str((path.parent / source.hf).resolve())
            if source.from_dir is not None and not Path(source.from_dir).is_absolute():
                source.from_dir = str((path.parent / source.from_dir).resolve())
    return config


def from_mapping(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass `cls` from plain data, refusing unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} for {cls.__name__}; allowed: {names}")
    values = {name: _coerce(hints[name], data[name], f"{where}: {name}") for name in names if name in data}
    try:
        return cls(**values)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): _coerce(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, float, bool):
        wrong_type = not isinstance(value, hint)
        bool_as_number = isinstance(value, bool) and hint is not bool  # bool is an int subclass in Python
        if wrong_type or bool_as_number:
            raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
