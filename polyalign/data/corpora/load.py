"""Where a corpus's native rows come from: the Hugging Face hub, or a local copy in the hub's file layout.

Online, each hub part is read with `datasets.load_dataset(repo, config, revision=..., data_dir=...)`.
Before that, `require_hub` fails fast (no retries) when the hub is switched off or unreachable, naming the
hub datasets and the `--from-dir` alternative. With `--from-dir DIR`, a corpus is read from `DIR/<name>/`
(or `DIR` itself when that folder does not exist): a `save_to_disk` folder, or the data files a
`huggingface-cli download` of the recipe's repo and revision leaves there. Parquet files win over
JSON/CSV ones when both exist (hub repos often carry raw dumps beside their parquet data); each file's split
is read from its path (`train-00000-of-00001.parquet`, `v2.2/validation/0000.parquet`).
Reads: hub datasets and local files. Writes: only the `datasets` cache.
"""

from __future__ import annotations

import itertools
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from polyalign.artifacts import file_sha256
from polyalign.data.corpora.recipe import CorpusRecipe, HubPart
from polyalign.data.corpora.registry import RECIPES
from polyalign.data.sources import is_saved_dataset, load_splits
from polyalign.errors import InputError

HUB_TIMEOUT_S = 5.0  # one reachability probe; an offline machine answers at once (no DNS), a firewall in 5 s
OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv", ".jsonl.gz", ".json.gz", ".csv.gz")
BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}
METADATA_FILES = frozenset({"dataset_info.json", "dataset_infos.json", "dataset_dict.json", "state.json"})


def hub_unreachable() -> str | None:
    """Why the hub cannot be used now, or None when it answers.

    Reads the hub libraries' own switches (`HF_HUB_OFFLINE`, `HF_DATASETS_OFFLINE`, `HF_ENDPOINT`) at the
    moment the hub is about to be used, so a switch set after import still counts.
    """
    for switch in OFFLINE_SWITCHES:
        if os.environ.get(switch, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{switch} is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=HUB_TIMEOUT_S).close()
    except urllib.error.HTTPError as error:  # an answer; a 5xx may be a proxy that cannot reach the hub
        return f"{endpoint} answered {error.code}" if error.code >= 500 else None
    except (urllib.error.URLError, OSError) as error:
        return f"{endpoint} is unreachable ({getattr(error, 'reason', error)})"
    return None


def require_hub(recipes: Iterable[CorpusRecipe]) -> None:
    """Raise at once, with the way out, when the hub datasets of `recipes` cannot be downloaded."""
    recipes = list(recipes)
    reason = hub_unreachable()
    if reason is None:
        return
    parts = ", ".join(part.label for recipe in recipes for part in recipe.parts)
    raise InputError(
        f"cannot download {', '.join(r.name for r in recipes)} from the Hugging Face hub: {reason}. "
        f"It needs the hub datasets {parts}. Offline, download them on a connected machine into "
        "DIR/<corpus>/ (`polyalign data show NAME` prints the `huggingface-cli download` command) and pass "
        "`--from-dir DIR`"
    )


def load_parts(recipe: CorpusRecipe, from_dir: str | None) -> Iterator[tuple[HubPart, str, Any, str]]:
    """(part, official split, rows, origin label) for every loaded split of every part, in recipe order."""
    for part in recipe.parts:
        if from_dir is None:
            hint = f"Check {part.label} on the hub, or give a local copy with `--from-dir`"
            data_dir = part.folder if part.config is None else None
            loaded = load_splits(part.repo, part.config, hint=hint, revision=part.revision, data_dir=data_dir)
            where = part.label
        else:
            base = part_dir(recipe, part, Path(from_dir))
            loaded = _load_local(recipe, part, base)
            where = str(base)
        for split, rows in _official_splits(recipe, loaded, where).items():
            yield part, split, rows, f"{where}[{split}]"


def part_dir(recipe: CorpusRecipe, part: HubPart, from_dir: Path) -> Path:
    """The folder holding one part's local files: `DIR/<corpus>/<folder>`, or `DIR/<folder>` when DIR is
    the copy of this one corpus (it holds no folder named after any registered corpus)."""
    root = from_dir / recipe.name
    if not root.is_dir() and not any((from_dir / name).is_dir() for name in RECIPES):
        root = from_dir
    base = root / part.folder if part.folder else root
    if not base.is_dir():
        raise InputError(
            f"no local copy of {recipe.name} ({part.label}) at {base}: put the hub's files there, e.g. "
            f"`{part.download_command(recipe.name)}`, then pass `--from-dir DIR`"
        )
    return base


