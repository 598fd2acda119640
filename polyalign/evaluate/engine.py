"""The evaluation engine: aligned data of the evaluated records → every metric per bucket, with intervals.

Every registered metric is computed per bucket (context cell + the human reference's length bin) with a
bootstrap interval over records, macro-averaged over the buckets with at least `macro_min_rows` records
beside the record-weighted mean over all of them, and, where meaningful, beside the same statistic of the
human side (the held-out human floor). A bucket whose reference borrowed its cell's length-nearest
responses is marked. Utility needs the gold answer to each prompt, so it is n/a for the human split,
whose human side answers others.
MAUVE is global and per context cell (C-MAUVE, >= 50 rows per side) with the human re-split noise band. A
bucket with too few rows, or whose value is undefined, is `n/a` with the reason its registry entry gives; a
metric that raises is a `MetricError` naming the metric and the bucket. `aggregate` is the one per-bucket
bootstrap (the judge's scores go through it too). Also assembles the data the report plots (lengths, a 2-D
embedding map, buckets by own length). Writes only the embedding cache (`cached_encode`); the results
artefact is `results.py`'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from polyalign import artifacts
from polyalign.data.buckets import BucketKey, length_bin
from polyalign.data.records import Record
from polyalign.errors import PolyAlignError
from polyalign.evaluate.config import EvalConfig
from polyalign.evaluate.data import EvalData
from polyalign.evaluate.distribution import LENGTH_EDGES
from polyalign.evaluate.generations import SHOWN_IDS, Generations, check_coverage
from polyalign.evaluate.registry import Metric, select
from polyalign.evaluate.results import MACRO, STAGE, STAGE_VERSION, EvalResult, versions
from polyalign.evaluate.stats import bootstrap_positions, bucket_rng, centred_ci, macro_average, percentile_ci
from polyalign.reference.embedders import Embedder
from polyalign.reference.features import FEATURE_INDEX, extract
from polyalign.reference.reference import HumanReference

NO_GOLD = (
    "human split: no gold to score against (half A's answers are themselves the gold of their prompts, "
    "so utility would be 1 by construction; half B's answer other prompts)"
)


class MetricError(PolyAlignError):
    """A registered metric raised: a bug or an input it does not handle, never an n/a cell."""


def cached_encode(embedder: Embedder, texts: Sequence[str], cache_dir: Path | None) -> np.ndarray:
    """Embeddings of `texts`, cached as .npy under `cache_dir` by a hash of the embedder and the texts."""
    if cache_dir is None or not texts:
        return np.asarray(embedder.encode(list(texts)), dtype=np.float32)
    digest = hashlib.sha256(embedder.name.encode())
    for text in texts:
        digest.update(b"\x1f" + text.encode("utf-8"))
    path = cache_dir / f"{digest.hexdigest()[:24]}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    matrix = np.asarray(embedder.encode(list(texts)), dtype=np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(f".{time.time_ns()}.tmp.npy")
    np.save(staging, matrix, allow_pickle=False)
    staging.replace(path)
    return matrix


def last_user_turn(record: Record) -> str:
    return next((m.content for m in reversed(record.prompt_messages) if m.role == "user"), "")


def build_eval_data(
    records: Sequence[Record],
    generations: Generations,
    reference: HumanReference,
    edges: dict[str, list[float]],
    *,
    embedder: Embedder | None = None,
    train_records: Sequence[Record] = (),
    config: EvalConfig | None = None,
    cache_dir: Path | None = None,
) -> tuple[EvalData, dict[str, float]]:
    """Aligned arrays of the evaluated records; embeddings (timed separately) when an embedder is given."""
    config = config or EvalConfig()
    records = sorted(records, key=lambda r: r.id)
    if any(r.bucket is None or r.language is None for r in records):
        raise PolyAlignError(
            "evaluate needs prepared records (with bucket and language): run `polyalign prepare`"
        )
    languages = [str(r.language) for r in records]
    model = [generations.responses[r.id] for r in records]
    partners = [generations.partners.get(r.id, r) for r in records]  # the human side of each row
    human = [p.response for p in partners]
    start = time.perf_counter()
    data = EvalData(
        ids=[r.id for r in records],
        buckets=[str(r.bucket) for r in records],
        languages=languages,
        tracks=[str(r.track) for r in records],
        model=model,
        human=human,
        user=[last_user_turn(r) for r in records],
        human_user=[last_user_turn(p) for p in partners],
        model_x=extract(model, languages),
        human_x=extract(human, languages),
        reference=reference,
        ref_keys=[reference.resolve(str(r.bucket)) for r in records],
        edges=edges,
        paired=not generations.partners,
        seed=config.seed,
        auc_folds=config.auc_folds,
        auc_repeats=config.auc_repeats,
    )
    timings = {"features_s": time.perf_counter() - start, "embedding_s": 0.0, "embedded_texts": 0}
    if embedder is not None:
        start = time.perf_counter()
        data.model_emb = cached_encode(embedder, model, cache_dir)
        data.human_emb = cached_encode(embedder, human, cache_dir)
        multi = [i for i, t in enumerate(data.tracks) if t == "multi"]
        data.user_emb = _user_embeddings(embedder, data.user, multi, data.human_emb, cache_dir)
        data.human_user_emb = (
            data.user_emb
            if data.paired
            else _user_embeddings(embedder, data.human_user, multi, data.human_emb, cache_dir)
        )
        embedded = 2 * len(records) + len(multi) * (1 if data.paired else 2)
        for cell, size in Counter(data.cells).items():
            if size < config.mauve_min_rows:
                continue
            pool = sorted((r for r in train_records if r.cell == cell), key=lambda r: r.id)
            if pool:
                chosen = np.random.default_rng([config.seed, 5]).permutation(len(pool))[:size]
                texts = [pool[i].response for i in sorted(chosen)]
                data.pool_emb[cell] = cached_encode(embedder, texts, cache_dir)
                embedded += len(texts)
        timings["embedding_s"] = time.perf_counter() - start
        timings["embedded_texts"] = embedded
    return data, timings


def _user_embeddings(
    embedder: Embedder, users: list[str], multi: list[int], like: np.ndarray, cache_dir: Path | None
) -> np.ndarray:
    """Embeddings of the user turns of multi-turn rows (TDM); zeros elsewhere."""
    out = np.zeros_like(like)
    if multi:
        out[multi] = cached_encode(embedder, [users[i] for i in multi], cache_dir)
    return out


def compute_metrics(
    data: EvalData, config: EvalConfig, metrics: Sequence[Metric] | None = None
) -> EvalResult:
    """Every metric per bucket with bootstrap intervals, macro-averages, MAUVE/C-MAUVE with noise bands."""
    metrics = list(metrics) if metrics is not None else select(config.metrics)
    start = time.perf_counter()
    rows, positions = bootstrap_rows(data.buckets, config.seed, config.bootstrap)
    out: dict[str, Any] = {}
    draws: dict[str, Any] = {}
    items: dict[str, dict[str, np.ndarray]] = {}
    na: list[dict[str, str]] = []
    seconds: dict[str, float] = {}
    for metric in metrics:
        started = time.perf_counter()
        entry: dict[str, Any] = {
            "group": metric.group,
            "kind": metric.kind,
            "direction": metric.direction,
            "ideal": metric.ideal,
            "description": metric.description,
        }
        if metric.needs_embeddings and data.model_emb is None:
            entry["na"] = "no embedder configured (evaluate.embedder)"
        elif metric.needs_gold and not data.paired:
            entry["na"] = NO_GOLD
        elif metric.kind == "cell":
            entry.update(metric.fn(data, config))  # type: ignore[misc]
        else:
            metric_draws = _bucket_entries(metric, data, rows, positions, config, entry, items)
            draws[metric.name] = metric_draws
            if metric.cells is not None:
                entry["cells"] = metric.cells(data)
        for scope, value in [("macro", entry.get("macro", {})), *entry.get("buckets", {}).items()]:
            if isinstance(value, dict) and value.get("na"):
                na.append({"metric": metric.name, "scope": scope, "reason": value["na"]})
        if entry.get("na"):
            na.append({"metric": metric.name, "scope": "all", "reason": entry["na"]})
        out[metric.name] = entry
        seconds[metric.name] = round(time.perf_counter() - started, 3)
    elapsed = time.perf_counter() - start
    results = {
        "metrics": out,
        "na": na,
        "buckets": {
            b: {"n": len(r), "ids_sha256": _ids_hash([data.ids[i] for i in r])} for b, r in rows.items()
        },
        "plots": _plot_data(data, config),
        "by_own_length": _by_own_length(data),
        "timings_per_metric": seconds,
    }
    per_item = _per_item_rows(data, items)
    return EvalResult(
        results,
        {"seed": config.seed, "draws": config.bootstrap, "metrics": draws},
        per_item,
        {"metrics_s": elapsed},
    )


def _bucket_entries(
    metric: Metric,
    data: EvalData,
    rows: dict[str, np.ndarray],
    positions: dict[str, np.ndarray],
    config: EvalConfig,
    entry: dict[str, Any],
    items: dict[str, dict[str, np.ndarray]],
) -> dict[str, list[float | None]]:
    """Per-bucket values, intervals and human values of an item or set metric; returns the model draws."""
    per_item = _item_scores(metric, data) if metric.kind == "item" else None
    if per_item is not None:
        items[metric.name] = per_item
    applies = {b: idx for b, idx in rows.items() if BucketKey.parse(b).track in metric.tracks}
    entry["buckets"], entry["macro"], stored = aggregate(
        item_values(per_item) if per_item is not None else partial(_set_values, metric, data),
        applies,
        positions,
        config.ci,
        bounds=None if per_item is not None else metric.bounds,
        min_rows=metric.required_rows(config),
        macro_min_rows=metric.macro_rows(config),
        na_reason=partial(_nan_reason, metric, data),
    )
    for bucket, row in entry["buckets"].items():
        stats = data.reference.stats[data.reference.resolve(bucket)]
        if stats.level == "borrowed":  # too few own training responses: judged against length-near ones
            row["borrowed"] = {"own": stats.own, "lengths": stats.borrowed_range}
    macro = entry["macro"]
    counted = [r for r in entry["buckets"].values() if r["value"] is not None and r["n"] >= macro["min_rows"]]
    macro["borrowed"] = sum("borrowed" in r for r in counted)
    return stored


# (bucket, its rows, its (B, n) resampled rows) -> (point, draws, human point, human draws)
BucketValues = Callable[
    [str, np.ndarray, np.ndarray], tuple[float, np.ndarray, float | None, np.ndarray | None]
]


def bootstrap_rows(
    buckets: Sequence[str], seed: int, draws: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Row indices per bucket (in bucket order; rows in input order) and each bucket's (draws, n) bootstrap
    positions, seeded by (seed, bucket) so that every run on the same records gets the same draws."""
    grouped: dict[str, list[int]] = {}
    for i, bucket in enumerate(buckets):
        grouped.setdefault(bucket, []).append(i)
    rows = {b: np.asarray(grouped[b]) for b in sorted(grouped, key=_bucket_order)}
    positions = {b: bootstrap_positions(len(r), draws, bucket_rng(seed, b)) for b, r in rows.items()}
    return rows, positions


