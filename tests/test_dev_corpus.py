"""Acceptance on the real development corpus (skipped when ../shared/data/dev is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corruption import corrupt_copy

from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import prepare_stage

pytestmark = pytest.mark.devcorpus


def _originals(dev: Path) -> dict[str, dict]:
    return {
        row["id"]: row
        for path in sorted(dev.glob("*.jsonl"))
        for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())
    }


def test_dev_corpus_buckets_cells_and_accounting(dev_corpus: Path, tmp_path: Path) -> None:
    config = PrepareConfig(sources=[SourceConfig(path=str(dev_corpus / "*.jsonl"), format="polyalign")])
    data = prepare_stage(config, root=tmp_path, out=tmp_path / "out", progress=False)
    counts = data.manifest["counts"]
    assert counts["reconciles"] and counts["in"] == 3960
    records = [r for split in data.content.splits.values() for r in split]
    originals = _originals(dev_corpus)
    agree = sum(r.length_bin == originals[r.id]["meta"]["length_bin"] for r in records)
    assert agree / len(originals) >= 0.99
    assert len({r.cell for r in records}) == 11
    assert all(r.split == originals[r.id]["meta"]["split"] for r in records)  # existing splits respected


@pytest.mark.slow
def test_corrupted_dev_corpus_loses_no_valid_record(dev_corpus: Path, tmp_path: Path) -> None:
    planted = corrupt_copy(sorted(dev_corpus.glob("*.jsonl")), tmp_path / "bad")
    config = PrepareConfig(sources=[SourceConfig(path=str(tmp_path / "bad"), format="polyalign")])
    data = prepare_stage(config, root=tmp_path, out=tmp_path / "out", progress=False)
    counts = data.manifest["counts"]
    assert counts["kept"] == 3960 and counts["reconciles"]
    assert counts["rejected_by_reason"] == planted
    assert {r.id for split in data.content.splits.values() for r in split} == set(_originals(dev_corpus))
