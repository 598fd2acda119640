"""Artefact folders: written atomically, identified by a key, completed by a manifest written last.

The only code that writes artefacts. `run_stage` owns the sequence every stage follows: key → folder →
reuse if complete → build in a temporary folder beside the target → manifest last → rename into place,
and returns one shape, `Artifact` (folder, manifest, loaded content). A crash never leaves a half-written
artefact that looks complete; `manifest.json` marks completion and carries the identity (format version,
stage, key, parents, config, polyalign version, git commit). An existing folder is replaced only when it
is empty or an artefact of the same stage (its manifest, or the stage marker written before any build
file): a user's own files are never deleted. `read_jsonl`/`write_jsonl` are the one JSONL
reader and writer for artefacts, with file:line errors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from polyalign import __version__
from polyalign.errors import InputError, PolyAlignError

T = TypeVar("T")

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MARKER_PREFIX = ".polyalign-stage-"  # + stage name: an empty file, so ranks create it without a race


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
    manifest = _manifest_if_readable(folder)
    return manifest is not None and manifest.get("key") == key


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def _manifest_if_readable(folder: Path) -> dict[str, Any] | None:
    """The manifest as a dict, or None: a folder we are told to write into may hold anyone's manifest.json."""
    try:
        manifest = read_manifest(folder)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def mark(folder: Path, stage: str) -> None:
    """Claim `folder` for `stage` before writing into it, so an incomplete artefact is recognisably ours."""
    (folder / f"{MARKER_PREFIX}{stage}").touch()


def stage_of(folder: Path) -> str | None:
    """The stage whose artefact, complete (manifest) or not (marker), `folder` holds; else None."""
    manifest = _manifest_if_readable(folder)
    if manifest is not None and isinstance(manifest.get("stage"), str):
        return str(manifest["stage"])
    markers = sorted(p.name.removeprefix(MARKER_PREFIX) for p in folder.glob(f"{MARKER_PREFIX}*"))
    return markers[0] if markers else None


def check_replaceable(folder: Path, stage: str) -> None:
    """Refuse to write `stage`'s artefact over anything but nothing, an empty folder or that stage's artefact.

    Building replaces the folder, so this is what keeps a mistyped --out from deleting a user's files.
    """
    fix = "choose another --out, or remove it yourself"
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise PolyAlignError(f"{folder} exists and is not a folder: {fix}")
    if not folder.exists() or not any(folder.iterdir()):
        return
    found = stage_of(folder)
    if found == stage:
        return
    what = f"a PolyAlign {found!r} artefact" if found else "a folder PolyAlign did not write"
    raise PolyAlignError(f"{folder} is {what}; writing the {stage} artefact there would replace it: {fix}")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PolyAlignError(
            f"cannot create the folder {folder} ({error.strerror}): choose another --out"
        ) from None


@contextlib.contextmanager
def atomic_folder(target: Path, stage: str) -> Iterator[Path]:
    """Yield a staging folder beside `target`, marked for `stage`; on success it takes `target`'s place.

    `target` must pass `check_replaceable` (before the build and again before the swap, as a long build
    leaves time for a user to write there). On error only the staging folder is removed.
    """
    check_replaceable(target, stage)
    _make_folder(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        mark(staging, stage)
        yield staging
        check_replaceable(target, stage)
        _swap(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _swap(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`; an old `target` is renamed aside first and removed only afterwards."""
    if not target.exists():
        staging.rename(target)
        return
    old = staging.with_name(f"{staging.name}.old")
    target.rename(old)
    try:
        staging.rename(target)
    except OSError:
        old.rename(target)
        raise
    shutil.rmtree(old)


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


@dataclass
class Artifact(Generic[T]):
    """What every stage returns: its folder, its manifest and its content loaded from that folder."""

    folder: Path
    manifest: dict[str, Any]
    content: T
    reused: bool = False

    @property
    def key(self) -> str:
        return str(self.manifest["key"])


def open_artifact(folder: Path, stage: str, load: Callable[[Path], T], hint: str) -> Artifact[T]:
    """A complete artefact of `stage` read back from a folder a command was given; `hint` says how to get
    one, in the error for a folder that is none (missing, incomplete, or another stage's)."""
    manifest = _manifest_if_readable(folder)
    if manifest is None or manifest.get("stage") != stage:
        raise InputError(
            f"{folder} is not a complete {stage} artefact (no {MANIFEST} of stage {stage!r}): {hint}"
        )
    return Artifact(folder, manifest, load(folder), reused=True)


def run_stage(
    stage: str,
    version: int,
    key: str,
    folder: Path,
    build: Callable[[Path], Mapping[str, Any]],
    load: Callable[[Path], T],
    *,
    parents: Mapping[str, str | None] | None = None,
    config: Any = None,
    force: bool = False,
    in_place: bool = False,
) -> Artifact[T]:
    """Reuse `folder` when it is complete with `key`; else build it and write the manifest last.

    `build(target)` writes the stage's files into `target` and returns extra manifest fields; `load(folder)`
    reads the content back, for a fresh and a reused artefact alike. The manifest holds the header, the
    parent keys, the config (a dataclass) and its hash. By default `target` is a temporary folder renamed
    into place when complete; `in_place` builds in `folder` itself (training, whose checkpoints must survive
    a crash to be resumed): a complete folder being rebuilt first loses its manifest, so it reads as
    incomplete until the end. Either way an existing `folder` must be empty or this stage's artefact.
    """
    folder = Path(os.path.abspath(folder))  # `.` and `..` name no folder to stage beside
    if not force and holds(folder, key):
        return Artifact(folder, read_manifest(folder), load(folder), reused=True)
    header = manifest_header(stage, version, key)
    if parents is not None:
        header["parents"] = dict(parents)
    if config is not None:
        from polyalign.config import config_hash  # config imports every package's config: keep it lazy

        header["config_hash"] = config_hash(config)
        header["config"] = dataclasses.asdict(config)
    if in_place:
        check_replaceable(folder, stage)
        _make_folder(folder)
        mark(folder, stage)
        (folder / MANIFEST).unlink(missing_ok=True)  # another rank may have removed it
        manifest = {**header, **build(folder)}
        write_json(folder / MANIFEST, manifest)
    else:
        with atomic_folder(folder, stage) as staging:
            manifest = {**header, **build(staging)}
            write_json(staging / MANIFEST, manifest)
    return Artifact(folder, manifest, load(folder))


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write one JSON object per line (UTF-8, no ASCII escaping); returns the count."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path, parse: Callable[[dict[str, Any]], T] | None = None) -> Iterator[T]:
    """Yield `parse(row)` for each JSON object of a JSONL file; blank lines are skipped.

    A line that is not a JSON object, or that `parse` refuses with a `ValueError` (PolyAlign's record and
    input errors included), raises `InputError` naming the file and line.
    """
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{where}: not valid JSON ({error.msg} at column {error.colno})") from None
            if not isinstance(row, dict):
                raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
            try:
                yield parse(row) if parse is not None else row  # type: ignore[misc]
            except (ValueError, TypeError, KeyError) as error:
                raise InputError(f"{where}: {error}") from error