def aggregate(
    values: BucketValues,
    rows: dict[str, np.ndarray],
    positions: dict[str, np.ndarray],
    level: float,
    *,
    bounds: tuple[float, float] | None = None,
    min_rows: int = 1,
    macro_min_rows: int = 1,
    na_reason: Callable[[np.ndarray], str],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[float | None]]]:
    """The per-bucket bootstrap of one statistic, macro-averaged over buckets: (buckets, macro, draws).

    `values(bucket, idx, sets)` gives (point, draws, human point, human draws) of a bucket's rows `idx`
    and its (B, n) resampled rows `sets`. Intervals are percentile intervals of per-record means
    (`bounds` None) or, for a set statistic, centred on the point and kept inside `bounds`. A bucket with
    fewer than `min_rows` rows, or whose point is undefined (`na_reason(idx)` says why), is n/a. The
    macro-average weighs alike the buckets with at least `macro_min_rows` rows (a 3-row bucket should not
    outvote a 200-row one); beside it, `macro["weighted"]` is the record-weighted mean over every bucket
    with a value, and `macro["by_cell"]` that of each context cell's buckets (a cell's value and interval,
    whatever the size of its buckets). `draws` holds the model draws per bucket and of the macro.
    """

    def interval(point: float, draws: np.ndarray) -> tuple[float, float]:
        if bounds is None:
            return percentile_ci(draws, level)
        return centred_ci(point, draws, level, bounds)

    def summarise(keys: list[str], weights: dict[str, float] | None) -> tuple[dict[str, Any], np.ndarray]:
        point, draws = macro_average({k: points[k] for k in keys}, model_draws, weights)
        low, high = interval(point, draws) if len(draws) else (np.nan, np.nan)
        out = {"value": point, "low": _num(low), "high": _num(high), "n_buckets": len(keys)}
        humans = [k for k in keys if k in human_points]
        if humans:
            h_point, h_draws = macro_average({k: human_points[k] for k in humans}, human_draws, weights)
            h_low, h_high = interval(h_point, h_draws) if len(h_draws) else (np.nan, np.nan)
            out.update({"human": h_point, "human_low": _num(h_low), "human_high": _num(h_high)})
        return out, draws

    buckets: dict[str, Any] = {}
    points: dict[str, float] = {}
    human_points: dict[str, float] = {}
    model_draws: dict[str, np.ndarray] = {}
    human_draws: dict[str, np.ndarray] = {}
    for bucket, idx in rows.items():
        if len(idx) < min_rows:
            buckets[bucket] = {
                "n": len(idx),
                "value": None,
                "na": f"needs >= {min_rows} records in the bucket, has {len(idx)}",
            }
            continue
        sets = idx[positions[bucket]]  # (B, n) rows
        point, draw, human, human_draw = values(bucket, idx, sets)
        if not np.isfinite(point):
            buckets[bucket] = {"n": len(idx), "value": None, "na": na_reason(idx)}
            continue
        low, high = interval(point, draw)
        row: dict[str, Any] = {"n": len(idx), "value": point, "low": _num(low), "high": _num(high)}
        points[bucket], model_draws[bucket] = point, draw
        if human is not None and human_draw is not None and np.isfinite(human):
            h_low, h_high = interval(human, human_draw)
            row.update({"human": human, "human_low": _num(h_low), "human_high": _num(h_high)})
            human_points[bucket], human_draws[bucket] = human, human_draw
        buckets[bucket] = row
    in_macro = [b for b in points if len(rows[b]) >= macro_min_rows]
    stored = {b: _round_list(d) for b, d in model_draws.items()}
    summary: dict[str, Any] = {"value": None, "n_buckets": 0, "na": "no bucket has a value"}
    if in_macro:
        summary, macro_draws = summarise(in_macro, None)
        if len(macro_draws):
            stored[MACRO] = _round_list(macro_draws)
    elif points:
        summary["na"] = f"no bucket has >= {macro_min_rows} records (the record-weighted mean has them all)"
    summary["min_rows"], summary["left_out"] = macro_min_rows, len(points) - len(in_macro)
    if points:
        summary["weighted"] = summarise(list(points), {b: len(rows[b]) for b in points})[0]
        summary["weighted"]["n"] = sum(len(rows[b]) for b in points)
    cells: dict[str, list[str]] = {}
    for bucket in points:
        cells.setdefault(str(BucketKey.parse(bucket).cell), []).append(bucket)
    summary["by_cell"] = {
        cell: {**summarise(keys, {b: len(rows[b]) for b in keys})[0], "n": sum(len(rows[b]) for b in keys)}
        for cell, keys in sorted(cells.items())
    }
    return buckets, summary, stored


