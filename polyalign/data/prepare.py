"""Stage `prepare`: inputs → normalised, deduplicated, bucketed and split records, with full accounting.

Reads the configured sources (files, datasets, registered corpora, the built-in synthetic fixture).
Writes one artefact folder: `train/val/test.jsonl`, `quarantine.jsonl` (rejected input with file, line
and reason), `duplicates.jsonl`, `buckets.json` (edges and back-off), `bucket_report.{md,json}` and, last,
`manifest.json` (key, config, input checksums, counts). The counts must reconcile or nothing is written.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.config import config_hash
from polyalign.data.accounting import Ledger
from polyalign.data.bucket_report import BucketReport, build_bucket_report
from polyalign.data.buckets import (
    FAMILIES,
    LENGTH_BINS,
    PAPER_EDGES,
    TRACKS,
    BackOff,
    BucketKey,
    fit_quantile_edges,
    length_bin,
    length_units,
    plan_back_off,
    track_from_turns,
)
from polyalign.data.config import SPLITS, PrepareConfig, canonical_split
from polyalign.data.corpora import corpus_identity, iter_corpus
from polyalign.data.fixture.demo import make_demo_corpus
from polyalign.data.fixture.generator import make_fixture_corpus
from polyalign.data.language import Detection, detect_language
from polyalign.data.normalize import normalize_messages
from polyalign.data.records import Record, RecordError, read_records, validate_messages, write_records
from polyalign.data.sources import LoadedItem, Origin, iter_source, resolve_paths
from polyalign.data.splits import SplitOutcome, assign_splits, dedup_key, find_groups
from polyalign.errors import ConfigError, NothingUsable, PolyAlignError

STAGE, STAGE_VERSION = "prepare", 1
TOP_REASONS = 3  # rejection reasons shown, with an example each, when a prepare keeps too little
LANGUAGE_DISAGREEMENT_SHARE = 0.05  # given languages detection contradicts, above which prepare warns
SPLIT_FILES = {name: f"{name}.jsonl" for name in SPLITS}


@dataclass
class PreparedData:
    """The content of a prepare artefact: records per split and the bucket report."""

    splits: dict[str, list[Record]]
    report: BucketReport

    @classmethod
    def load(cls, folder: Path) -> PreparedData:
        splits = {name: list(read_records(folder / file)) for name, file in SPLIT_FILES.items()}
        report = BucketReport.from_json(
            json.loads((folder / "bucket_report.json").read_text(encoding="utf-8"))
        )
        return cls(splits, report)


def load_prepared(folder: Path) -> Artifact[PreparedData]:
    """A complete prepare artefact read back from its folder (for commands that are given one)."""
    hint = "run `polyalign prepare` and pass the folder it prints"
    return artifacts.open_artifact(folder, STAGE, PreparedData.load, hint)


def prepare_stage(
    config: PrepareConfig,
    *,
    root: Path,
    out: Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> Artifact[PreparedData]:
    """Run the stage into `out or root/prepare/<key>`, or reuse the artefact complete with that key."""
    inputs = _input_identity(config)
    key = artifacts.artifact_key(STAGE, STAGE_VERSION, config_hash(config), *inputs.values())

    def build(target: Path) -> dict[str, Any]:
        ledger = Ledger()
        records = collect_records(config, ledger, progress)
        _check_rejections(ledger, config)
        outcome = split_records(records, config)
        edges, back_off = label_buckets(records, config)
        if not ledger.reconciles:
            raise RuntimeError(f"accounting does not reconcile: {ledger.counts()}")  # a bug, never user error
        by_split: dict[str, list[Record]] = {name: [] for name in SPLIT_FILES}
        for record in records:
            if record.split not in by_split:  # split_records gives every record one: a bug if not
                raise RuntimeError(f"record {record.id} has split {record.split!r} after splitting")
            by_split[record.split].append(record)
        report = build_bucket_report(by_split, back_off, edges)
        for name, file in SPLIT_FILES.items():
            write_records(target / file, by_split[name])
        artifacts.write_jsonl(target / "quarantine.jsonl", ledger.rejections)
        artifacts.write_jsonl(target / "duplicates.jsonl", ledger.duplicates)
        artifacts.write_json(target / "buckets.json", _buckets_artifact(edges, back_off, config))
        artifacts.write_json(target / "bucket_report.json", report.to_json())
        (target / "bucket_report.md").write_text(report.to_markdown(), encoding="utf-8")
        return {
            "inputs": inputs,
            "counts": {**ledger.counts(), "kept_by_split": {k: len(v) for k, v in by_split.items()}},
            "warnings": ledger.warnings,
            "groups": {
                "total": outcome.groups_total,
                "crossing_existing_splits": outcome.groups_crossing_existing,
            },
        }

    folder = out or root / STAGE / key
    return artifacts.run_stage(
        STAGE, STAGE_VERSION, key, folder, build, PreparedData.load, config=config, force=force
    )


def _check_rejections(ledger: Ledger, config: PrepareConfig) -> None:
    """Nothing kept, or (`strict`) too much rejected, fails before anything is written; else a warning."""
    counts = ledger.counts()
    if counts["in"] == 0:
        raise NothingUsable("prepare read no records: the input files are empty (or hold only blank lines)")
    share = counts["rejected"] / counts["in"]
    limit = config.filters.max_rejected_share
    summary = (
        f"{counts['kept']} of {counts['in']} input records kept ({counts['duplicates']} duplicates, "
        f"{counts['rejected']} rejected, {share:.0%})"
    )
    if counts["kept"] == 0:
        raise NothingUsable(
            f"prepare kept nothing: {summary}.\n{_top_reasons(ledger)}\n"
            "Each example says what to change: fix the inputs or the source settings and rerun."
        )
    if share > limit:
        message = f"{summary}, more than filters.max_rejected_share = {limit:.0%}.\n{_top_reasons(ledger)}"
        if config.strict:
            raise NothingUsable(
                f"{message}\nFix the inputs, or run without --strict (`strict: false`) to keep the rest "
                "and list every rejection in quarantine.jsonl."
            )
        ledger.warnings.append(f"{message}\nEvery rejection is listed in quarantine.jsonl.")


def _top_reasons(ledger: Ledger) -> str:
    """The most common rejection reasons with their counts and the first example of each."""
    first: dict[str, dict[str, Any]] = {}
    for rejection in ledger.rejections:
        first.setdefault(rejection["reason"], rejection)
    by_count = Counter(ledger.rejected_by_reason).most_common(TOP_REASONS)
    lines = [
        f"  {reason} × {n}, e.g. {first[reason]['file']}:{first[reason]['line']}: {first[reason]['detail']}"
        for reason, n in by_count
    ]
    return "top rejection reasons:\n" + "\n".join(lines)


def _check_sources(config: PrepareConfig) -> None:
    """At least one source, at most one of each synthetic corpus (its input identity is its name), and
    languages the filters keep: checked before any reading, so a typo costs no time."""
    languages = config.filters.languages
    for source in config.sources:
        if source.language is not None and source.language.lower() not in languages:
            raise ConfigError(
                f"source language {source.language!r} is not one of filters.languages {languages}: "
                "use one of those, or add it to `filters.languages`"
            )
    synthetic = [source.synthetic[0] for source in config.sources if source.synthetic is not None]
    for kind in set(synthetic):
        if synthetic.count(kind) > 1:
            raise ConfigError(f"prepare.sources holds more than one {kind} source: keep one")
    if not config.sources:
        raise ConfigError(
            "prepare.sources is empty: give a JSONL file (`polyalign prepare FILE`), a registered corpus "
            "(`--corpus NAME`), or sources in the config (`sources: [{path: data.jsonl}]`, `[{hf: NAME}]`, "
            "`[{corpus: NAME}]`); for the built-in synthetic corpus use `--fixture 0` or `[{fixture: 0}]`"
        )


def _input_identity(config: PrepareConfig) -> dict[str, str]:
    """Checksums of every input file (and the names of datasets), which go into the key and manifest."""
    _check_sources(config)
    identity = {}
    for source in config.sources:
        if source.synthetic is not None:
            kind, seed = source.synthetic
            identity[kind] = f"polyalign-{kind} seed={seed} code={_synthetic_code()}"
        elif source.path is not None:
            for path in resolve_paths(source.path):
                identity[str(path)] = "sha256:" + artifacts.file_sha256(path)
        elif source.corpus is not None:
            identity.update(corpus_identity(source))
        else:
            identity[f"hf:{source.hf}"] = f"config={source.hf_config} split={source.hf_split}"
    return identity


def collect_records(config: PrepareConfig, ledger: Ledger, progress: bool = True) -> list[Record]:
    """Load, normalise, check and deduplicate every input; each input item is accounted for in `ledger`."""
    records = _drop_duplicates(_admit_all(_iter_inputs(config), config, ledger, progress), ledger)
    ledger.kept = len(records)
    ledger.merged_turns = sum(1 for record in records if record.meta.get("merged_turns"))
    return records


def split_records(records: list[Record], config: PrepareConfig) -> SplitOutcome:
    """Give every record its group and split (in place)."""
    groups = find_groups(records, config.splits)
    outcome = assign_splits(records, groups, config.splits)
    for record, split, group in zip(records, outcome.splits, groups, strict=True):
        record.split, record.group = split, group
    return outcome


def label_buckets(
    records: list[Record], config: PrepareConfig
) -> tuple[dict[str, tuple[float, ...]], BackOff]:
    """Length bin, bucket and reference bucket of every record (in place); needs the splits first."""
    edges = _length_edges(records, config)
    for record in records:
        record.length_bin = length_bin(record.length_units or 0, edges[str(record.language)])
        record.bucket = str(BucketKey.parse(record.cell).with_bin(record.length_bin))
    back_off = plan_back_off(
        (r.bucket for r in records if r.split == "train" and r.bucket),
        (r.bucket or "" for r in records),
        config.buckets.min_bucket_size,
    )
    for record in records:
        record.reference_bucket = back_off.reference[record.bucket or ""]
    return edges, back_off


def _iter_inputs(config: PrepareConfig) -> Iterator[LoadedItem]:
    """Every item of every source, in order: each source kind goes to its reader."""
    _check_sources(config)
    for source in config.sources:
        if source.synthetic is not None:
            yield from _iter_synthetic(*source.synthetic)
        elif source.corpus is not None:
            yield from iter_corpus(source)
        else:
            yield from iter_source(source)


SYNTHETIC = {"fixture": make_fixture_corpus, "demo": make_demo_corpus}


def _synthetic_code() -> str:
    """A checksum of the synthetic corpora's code: the corpus a seed gives changes only with it."""
    folder = Path(make_demo_corpus.__code__.co_filename).parent
    return artifacts.artifact_key(
        "synthetic", 1, *(file.read_text(encoding="utf-8") for file in sorted(folder.glob("*.py")))
    )