def local_files(recipe: CorpusRecipe, part: HubPart, base: Path) -> dict[str, list[Path]]:
    """The data files of one part by official split (ignored splits left out)."""
    files = [
        p
        for p in sorted(base.rglob("*"))
        if p.is_file()
        and p.name.endswith(DATA_SUFFIXES)
        and p.name not in METADATA_FILES
        and not any(c.startswith(".") for c in p.relative_to(base).parts)
    ]
    if any(p.name.endswith(".parquet") for p in files):
        files = [p for p in files if p.name.endswith(".parquet")]
    if not files:
        raise InputError(
            f"no data files (parquet, JSON lines, JSON or CSV) for {recipe.name} ({part.label}) in {base}: "
            f"expected the hub's file layout, e.g. `{part.download_command(recipe.name)}`"
        )
    names = [*recipe.splits, *recipe.ignored_splits]
    by_split: dict[str, list[Path]] = {}
    for path in files:
        split = _split_of(path.relative_to(base), names)
        if split is None and len(names) == 1:
            split = names[0]
        if split is None:
            raise InputError(
                f"cannot tell the split of {path} for {recipe.name}: its path names none of {names} "
                "(keep the hub's file names)"
            )
        if split in recipe.splits:
            by_split.setdefault(split, []).append(path)
    return by_split


def _split_of(relative: Path, names: list[str]) -> str | None:
    """The official split a path names, looking at the file name first, then its folders."""
    for component in reversed(relative.parts):
        tokens = re.findall(r"[a-z]+|\d+", component.lower())
        candidates = set(tokens) | {a + b for a, b in itertools.pairwise(tokens)}
        matches = [name for name in names if name.lower() in candidates]
        if matches:
            return max(matches, key=len)  # `validation1` over `validation`
    return None


def _load_local(recipe: CorpusRecipe, part: HubPart, base: Path) -> dict[str, Any]:
    hint = f"Reading the local copy of {recipe.name} ({part.label}) in {base}"
    if is_saved_dataset(base):
        return load_splits(str(base), hint=hint)
    files = local_files(recipe, part, base)
    builders = {BUILDERS[_suffix(p)] for paths in files.values() for p in paths}
    if len(builders) != 1:
        raise InputError(f"{base} mixes data formats {sorted(builders)} for {recipe.name}; keep one format")
    data_files = {split: [str(p) for p in paths] for split, paths in files.items()}
    return load_splits(builders.pop(), hint=hint, data_files=data_files)


def _suffix(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    return name[name.rindex(".") :]


def _official_splits(recipe: CorpusRecipe, loaded: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The loaded splits the recipe maps, in the recipe's order; an unknown split is an error."""
    unknown = sorted(set(loaded) - set(recipe.splits) - set(recipe.ignored_splits))
    if unknown:
        raise InputError(
            f"{where} has split(s) {unknown} that recipe {recipe.name} does not know (it loads "
            f"{list(recipe.splits)} and ignores {list(recipe.ignored_splits)}): the hub layout changed?"
        )
    present = {split: loaded[split] for split in recipe.splits if split in loaded}
    if not present:
        raise InputError(f"{where} has none of the splits {list(recipe.splits)} recipe {recipe.name} loads")
    return present


def corpus_identity(recipe: CorpusRecipe, from_dir: str | None) -> dict[str, str]:
    """What prepare's key depends on: recipe version and hub coordinates, or the local files' checksums."""
    head = f"corpus:{recipe.name}"
    if from_dir is None:
        return {head: f"recipe v{recipe.version}; hub " + ", ".join(p.label for p in recipe.parts)}
    identity = {head: f"recipe v{recipe.version}; local {from_dir}"}
    for part in recipe.parts:
        base = part_dir(recipe, part, Path(from_dir))
        if is_saved_dataset(base):
            paths = sorted(p for p in base.rglob("*") if p.is_file())
        else:
            paths = [p for split_paths in local_files(recipe, part, base).values() for p in split_paths]
        identity.update({f"{head}:{p}": "sha256:" + file_sha256(p) for p in paths})
    return identity
