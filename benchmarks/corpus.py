"""The corpus every benchmark runs on: the development corpus beside the checkout, else the fixture."""

from __future__ import annotations

from pathlib import Path

from polyalign.data.config import PrepareConfig, SourceConfig

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev"


def dev_available(folder: Path = DEV) -> bool:
    return (folder / "train.jsonl").is_file()


def benchmark_corpus(folder: Path = DEV) -> tuple[PrepareConfig, str]:
    """The prepare config of the dev corpus (in `folder`: a worktree elsewhere passes the real place) and
    its name, or the synthetic fixture's (said aloud)."""
    if dev_available(folder):
        return PrepareConfig(
            sources=[SourceConfig(path=str(folder / "*.jsonl"), format="polyalign")]
        ), "dev corpus"
    print(f"note: {folder} not found; using the synthetic fixture corpus instead")
    return PrepareConfig(sources=[SourceConfig(fixture=0)]), "synthetic fixture"