def _iter_synthetic(kind: str, seed: int) -> Iterator[LoadedItem]:
    name = f"<{kind} seed={seed}>"
    for line, record in enumerate(SYNTHETIC[kind](seed), start=1):
        record.meta["input"] = f"{name}:{line}"
        yield LoadedItem(Origin(name, line), record, None, "")


def _admit_all(
    items: Iterable[LoadedItem], config: PrepareConfig, ledger: Ledger, progress: bool
) -> list[tuple[Record, Origin]]:
    kept = []
    splits = _SplitNames(config)
    languages = _LanguageCheck(config)
    for item in tqdm(items, desc="prepare", unit=" rec", disable=None if progress else True):
        ledger.see(item.origin.file)
        try:
            if item.error is not None:
                raise item.error
            record: Record = item.record  # type: ignore[assignment]
            given_language = record.language
            kept.append((admit(record, config), item.origin))
        except RecordError as error:
            raw = item.raw or json.dumps(item.record.to_dict() if item.record else {}, ensure_ascii=False)
            record_id = item.record.id if item.record else item.record_id
            ledger.reject(item.origin.file, item.origin.line, error.reason, error.detail, raw, record_id)
            continue
        splits.resolve(record)
        if given_language is not None:
            languages.check(record, item.origin)
    ledger.warnings += splits.finish() + languages.finish()
    return kept


