"""Artefact folders: written atomically, identified by a key, completed by a manifest written last.

A stage writes into a temporary folder beside its target and renames it into place, so a crash never
leaves a half-written artefact that looks complete; `manifest.json` marks completion and carries the
identity (format version, stage, key, config, input checksums, polyalign version, git commit).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polyalign import __version__

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_key(stage: str, stage_version: int, *parts: str) -> str:
    """Key = hash(stage@version, config hash, input checksums...): same inputs, same folder."""
    payload = "\x1f".join([f"{stage}@{stage_version}", *parts])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def is_complete(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def holds(folder: Path, key: str) -> bool:
    """True when `folder` is a complete artefact with this key, which a stage reuses instead of rerunning."""
    return is_complete(folder) and read_manifest(folder).get("key") == key


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")


@contextlib.contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces `target`, on error it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def manifest_header(stage: str, stage_version: int, key: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "stage": stage,
        "stage_version": stage_version,
        "key": key,
        "polyalign_version": __version__,
        "git_commit": _git_commit(),
    }


def _git_commit() -> str | None:
    """The commit of the polyalign checkout, when it is one (an installed wheel has none)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
