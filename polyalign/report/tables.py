"""Cell text shared by the Markdown and HTML reports: numbers, intervals, differences, directions."""

from __future__ import annotations

import math
from typing import Any

from polyalign.evaluate.compare import Run
from polyalign.evaluate.registry import Metric

ARROWS = {"higher": "↑", "lower": "↓", "closer_to_human": "≈H"}


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float | int) else str(value)


def fmt_ci(entry: dict[str, Any], key: str = "value", low: str = "low", high: str = "high") -> str:
    if entry.get(key) is None:
        return "n/a" + (f" ({entry['na']})" if entry.get("na") else "")
    text = fmt(entry[key])
    if entry.get(low) is not None and entry.get(high) is not None:
        text += f" [{fmt(entry[low])}, {fmt(entry[high])}]"
    return text


def fmt_diff(d: dict[str, Any]) -> str:
    if "na" in d:
        return f"n/a ({d['na']})"
    if "threshold" in d:
        return f"{d['diff']:+.3f} (noise ±{d['threshold']:.3f}): {d['verdict']}"
    interval = f" [{d['low']:+.3f}, {d['high']:+.3f}]" if d.get("low") is not None else ""
    return f"{d['diff']:+.3f}{interval} {d['verdict']}"


def macro_text(run: Run, metric: Metric) -> str:
    entry = run.metrics.get(metric.name)
    if entry is None:
        return "–"
    if entry.get("na") and "macro" not in entry:
        return f"n/a ({entry['na']})"
    if metric.kind == "cell":
        macro = entry.get("macro", {})
        return f"global {fmt(macro.get('global'))}; C-MAUVE {fmt(macro.get('value'))} ({macro.get('n_cells', 0)} cells)"
    return fmt_ci(entry.get("macro", {}))