class _SplitNames:
    """Maps the split names found in the data to ours (`splits.names`, then the aliases).

    Other names are an error when existing splits are respected (the message shows the mapping that
    fixes it); otherwise they are dropped with a notice and the splitter places those records.
    """

    def __init__(self, config: PrepareConfig) -> None:
        self.config = config.splits
        self.unknown: Counter[str] = Counter()

    def resolve(self, record: Record) -> None:
        if record.split is None:
            return
        ours = canonical_split(record.split, self.config.names)
        if ours is None:
            self.unknown[record.split] += 1
        record.split = ours

    def finish(self) -> list[str]:
        if not self.unknown:
            return []
        ordered = sorted(self.unknown.items(), key=lambda item: (-item[1], item[0]))
        found = ", ".join(f"{name!r} × {n}" for name, n in ordered)
        if not self.config.respect_existing:
            return [f"split names {found} are not ours (ignored: splits.respect_existing is false)"]
        mapping = "\n".join(f"      {name}: val" for name in sorted(self.unknown))
        raise ConfigError(
            f"records name splits that are not {list(SPLITS)} nor an alias of one: {found}. "
            f"Map each to train, val or test in the config:\nprepare:\n  splits:\n    names:\n{mapping}\n"
            "(or set `splits.respect_existing: false` to split those records afresh)"
        )