def item_values(per_item: dict[str, np.ndarray]) -> BucketValues:
    """`values` for `aggregate` from per-record scores ("model", optionally "human"): means over rows."""
    return lambda bucket, idx, sets: _item_values(per_item, idx, sets)


def _item_values(per_item: dict[str, np.ndarray], idx: np.ndarray, sets: np.ndarray):
    model = per_item["model"]
    with np.errstate(all="ignore"), _quiet():
        point, draw = float(np.nanmean(model[idx])), np.nanmean(model[sets], axis=1)
        human = per_item.get("human")
        if human is None:
            return point, draw, None, None
        return point, draw, float(np.nanmean(human[idx])), np.nanmean(human[sets], axis=1)


def _item_scores(metric: Metric, data: EvalData) -> dict[str, np.ndarray]:
    try:
        return metric.fn(data)  # type: ignore[misc]
    except Exception as error:
        raise MetricError(f"metric {metric.name!r} failed on the evaluated records: {error!r}") from error


def _set_values(metric: Metric, data: EvalData, bucket: str, idx: np.ndarray, sets: np.ndarray):
    with np.errstate(all="ignore"), _quiet():
        try:
            whole = metric.fn(data, idx[None, :])  # type: ignore[misc]
            drawn = metric.fn(data, sets)  # type: ignore[misc]
        except Exception as error:
            raise MetricError(
                f"metric {metric.name!r} failed on bucket {bucket} ({len(idx)} records): {error!r}"
            ) from error
    human = whole.get("human")
    return (
        float(whole["model"][0]),
        np.asarray(drawn["model"], dtype=float),
        None if human is None else float(human[0]),
        None if human is None else np.asarray(drawn["human"]),
    )


