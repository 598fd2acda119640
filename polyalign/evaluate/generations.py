"""Generations as the evaluate stage reads them: one file checked against the test split, or the humans.

Reads a generations JSONL (`{"id", "response", ...}` per line, as `polyalign generate` writes it, or
any file of that shape) and checks it against the test split: unparsable lines, duplicate ids, ids that
are not test records, non-string responses and missing ids are collected and raised as one error that
names the file, lines and ids, so that one run shows all there is to fix (missing ids are allowed only
with `allow_missing`, and the run is then marked partial). Empty responses
are kept and scored as given (a model that says nothing fails), and counted. The human test responses
are a method too (`human_generations`, `human_split`). Writes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polyalign import artifacts
from polyalign.data.records import Record
from polyalign.errors import InputError

SHOWN_IDS = 10


class GenerationsError(InputError):
    """A generations file that cannot be evaluated as it is; the message lists every fault with file:line."""


@dataclass
class Generations:
    """Responses keyed by record id, with where they came from (model, decoding, profile mode)."""

    responses: dict[str, str]
    provenance: dict[str, Any]
    profiles: dict[str, Any] = field(default_factory=dict)  # id -> the profile the prompt stated
    # id -> the record whose human response (and prompt) is the human side of that row; empty: every
    # record's own gold response. Only the human split pairs a row with another record.
    partners: dict[str, Record] = field(default_factory=dict)


def _line_fault(row: Any) -> tuple[str, str] | None:
    """(kind, what is wrong) of a parsed line that is not a usable generation, or None when it is."""
    if not isinstance(row, dict):
        return "unparsable", f"expected a JSON object, got {type(row).__name__}"
    record_id, response = row.get("id"), row.get("response")
    if not isinstance(record_id, str | int) or isinstance(record_id, bool) or record_id == "":
        return "invalid id", "missing or invalid 'id' (a non-empty string)"
    if not isinstance(response, str):
        return "wrong type", (
            f"'response' of id {record_id!r} must be a string, got {type(response).__name__}"
            " (an empty response is the empty string)"
        )
    return None


def _fault_report(file: Path, faults: dict[str, list[str]]) -> str:
    """Every kind of fault with its count and first examples, so that one run shows all there is to fix."""
    lines = [f"{file}: {sum(map(len, faults.values()))} fault(s); fix them all, then rerun:"]
    for kind, items in faults.items():
        more = f" (and {len(items) - SHOWN_IDS} more)" if len(items) > SHOWN_IDS else ""
        lines.append(f"  {len(items)} {kind}: {'; '.join(items[:SHOWN_IDS])}{more}")
    return "\n".join(lines)


def coverage_faults(known: set[str], present: set[str], allow_missing: bool) -> dict[str, list[str]]:
    """Ids that are not records of the evaluated split, and (unless allowed) records without a generation."""
    faults: dict[str, list[str]] = {}
    if unknown := sorted(present - known):
        faults["unknown id(s), not records of the evaluated split (generated for another split or another "
               "prepared dataset?)"] = [repr(i) for i in unknown]  # fmt: skip
    missing = sorted(known - present)
    if missing and not allow_missing:
        faults[
            f"of {len(known)} test record(s) have no generation (every method is evaluated on the full test "
            "set; regenerate, or pass --allow-missing to evaluate the ids present, marked partial)"
        ] = [repr(i) for i in missing]
    return faults


def read_generations(
    path: Path, records: Sequence[Record] | None = None, allow_missing: bool = False
) -> Generations:
    """Read and check a generations JSONL (or a generate artefact folder holding generations.jsonl).

    Every fault is collected (unparsable lines, invalid ids, wrong types, duplicates, mixed settings and,
    given the evaluated `records`, unknown and missing ids) and raised as one error naming file and lines.
    """
    folder = path if path.is_dir() else path.parent
    file = path / "generations.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise GenerationsError(
            f"no generations file at {file}: give a JSONL file or a generate artefact folder"
        )
    responses: dict[str, str] = {}
    profiles: dict[str, Any] = {}
    lines: dict[str, list[int]] = {}
    settings: Counter[str] = Counter()
    faults: dict[str, list[str]] = {}
    with file.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            fault: tuple[str, str] | None
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as error:
                fault = ("unparsable", f"byte {error.start + 1} is not UTF-8 (write the file as UTF-8)")
            except json.JSONDecodeError as error:
                fault = ("unparsable", f"not valid JSON ({error.msg} at column {error.colno})")
            else:
                fault = _line_fault(row)
            if fault is not None:
                faults.setdefault(f"{fault[0]} line(s)", []).append(f"{file}:{line_no}: {fault[1]}")
                continue
            record_id = str(row["id"])
            lines.setdefault(record_id, []).append(line_no)
            if len(lines[record_id]) == 1:
                responses[record_id], profiles[record_id] = row["response"], row.get("profile")
                settings[json.dumps({k: row.get(k) for k in ("model", "decoding")}, sort_keys=True)] += 1
    duplicates = [f"{i!r} (lines {', '.join(map(str, n))})" for i, n in lines.items() if len(n) > 1]
    if duplicates:
        faults["duplicate id(s), keep one generation per record (each record is paired with exactly one "
               "response)"] = duplicates  # fmt: skip
    if len(settings) > 1:
        kind = f"file whose rows mix {len(settings)} model/decoding settings (a run: one model, one decoding)"
        faults[kind] = [f"first two: {list(settings)[:2]}"]
    if records is not None:
        faults.update(coverage_faults({r.id for r in records}, set(responses), allow_missing))
    if faults:
        raise GenerationsError(_fault_report(file, faults))
    if not responses:
        raise GenerationsError(f"{file}: no generations (the file is empty)")
    provenance: dict[str, Any] = {
        "file": str(file),
        "sha256": artifacts.file_sha256(file),
        "rows": len(responses),
    }
    shared = json.loads(next(iter(settings)))
    provenance.update({k: v for k, v in shared.items() if v is not None})
    if artifacts.is_complete(folder) and artifacts.read_manifest(folder).get("stage") == "generate":
        manifest = artifacts.read_manifest(folder)
        provenance["generate"] = {
            k: manifest.get(k) for k in ("key", "config", "model", "parents", "leak_guard")
        }
    return Generations(responses, provenance, profiles)


def human_generations(records: Sequence[Record]) -> Generations:
    """The human test responses as a 'method': the ceiling of utility and the exact-match identity."""
    return Generations({r.id: r.response for r in records}, {"method": "human (gold responses themselves)"})


def human_split(records: Sequence[Record], seed: int = 0) -> tuple[list[Record], Generations]:
    """Human versus human: each bucket's records are split in two halves at random. Half A plays the
    model: its rows are half A's own human responses to half A's own prompts; each is paired with a
    record of half B of the same bucket, whose response and prompt are the human side. So every
    distributional metric, TDM included (each response couples to its own prompt), shows its true human
    floor (MAUVE ≈ 1, BNG ≈ 0, AUC ≈ 0.5); utility has no gold here and is n/a. Buckets with a single
    record are dropped (nothing to pair with)."""
    rng = np.random.default_rng([seed, 11])
    by_bucket: dict[str, list[Record]] = {}
    for record in sorted(records, key=lambda r: r.id):
        by_bucket.setdefault(str(record.bucket), []).append(record)
    evaluated: list[Record] = []
    partners: dict[str, Record] = {}
    for bucket in sorted(by_bucket):
        members = by_bucket[bucket]
        order = rng.permutation(len(members))
        half = len(members) // 2
        for a, b in zip(order[:half], order[half : 2 * half], strict=True):
            evaluated.append(members[a])
            partners[members[a].id] = members[b]
    responses = {r.id: r.response for r in evaluated}
    provenance = {
        "method": f"human re-split (per bucket, half A's own responses against half B's, seed {seed})"
    }
    return sorted(evaluated, key=lambda r: r.id), Generations(responses, provenance, partners=partners)


def check_coverage(
    records: Sequence[Record], generations: Generations, allow_missing: bool
) -> tuple[list[Record], list[str]]:
    """The records to evaluate (those with a generation) and the ids missing; unknown ids are errors."""
    known = {r.id for r in records}
    faults = coverage_faults(known, set(generations.responses), allow_missing)
    if faults:
        raise GenerationsError(
            _fault_report(Path(str(generations.provenance.get("file", "generations"))), faults)
        )
    missing = sorted(known - set(generations.responses))
    return sorted((r for r in records if r.id in generations.responses), key=lambda r: r.id), missing


def run_name(generations: Path) -> str:
    """The name a generations file is shown under: its stem, or its folder's name for `generations.jsonl`
    (a generate artefact), whose stem names nothing."""
    stem = generations.stem
    return generations.resolve().parent.name if stem == "generations" else stem


def unique_names(names: Sequence[str]) -> list[str]:
    """Names made unique in order, a repeat numbered by its occurrence: a second 'sft' becomes 'sft (2)'."""
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
