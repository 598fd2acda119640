"""The pair report: per bucket, every prompt × sample accounted for (kept, or dropped with its reason),
how often the rejected response is further from human support than the chosen one, the distributions of
d_c and d_r, and the weight range. Reads pair rows; writes nothing (the stage writes JSON and Markdown).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from polyalign.data.bucket_report import table_code
from polyalign.train.data import PROMPT_TOO_LONG

DROP_REASONS = ("empty", "identical", PROMPT_TOO_LONG)
TOTAL = "all"


def _summary(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {"mean": None, "q10": None, "q50": None, "q90": None}
    q10, q50, q90 = np.quantile(values, [0.1, 0.5, 0.9])
    return {"mean": float(values.mean()), "q10": float(q10), "q50": float(q50), "q90": float(q90)}


def _group(kept: Sequence[dict[str, Any]], dropped: Sequence[dict[str, Any]]) -> dict[str, Any]:
    d_c = np.array([r["d_chosen"] for r in kept], dtype=float)
    d_r = np.array([r["d_rejected"] for r in kept], dtype=float)
    weight = np.array([r["weight"] for r in kept], dtype=float)
    reasons = [r["reason"] for r in dropped]
    return {
        "candidates": len(kept) + len(dropped),
        "n": len(kept),
        "dropped": {reason: reasons.count(reason) for reason in DROP_REASONS},
        "truncated": sum(bool(r["truncated"]) for r in kept),  # rejected responses cut by max_new_tokens
        "share_rejected_further": float(np.mean(d_r > d_c)) if kept else None,
        "d_chosen": _summary(d_c),
        "d_rejected": _summary(d_r),
        "weight": {
            "min": float(weight.min()) if kept else None,
            "max": float(weight.max()) if kept else None,
            "mean": float(weight.mean()) if kept else None,
        },
    }


def build_pair_report(kept: Sequence[dict[str, Any]], dropped: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """{"buckets": {bucket: group}, "all": group}; a group's candidates = n + its drops, always."""
    by_bucket: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = defaultdict(lambda: ([], []))
    for row in kept:
        by_bucket[row["bucket"]][0].append(row)
    for row in dropped:
        by_bucket[row["bucket"]][1].append(row)
    return {
        "buckets": {b: _group(*by_bucket[b]) for b in sorted(by_bucket)},
        TOTAL: _group(kept, dropped),
    }


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def pair_report_markdown(report: dict[str, Any], title: str) -> str:
    """One row per bucket and one for all pairs: counts, drops, d_c and d_r (mean [q10, q50, q90])."""
    head = ["bucket", "candidates", "n", "empty", "identical", "prompt too long", "truncated", "d_r > d_c",
            "d_c mean [q10 q50 q90]", "d_r mean [q10 q50 q90]", "weight min-max"]  # fmt: skip
    rows = []
    for name, group in [*report["buckets"].items(), (TOTAL, report[TOTAL])]:
        spread = [
            f"{_number(s['mean'])} [{_number(s['q10'])} {_number(s['q50'])} {_number(s['q90'])}]"
            for s in (group["d_chosen"], group["d_rejected"])
        ]
        weight = group["weight"]
        rows.append(
            [name, str(group["candidates"]), str(group["n"]),
             *(str(group["dropped"][reason]) for reason in DROP_REASONS), str(group["truncated"]),
             _number(group["share_rejected_further"]), *spread,
             f"{_number(weight['min'])}-{_number(weight['max'])}"]
        )  # fmt: skip
    lines = [f"# {title}", "", "Chosen: the human response; rejected: a sample of the start policy.", ""]
    lines += ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    lines += ["| " + " | ".join([table_code(row[0]), *row[1:]]) + " |" for row in rows]
    return "\n".join([*lines, ""])
