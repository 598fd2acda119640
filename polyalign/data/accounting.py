"""The ledger that accounts for every input record: kept, duplicate, or rejected with a reason.

`prepare` refuses to write an artefact whose counts do not reconcile (in = kept + duplicates + rejected),
so nothing can be lost silently. Rejections keep file, line, reason, detail and the raw input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

RAW_EXCERPT_CHARS = 2_000


@dataclass
class Ledger:
    seen: int = 0
    kept: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    seen_by_file: Counter[str] = field(default_factory=Counter)
    merged_turns: int = 0  # kept records in which consecutive turns of one speaker were joined
    warnings: list[str] = field(default_factory=list)  # what the user should look at, though nothing failed

    def see(self, file: str) -> None:
        self.seen += 1
        self.seen_by_file[file] += 1

    def reject(
        self, file: str, line: int, reason: str, detail: str, raw: str, record_id: str | None = None
    ) -> None:
        excerpt = raw if len(raw) <= RAW_EXCERPT_CHARS else raw[:RAW_EXCERPT_CHARS] + f"…[{len(raw)} chars]"
        self.rejections.append(
            {"file": file, "line": line, "id": record_id, "reason": reason, "detail": detail, "raw": excerpt}
        )

    def duplicate(self, file: str, line: int, record_id: str, kept_id: str) -> None:
        self.duplicates.append({"file": file, "line": line, "id": record_id, "duplicate_of": kept_id})

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(r["reason"] for r in self.rejections).items()))

    @property
    def reconciles(self) -> bool:
        return self.seen == self.kept + len(self.duplicates) + len(self.rejections)

    def counts(self) -> dict[str, Any]:
        return {
            "in": self.seen,
            "kept": self.kept,
            "duplicates": len(self.duplicates),
            "rejected": len(self.rejections),
            "rejected_by_reason": self.rejected_by_reason,
            "merged_turns": self.merged_turns,
            "in_by_file": dict(sorted(self.seen_by_file.items())),
            "reconciles": self.reconciles,
        }
