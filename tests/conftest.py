"""Shared fixtures: artefacts go to a temporary folder; the dev corpus is optional and skipped when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # no network here: see polyalign/cli/__init__.py
DEV_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev"


@pytest.fixture(autouse=True)
def artifact_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test writes to the user's cache: every artefact root is a fresh temporary folder."""
    home = tmp_path / "polyalign-home"
    monkeypatch.setenv("POLYALIGN_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def evaluated_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three evaluate artefacts for the report tests (`eval_helpers.evaluated_runs`), built once."""
    from eval_helpers import evaluated_runs

    return evaluated_runs(tmp_path_factory.mktemp("evaluated"))


@pytest.fixture
def dev_corpus() -> Path:
    if not (DEV_CORPUS / "train.jsonl").is_file():
        pytest.skip(f"development corpus not found at {DEV_CORPUS} (it sits beside the checkout in CI)")
    return DEV_CORPUS
