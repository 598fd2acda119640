"""Cache identity: a key changes with what changes the output and nothing else (as datasets fingerprints)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from polyalign.config import RunConfig, config_hash, non_default_fields
from polyalign.data.config import PrepareConfig, SourceConfig


@dataclass
class _Old:
    a: int = 1
    weights: dict[str, float] = field(default_factory=dict)


@dataclass
class _New(_Old):
    added: str = "default"  # a new option, left at its default


def test_a_new_defaulted_field_changes_no_key() -> None:
    assert config_hash(_Old(a=2)) == config_hash(_New(a=2))
    assert config_hash(_Old()) == config_hash(_New())
    assert config_hash(_New(a=2, added="x")) != config_hash(_Old(a=2))


def test_mapping_order_changes_no_key_and_values_do() -> None:
    assert config_hash(_Old(weights={"x": 1.0, "y": 2.0})) == config_hash(_Old(weights={"y": 2.0, "x": 1.0}))
    assert config_hash(_Old(weights={"x": 1.0})) != config_hash(_Old(weights={"x": 2.0}))
    assert config_hash(_Old(a=1)) == config_hash(_Old())  # stating a default is leaving it


def test_nested_and_listed_configs_keep_only_their_non_default_fields() -> None:
    config = RunConfig(prepare=PrepareConfig(sources=[SourceConfig(path="a.jsonl", family="open_chat")]))
    config.train.seed = 3
    assert non_default_fields(config) == {
        "prepare": {"sources": [{"path": "a.jsonl", "family": "open_chat"}]},
        "train": {"seed": 3},
    }
    assert non_default_fields(RunConfig()) == {}
    same = dataclasses.replace(config.prepare, splits=dataclasses.replace(config.prepare.splits, seed=0))
    assert config_hash(same) == config_hash(config.prepare)