class _quiet:
    """Silence 'mean of empty slice' warnings: an all-nan bucket becomes n/a with its reason instead."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)


def _bucket_order(bucket: str) -> tuple[str, str, str, int]:
    return BucketKey.parse(bucket).sort_key()


def _nan_reason(metric: Metric, data: EvalData, idx: np.ndarray) -> str:
    empty = sum(1 for i in idx if not data.model[i].strip())
    if empty == len(idx):
        return f"all {len(idx)} model responses are empty"
    return metric.nan_reason(data)


def _plot_data(data: EvalData, config: EvalConfig) -> dict[str, Any]:
    """What the report draws and may not recompute: lengths per bucket and a 2-D embedding map."""
    units = FEATURE_INDEX["length_units"]
    lengths: dict[str, Any] = {}
    for bucket, idx in data.rows_by(data.buckets).items():
        lengths[bucket] = {
            "model": data.model_x[idx, units].astype(int).tolist(),
            "human": data.human_x[idx, units].astype(int).tolist(),
        }
    plots: dict[str, Any] = {"length_edges": LENGTH_EDGES.tolist(), "lengths": lengths}
    if data.model_emb is not None and data.human_emb is not None:
        plots["embedding_map"] = _embedding_map(data, config)
    return plots


def _embedding_map(data: EvalData, config: EvalConfig) -> dict[str, Any]:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng([config.seed, 3])
    take = np.sort(rng.permutation(data.n)[: config.map_points])
    stacked = np.vstack([data.human_emb[take], data.model_emb[take]])  # type: ignore[index]
    coords = (
        PCA(n_components=2, random_state=config.seed).fit_transform(stacked)
        if len(stacked) > 2
        else np.zeros((len(stacked), 2))
    )
    cells = sorted(set(data.cells))
    cell_of = [cells.index(data.cells[i]) for i in take]
    half = len(take)
    return {
        "method": "PCA (2 components) of human and model embeddings together",
        "cells": cells,
        "human": [
            [round(float(x), 4), round(float(y), 4), c]
            for (x, y), c in zip(coords[:half], cell_of, strict=True)
        ],
        "model": [
            [round(float(x), 4), round(float(y), 4), c]
            for (x, y), c in zip(coords[half:], cell_of, strict=True)
        ],
    }


def _by_own_length(data: EvalData) -> dict[str, Any]:
    """Generations bucketed by their own length: counts beside the humans', and d against that bucket."""
    from polyalign.evaluate.naturalness import support_distance, support_scorer

    missing = sorted(set(data.languages) - set(data.edges))
    if missing:
        raise PolyAlignError(
            f"no length-bin edges for language(s) {missing} (known: {sorted(data.edges)}): evaluate with the "
            "edges of the prepare artefact that bucketed these records"
        )
    units = data.model_x[:, FEATURE_INDEX["length_units"]]
    own = [
        str(BucketKey.parse(cell).with_bin(length_bin(int(u), data.edges[lang])))
        for cell, u, lang in zip(data.cells, units, data.languages, strict=True)
    ]
    # Every length bin of a cell seen in training has a reference (its own or borrowed by length).
    resolved = [data.reference.resolve(b) for b in own]
    shifted = dataclasses.replace(data, ref_keys=resolved, cache={"scorer": support_scorer(data)})
    distance = support_distance(shifted)["model"]
    human_counts = Counter(data.buckets)
    out: dict[str, Any] = {}
    for bucket in sorted(set(own) | set(data.buckets), key=_bucket_order):
        idx = [i for i, b in enumerate(own) if b == bucket]
        out[bucket] = {
            "n_model": len(idx),
            "n_human": human_counts.get(bucket, 0),
            "support_distance": float(np.mean(distance[idx])) if idx else None,
        }
    return out


