"""Native rows to loader items: one `LoadedItem` per record or per dropped item, labelled by the recipe.

Prepare accounts one item per `LoadedItem` (in = kept + duplicates + rejected), so a row cut into three
records is three items, and a row the recipe drops is one rejected item with the reason `dropped_<code>`.
Owns: labelling (source, language, track, family, split, ids, group keys) and the SourceConfig of a corpus.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from polyalign.data.config import SourceConfig
from polyalign.data.corpora.adapters import SHAPES, Draft, Drop, RecipeFields
from polyalign.data.corpora.load import load_parts, require_hub
from polyalign.data.corpora.recipe import DROP_PREFIX, CorpusRecipe, HubPart
from polyalign.data.corpora.registry import expand_corpus_names, get_recipe
from polyalign.data.records import Record, RecordError
from polyalign.data.sources import LoadedItem, Origin
from polyalign.errors import ConfigError

RAW_CHARS = 4_000


def iter_corpus(source: SourceConfig) -> Iterator[LoadedItem]:
    """Every item of a registered corpus: from the hub (online) or from `source.from_dir`."""
    recipe = get_recipe(str(source.corpus))
    overridden = [name for name in ("language", "track", "family") if getattr(source, name) is not None]
    if overridden:
        raise ConfigError(
            f"corpus {recipe.name} labels its own records ({recipe.cell}); remove {overridden} from its "
            "source (to regroup families use `buckets.coarsen`)"
        )
    if source.from_dir is None:
        require_hub([recipe])
    for part, hub_split, rows, label in load_parts(recipe, source.from_dir):
        yield from adapt_rows(recipe, part, hub_split, rows, label, split=source.split)


def corpus_sources(spec: str | None, from_dir: str | None) -> list[SourceConfig]:
    """The sources for `--corpus SPEC [--from-dir DIR]`; online, fails fast when the hub is unreachable."""
    if spec is None:
        if from_dir is not None:
            raise ConfigError(
                "--from-dir is the local copy of the corpora named by --corpus; give --corpus too"
            )
        return []
    names = expand_corpus_names(spec)
    if from_dir is None:
        require_hub(get_recipe(name) for name in names)
    return [SourceConfig(corpus=name, from_dir=from_dir) for name in names]


def adapt_rows(
    recipe: CorpusRecipe,
    part: HubPart,
    hub_split: str,
    rows: Iterable[Mapping[str, Any]],
    label: str,
    *,
    split: str | None = None,
) -> Iterator[LoadedItem]:
    """Cut the rows of one official split into labelled records and accounted drops.

    `split` overrides the recipe's split mapping (a source's `split`); `label` names the rows' origin.
    """
    shape = SHAPES[recipe.shape]
    view = RecipeFields(recipe.fields, recipe.drops, recipe.keep, recipe.language, recipe.responder)
    our_split = split or recipe.splits[hub_split]
    for line, key, unit in _units(rows, recipe, shape.unit_role):
        origin = Origin(label, line)
        try:
            outcomes = shape.adapt(unit, key, view)
        except RecordError as error:
            detail = f"{recipe.name}: {error.detail}"
            yield LoadedItem(origin, None, RecordError(error.reason, detail), _raw(unit))
            continue
        if not outcomes and not recipe.subset:
            raise RuntimeError(
                f"shape {recipe.shape} yielded nothing for {label} row {line}: every row must be accounted"
            )
        raw = _raw(unit) if any(isinstance(o, Drop) for o in outcomes) else ""  # only drops keep it
        for outcome in outcomes:
            if isinstance(outcome, Drop):
                yield LoadedItem(origin, None, _drop_error(recipe, outcome), raw)
            else:
                yield LoadedItem(
                    origin, _record(recipe, part, hub_split, our_split, outcome, origin), None, ""
                )


def _raw(unit: Any) -> str:
    """The native unit as JSON, for the quarantine file."""
    return json.dumps(unit, ensure_ascii=False, default=str)[:RAW_CHARS]


def _units(
    rows: Iterable[Mapping[str, Any]], recipe: CorpusRecipe, unit_role: str | None
) -> Iterator[tuple[int, str, Any]]:
    """(first row number, default key, unit): each row, or the rows sharing the `unit_role` field."""
    if unit_role is None:
        for line, row in enumerate(rows):
            yield line, str(line), dict(row)
        return
    column = recipe.fields[unit_role]
    units: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    for line, row in enumerate(rows):
        units.setdefault(str(row[column]), (line, []))[1].append(dict(row))
    for key, (line, members) in units.items():
        yield line, key, members


def _drop_error(recipe: CorpusRecipe, drop: Drop) -> RecordError:
    if drop.code not in recipe.drops:
        raise RuntimeError(
            f"shape {recipe.shape} dropped an item of {recipe.name} with code {drop.code!r}, which the "
            "recipe does not declare: add it to the recipe's `drops` with the reason"
        )
    return RecordError(
        DROP_PREFIX + drop.code, f"{recipe.name} {drop.key}: {recipe.drops[drop.code]} ({drop.detail})"
    )


def _record(
    recipe: CorpusRecipe, part: HubPart, hub_split: str, split: str | None, draft: Draft, origin: Origin
) -> Record:
    # Row numbers (the key of rows without an id) restart in every split and part, so ids, groups and
    # dialogue keys are qualified by both: `dialogue` and `group` are explicit group fields for prepare.
    subset = (part.config or part.folder) if len(recipe.parts) > 1 else None
    where = ":".join(x for x in (recipe.name, subset, hub_split) if x)
    meta: dict[str, Any] = {"native_id": draft.key, "hub": part.label, "hub_split": hub_split}
    if subset:
        meta["subset"] = subset
    meta.update(draft.meta)
    meta["group"] = f"{where}:{draft.group}"
    if "dialogue" in meta:
        meta["dialogue"] = f"{where}:{meta['dialogue']}"
    meta["input"] = str(origin)
    return Record(
        id=f"{where}:{draft.key}",
        source=recipe.name,
        language=recipe.language,
        track=recipe.track,
        family=part.family or recipe.family,
        messages=draft.messages,
        meta=meta,
        split=split,
    )
