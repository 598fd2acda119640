"""The metric glossary comes from the registry: every metric has its line; the README's copy is in sync."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from polyalign.evaluate import glossary
from polyalign.evaluate.registry import METRICS, _registry, get_metric

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_registered_metric_has_a_glossary_line():
    rows = {row[0]: row for row in glossary.rows()}
    assert list(rows) == list(METRICS)
    assert all(all(cell.strip() for cell in row) for row in rows.values())
    assert rows["auc"][2] == "closest to 0.5" and rows["bng"][2] == "lower is better"
    assert rows["self_bleu"][2] == "closer to the human value" and rows["em"][2] == "higher is better"
    assert "repetition" in get_metric("mauve").blind_to
    assert "collapse" in get_metric("support_distance").blind_to


def test_an_entry_without_its_glossary_line_is_refused():
    bare = dataclasses.replace(get_metric("bng"), blind_to="")
    with pytest.raises(ValueError, match="'bng' needs its glossary line"):
        _registry(bare)


def test_the_readme_glossary_is_the_registry_s(tmp_path):
    """Regenerate with `python -m polyalign.evaluate.glossary README.md` when this fails."""
    text = README.read_text(encoding="utf-8")
    assert glossary.markdown() in text
    copy = tmp_path / "README.md"
    copy.write_text(text.replace("| `bng` |", "| `bng-old` |"), encoding="utf-8")
    assert glossary.sync(copy) and copy.read_text(encoding="utf-8") == text
    assert not glossary.sync(copy)