def _per_item_rows(data: EvalData, items: dict[str, dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    rows = []
    for i, record_id in enumerate(data.ids):
        row: dict[str, Any] = {
            "id": record_id,
            "bucket": data.buckets[i],
            "model_units": int(data.model_x[i, 0]),
            "human_units": int(data.human_x[i, 0]),
        }
        for name, values in items.items():
            row[name] = _num(values["model"][i])
            if "human" in values:
                row[f"{name}_human"] = _num(values["human"][i])
        rows.append(row)
    return rows


def _ids_hash(ids: list[str]) -> str:
    return hashlib.sha256("\x1f".join(sorted(ids)).encode("utf-8")).hexdigest()[:16]


def _num(value: Any) -> float | None:
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None


def _round_list(values: np.ndarray) -> list[float | None]:
    return [_num(v) for v in values]


def evaluate_generations(
    records: Sequence[Record],
    generations: Generations,
    reference: HumanReference,
    config: EvalConfig,
    *,
    edges: dict[str, list[float]],
    train_records: Sequence[Record] = (),
    embedder: Embedder | None = None,
    name: str = "run",
    cache_dir: Path | None = None,
) -> EvalResult:
    """Check coverage, build the aligned data, compute every metric; returns results ready to write."""
    evaluated, missing = check_coverage(records, generations, config.allow_missing)
    data, timings = build_eval_data(
        evaluated,
        generations,
        reference,
        edges,
        embedder=embedder,
        train_records=train_records,
        config=config,
        cache_dir=cache_dir,
    )
    result = compute_metrics(data, config)
    result.timings.update(timings)
    empty = [i for i, text in zip(data.ids, data.model, strict=True) if not text.strip()]
    warnings = []
    if missing:
        warnings.append(
            f"partial run: {len(missing)} test record(s) have no generation and are not evaluated"
        )
    if empty:
        warnings.append(f"{len(empty)} empty response(s), scored as given (utility 0, length 0)")
    if embedder is not None and embedder.name.startswith("hashing"):
        warnings.append(
            "embedder 'hashing' is lexical, not semantic: MAUVE and TDM semantic coupling are weak"
        )
    result.results = {
        "format_version": artifacts.FORMAT_VERSION,
        "stage": STAGE,
        "stage_version": STAGE_VERSION,
        "run": name,
        "counts": {
            "records": len(records),
            "evaluated": len(evaluated),
            "missing": len(missing),
            "missing_ids": missing[:SHOWN_IDS],
            "empty": len(empty),
            "empty_ids": empty[:SHOWN_IDS],
            "partial": bool(missing),
        },
        "warnings": warnings,
        "config": dataclasses.asdict(config),
        "embedder": embedder.name if embedder else None,
        "provenance": generations.provenance,
        "versions": versions(),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        **result.results,
    }
    return result