class _LanguageCheck:
    """Counts records whose given language offline detection confidently contradicts."""

    def __init__(self, config: PrepareConfig) -> None:
        self.config = config
        self.given = 0
        self.disagree: Counter[tuple[str, str]] = Counter()
        self.example: dict[tuple[str, str], Origin] = {}
        self.detected: dict[tuple[str, str], str | None] = {}  # by (last user turn, response)

    def check(self, record: Record, origin: Origin) -> None:
        """Detection runs once per distinct text: repeated records (duplicates) cost a lookup."""
        self.given += 1
        last_user = next(m.content for m in reversed(record.messages) if m.role == "user")
        text = (last_user, record.response)
        if text not in self.detected:
            self.detected[text] = _detect(record, self.config).language
        detected = self.detected[text]
        if detected is not None and detected != record.language:
            pair = (str(record.language), detected)
            self.disagree[pair] += 1
            self.example.setdefault(pair, origin)

    def finish(self) -> list[str]:
        total = sum(self.disagree.values())
        if total <= LANGUAGE_DISAGREEMENT_SHARE * self.given:
            return []
        pairs = ", ".join(
            f"given {given}, detected {detected} × {n} (e.g. {self.example[(given, detected)]})"
            for (given, detected), n in self.disagree.most_common(TOP_REASONS)
        )
        return [
            f"{total} of {self.given} records with a given language read as another: {pairs}. "
            "Check the `language` of those sources (`--language`), or leave it out to detect it"
        ]


def admit(record: Record, config: PrepareConfig) -> Record:
    """Normalise, check and label one record; raises RecordError with the reason it cannot be kept."""
    filters = config.filters
    response_chars = len(record.response)
    if response_chars > filters.max_response_chars:
        raise RecordError(
            "over_long",
            f"response has {response_chars} characters (max_response_chars = {filters.max_response_chars})",
        )
    total_chars = sum(len(m.content) for m in record.messages)
    if total_chars > filters.max_conversation_chars:
        raise RecordError(
            "over_long",
            f"conversation has {total_chars} characters (max_conversation_chars = "
            f"{filters.max_conversation_chars})",
        )
    record.messages = normalize_messages(record.messages)
    validate_messages(record.messages)  # normalising can empty a response made of invisible characters
    _label_language(record, config)
    if record.track is None:
        record.track = track_from_turns(record.n_user_turns)
    elif record.track not in TRACKS:
        raise RecordError("schema", f"track {record.track!r} is not one of {list(TRACKS)}")
    family = record.family or config.buckets.families.get(record.source)
    if family is None:
        raise RecordError(
            "missing_family",
            f"no family for source {record.source!r}: give `family` (one of {list(FAMILIES)}) in the "
            "record or the source config (`--family`), or map the source in `buckets.families`",
        )
    record.family = config.buckets.coarsen.get(family, family)
    record.length_units = length_units(record.response)
    return record


def _label_language(record: Record, config: PrepareConfig) -> None:
    filters = config.filters
    if record.language is None:
        detection = _detect(record, config)
        if detection.language is None:
            raise RecordError(
                f"{detection.status}_language",
                f"language not given and detection says {detection.status} "
                f"(score {detection.confidence:.2f}): set `language` in the record or the source config",
            )
        record.language = detection.language
        record.meta["language_detected"] = round(detection.confidence, 3)
    record.language = record.language.lower()
    if record.language not in filters.languages:
        raise RecordError(
            "unsupported_language",
            f"language {record.language!r} is not in filters.languages {filters.languages}",
        )


def _detect(record: Record, config: PrepareConfig) -> Detection:
    """Offline language detection on the last user turn and the response."""
    last_user = next(m.content for m in reversed(record.messages) if m.role == "user")
    return detect_language(
        last_user + "\n" + record.response,
        mixed_share=config.filters.mixed_share,
        min_confidence=config.filters.min_language_confidence,
    )


def _drop_duplicates(records: list[tuple[Record, Origin]], ledger: Ledger) -> list[Record]:
    """Keep the first of each normalised (prompt, response); a reused id with other content is rejected."""
    first_by_content: dict[str, str] = {}
    ids: set[str] = set()
    kept = []
    for record, origin in records:
        key = dedup_key(record)
        if key in first_by_content:
            ledger.duplicate(origin.file, origin.line, record.id, first_by_content[key])
            continue
        if record.id in ids:
            ledger.reject(
                origin.file,
                origin.line,
                "duplicate_id",
                f"id {record.id!r} is already used by a different record",
                json.dumps(record.to_dict(), ensure_ascii=False),
                record.id,
            )
            continue
        first_by_content[key] = record.id
        ids.add(record.id)
        kept.append(record)
    return kept


def _length_edges(records: list[Record], config: PrepareConfig) -> dict[str, tuple[float, ...]]:
    """Edges per language: the configured fixed edges, or quantiles of the train lengths."""
    languages = sorted({str(r.language) for r in records})
    fixed = tuple(config.buckets.fixed_edges) if config.buckets.fixed_edges else PAPER_EDGES
    if config.buckets.edges == "fixed":
        return dict.fromkeys(languages, fixed)
    units: dict[str, list[int]] = defaultdict(list)
    for record in records:
        if record.split == "train":
            units[str(record.language)].append(record.length_units or 0)
    fitted = fit_quantile_edges(units, config.buckets.quantiles)
    missing = [lang for lang in languages if lang not in fitted]
    if missing:
        raise PolyAlignError(
            f"quantile length edges need train records in every language; none for {missing}. "
            "Use `buckets.edges: fixed` or add training data"
        )
    return fitted


def _buckets_artifact(edges: dict[str, tuple[float, ...]], back_off: BackOff, config: PrepareConfig) -> dict:
    return {
        "length_bins": list(LENGTH_BINS),
        "edges_mode": config.buckets.edges,
        "edges": {lang: list(e) for lang, e in edges.items()},
        "min_bucket_size": back_off.min_size,
        "train_counts": dict(sorted(back_off.train_counts.items())),
        "reference_bucket": dict(sorted(back_off.reference.items())),
        "backed_off": back_off.backed_off,
        "sparse_cells": back_off.sparse_cells,
        "coarsen": config.buckets.coarsen,
    }
