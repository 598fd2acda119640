"""Faithfulness and diversity metrics: BNG, HCR, length fit, TDM, MAUVE / C-MAUVE, distinct-n, self-BLEU.

Item metrics return one value per response (`{"model": (n,), "human": (n,)}`), set metrics one value per
set of rows (`sets`: (k, m) row indices of one bucket → (k,)), so the bootstrap can call them on its
draws. Human values, where they are returned, are the same statistic of the human test responses: the
value a model should reach, shown beside the model's. MAUVE works per context cell with its own noise
band (`mauve_suite`). Reads and writes nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np

from polyalign.evaluate.data import EvalData
from polyalign.evaluate.stats import js_divergence, wasserstein_equal
from polyalign.evaluate.utility import tokenize
from polyalign.reference.features import FEATURE_INDEX
from polyalign.reference.reference import scale_floors

# Fine length edges (units) for the length-fit divergence; the last bin is open.
LENGTH_EDGES = np.array(
    [0, 5, 10, 15, 20, 30, 40, 50, 60, 80, 100, 120, 150, 180, 240, 300, 400, 500, 700, 1000]
)
TDM_FLOORS = np.array([0.25, 0.05, 0.05])  # scale floors of length ratio, lexical and semantic coupling, as
#                                           for features: a tiny human spread cannot explode


def tokens(data: EvalData, side: str) -> list[list[str]]:
    key = f"tokens:{side}"
    if key not in data.cache:
        data.cache[key] = [tokenize(t) for t in getattr(data, side)]
    return data.cache[key]


# ---------------------------------------------------------------------------------------------- BNG


def bng(data: EvalData, sets: np.ndarray) -> dict[str, np.ndarray]:
    """Bucket-normalised gap: mean over features of W1(model_f, human_f) / std(human_f) (lower is better).

    The std is the training human std of the bucket's reference, floored by the event-aware scale floor
    of the feature (one extra event ≈ 1), so zero-inflated features of small buckets cannot divide by 0.
    Model and human sets have the same size (paired records), so W1 is exact: mean |sort(a) − sort(b)|.
    """
    stats = data.reference.stats[data.ref_keys[sets[0, 0]]]
    denom = np.maximum(np.asarray(stats.std), scale_floors(float(np.median(stats.lengths))))
    gaps = wasserstein_equal(data.model_x[sets], data.human_x[sets]) / denom  # (k, F)
    return {"model": gaps.mean(axis=1)}


# ---------------------------------------------------------------------------------------------- HCR


def _in_band(data: EvalData, x: np.ndarray) -> np.ndarray:
    low, high, _ = data.reference.band_arrays(data.ref_keys)
    return (x >= low) & (x <= high)  # (n, F)


def hcr_all(data: EvalData) -> dict[str, np.ndarray]:
    """1 when a response lies inside its bucket's human q10-q90 band on every feature."""
    return {
        "model": _in_band(data, data.model_x).all(axis=1) * 1.0,
        "human": _in_band(data, data.human_x).all(axis=1) * 1.0,
    }


def hcr_mean(data: EvalData) -> dict[str, np.ndarray]:
    """Share of features on which a response lies inside its bucket's human q10-q90 band."""
    return {
        "model": _in_band(data, data.model_x).mean(axis=1),
        "human": _in_band(data, data.human_x).mean(axis=1),
    }


# ----------------------------------------------------------------------------------------- length fit


def _length_bins(data: EvalData, side: str) -> np.ndarray:
    key = f"length_bins:{side}"
    if key not in data.cache:
        units = getattr(data, f"{side}_x")[:, FEATURE_INDEX["length_units"]]
        data.cache[key] = np.searchsorted(LENGTH_EDGES, units, side="right") - 1
    return data.cache[key]


def length_fit(data: EvalData, sets: np.ndarray) -> dict[str, np.ndarray]:
    """Jensen-Shannon divergence (base 2) between model and human length histograms (lower is better)."""
    k = len(LENGTH_EDGES)
    model = _histograms(_length_bins(data, "model")[sets], k)
    human = _histograms(_length_bins(data, "human")[sets], k)
    return {"model": js_divergence(model, human)}


def _histograms(bins: np.ndarray, k: int) -> np.ndarray:
    """(draws, m) bin indices → (draws, k) counts."""
    out = np.zeros((bins.shape[0], k))
    np.add.at(out, (np.repeat(np.arange(bins.shape[0]), bins.shape[1]), bins.ravel()), 1.0)
    return out


# ------------------------------------------------------------------------------------------------ TDM


def tdm_components(data: EvalData, side: str) -> np.ndarray:
    """(n, 3): log length ratio response/user turn, lexical coupling (share of the response's token
    types found in the user turn), semantic coupling (cosine of their embeddings; nan without an
    embedder). Each side couples to the user turn of the prompt it answers."""
    key = f"tdm:{side}"
    if key in data.cache:
        return data.cache[key]
    user_side = "user" if side == "model" else "human_user"
    units = getattr(data, f"{side}_x")[:, FEATURE_INDEX["length_units"]]
    user_tokens = tokens(data, user_side)
    user_units = np.array([len(t) for t in user_tokens], dtype=float)
    out = np.full((data.n, 3), np.nan)
    out[:, 0] = np.log1p(units) - np.log1p(user_units)
    for i, (resp, user) in enumerate(zip(tokens(data, side), user_tokens, strict=True)):
        types = set(resp)
        out[i, 1] = len(types & set(user)) / len(types) if types else 0.0
    emb, user_emb = getattr(data, f"{side}_emb"), getattr(data, f"{user_side}_emb")
    if emb is not None and user_emb is not None:
        out[:, 2] = _cosine(emb, user_emb)
    data.cache[key] = out
    return out


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.where(norms > 0, (a * b).sum(axis=1) / np.where(norms > 0, norms, 1), 0.0)


def tdm(data: EvalData, sets: np.ndarray) -> dict[str, np.ndarray]:
    """Turn-dependency mismatch (multi-turn): mean over coupling components of W1(model, human) / human
    spread of the bucket, like BNG for how a response couples to the user turn (lower is better)."""
    model, human = tdm_components(data, "model"), tdm_components(data, "human")
    usable = ~np.isnan(human[sets[0]]).any(axis=0)  # semantic coupling needs an embedder
    denom = np.maximum(np.nanstd(human[np.unique(sets[0])], axis=0), TDM_FLOORS)
    gaps = wasserstein_equal(model[sets][..., usable], human[sets][..., usable]) / denom[usable]
    return {"model": gaps.mean(axis=1)}


# ----------------------------------------------------------------------------------------- distinct-n


def _ngram_incidence(data: EvalData, side: str, n: int) -> tuple[Any, np.ndarray]:
    """Sparse (rows, n-gram types) presence matrix and the n-gram count of every response."""
    from scipy.sparse import csr_matrix

    key = f"ngrams:{side}:{n}"
    if key not in data.cache:
        vocabulary: dict[tuple[str, ...], int] = {}
        indptr, indices, totals = [0], [], []
        for toks in tokens(data, side):
            grams = list(zip(*(toks[j:] for j in range(n)), strict=False))
            totals.append(len(grams))
            ids = {vocabulary.setdefault(g, len(vocabulary)) for g in grams}
            indices.extend(sorted(ids))
            indptr.append(len(indices))
        matrix = csr_matrix(
            (np.ones(len(indices)), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(data.n, max(len(vocabulary), 1)),
        )
        data.cache[key] = (matrix, np.asarray(totals, dtype=float))
    return data.cache[key]


def _distinct(data: EvalData, sets: np.ndarray, side: str, n: int) -> np.ndarray:
    from scipy.sparse import csr_matrix

    matrix, totals = _ngram_incidence(data, side, n)
    k, m = sets.shape
    weights = csr_matrix((np.ones(k * m), (np.repeat(np.arange(k), m), sets.ravel())), shape=(k, data.n))
    unique = (weights @ matrix).getnnz(axis=1)  # n-gram types present in each set
    total = weights @ totals
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, unique / np.where(total > 0, total, 1), np.nan)


def distinct_1(data: EvalData, sets: np.ndarray) -> dict[str, np.ndarray]:
    """Distinct unigram types / unigrams over the bucket's responses (compare with the human value)."""
    return {"model": _distinct(data, sets, "model", 1), "human": _distinct(data, sets, "human", 1)}


def distinct_2(data: EvalData, sets: np.ndarray) -> dict[str, np.ndarray]:
    """Distinct bigram types / bigrams over the bucket's responses (compare with the human value)."""
    return {"model": _distinct(data, sets, "model", 2), "human": _distinct(data, sets, "human", 2)}


# ------------------------------------------------------------------------------------------ self-BLEU


def self_bleu(data: EvalData) -> dict[str, np.ndarray]:
    """BLEU-4 of each response against the other responses of its bucket (NLTK's smoothing method 2,
    closest reference length); lower means more diverse. The human value is the same on human responses."""
    out = {}
    rows = data.rows_by(data.buckets)
    for side in ("model", "human"):
        toks = tokens(data, side)
        values = np.full(data.n, np.nan)
        for idx in rows.values():
            if len(idx) >= 2:
                values[idx] = self_bleu_group([toks[i] for i in idx])
        out[side] = values
    return out


def self_bleu_group(token_lists: list[list[str]], max_n: int = 4) -> np.ndarray:
    """Each member against all others, in one pass: for every n-gram keep the two largest counts and
    their holder, so 'the largest count among the others' is the top count unless the member holds it.

    Smoothing is NLTK's method 2 (Lin & Och 2004): for n > 1, p_n = (clipped + 1) / (max(1, n-grams) + 1),
    the denominator at least 1 as in NLTK's modified precision. So a response shorter than n scores ½ on
    that order, not 1 (a 3-token response would otherwise gain a free perfect 4-gram precision)."""
    m = len(token_lists)
    log_precisions = np.zeros(m)
    for n in range(1, max_n + 1):
        counters = [Counter(zip(*(t[j:] for j in range(n)), strict=False)) for t in token_lists]
        top: dict[tuple[str, ...], list[int]] = {}  # gram -> [top1 count, holder, top2 count]
        for i, counter in enumerate(counters):
            for gram, c in counter.items():
                entry = top.get(gram)
                if entry is None:
                    top[gram] = [c, i, 0]
                elif c > entry[0]:
                    top[gram] = [c, i, entry[0]]
                elif c > entry[2]:
                    entry[2] = c
        for i, counter in enumerate(counters):
            total = sum(counter.values())
            clipped = 0
            for gram, c in counter.items():
                first, holder, second = top[gram]
                clipped += min(c, second if holder == i else first)
            if n == 1:
                log_precisions[i] += np.log(clipped / total) if clipped else -np.inf
            else:
                log_precisions[i] += np.log((clipped + 1) / (max(total, 1) + 1))
    lengths = np.array([len(t) for t in token_lists])
    bleu = np.zeros(m)
    for i in range(m):
        if lengths[i] == 0 or not np.isfinite(log_precisions[i]):
            continue
        others = np.delete(lengths, i)
        ref = others[np.argmin(np.abs(others - lengths[i]) * 10_000 + others)]  # closest, shorter on ties
        brevity = 1.0 if lengths[i] > ref else float(np.exp(1 - ref / lengths[i]))
        bleu[i] = brevity * float(np.exp(log_precisions[i] / max_n))
    return bleu


# --------------------------------------------------------------------------------------- language fit


def language_fit(data: EvalData) -> dict[str, np.ndarray]:
    """Per response, 1 when it is in the record's language and 0 when not (a mixed-language answer is
    not); model and human responses alike, so the human value is the one to read the model's against."""
    return {side: language_fits(getattr(data, side), data.languages) for side in ("model", "human")}


def language_fits(texts: list[str], languages: list[str]) -> np.ndarray:
    """(n,) 1/0 per text, nan where nothing can be judged. Where the offline detector abstains (`unknown`:
    answers of a few words, which left short English human answers at 0.46-0.48), the text is judged by
    its script against the language's (`script_fits`); a text without letters is nan, never wrong."""
    from polyalign.data.language import detect_language, script_fits

    out = np.full(len(texts), np.nan)
    for i, (text, language) in enumerate(zip(texts, languages, strict=True)):
        detection = detect_language(text)
        fits = (
            script_fits(text, language) if detection.status == "unknown" else detection.language == language
        )
        if fits is not None:
            out[i] = float(fits)
    return out


# ---------------------------------------------------------------------------------------------- MAUVE


def mauve_score(p: np.ndarray, q: np.ndarray, seed: int) -> float:
    """MAUVE (mauve-text defaults: n/10 clusters, PCA to 90% variance, 5 k-means restarts) of two
    feature sets. Single-threaded BLAS/OpenMP: on small matrices threads only add contention (a 360×512
    SVD took 2.3 s with two contending threads and 0.03 s with one)."""
    import mauve
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), _native_stderr_silenced():
        return float(mauve.compute_mauve(p_features=p, q_features=q, seed=seed, verbose=False).mauve)


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """faiss's k-means prints "WARNING clustering n points to k centroids" from C for every cell smaller
    than 39 points per cluster, which MAUVE's n/10 clusters always are: ~170 lines per evaluation on the
    dev corpus. Python exceptions still propagate; only the process's native stderr is muted meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def mauve_suite(data: EvalData, min_rows: int, repeats: int) -> dict[str, Any]:
    """Global MAUVE, C-MAUVE per context cell (only with >= min_rows per side) and, for every reported
    cell, the human re-split noise band: MAUVE of two disjoint halves of a human pool of the same size
    (the cell's test humans plus training humans of that cell), `repeats` times (METHOD.md §6)."""
    if data.model_emb is None or data.human_emb is None:
        return {"na": "no embedder configured (evaluate.embedder)"}
    seed = data.seed
    out: dict[str, Any] = {
        "global": {"value": mauve_score(data.model_emb, data.human_emb, seed), "n": data.n}
    }
    cells: dict[str, Any] = {}
    for cell, idx in sorted(data.rows_by(data.cells).items()):
        if len(idx) < min_rows:
            cells[cell] = {
                "value": None,
                "n": len(idx),
                "na": f"C-MAUVE needs >= {min_rows} rows per side; this cell has {len(idx)}",
            }
            continue
        value = mauve_score(data.model_emb[idx], data.human_emb[idx], seed)
        cells[cell] = {"value": value, "n": len(idx), "noise": _noise_band(data, cell, idx, repeats)}
    out["cells"] = cells
    return out


def _noise_band(data: EvalData, cell: str, idx: np.ndarray, repeats: int) -> dict[str, Any]:
    human = data.human_emb[idx]
    extra = data.pool_emb.get(cell)
    pool = human if extra is None or not len(extra) else np.vstack([human, extra[: len(idx)]])
    half = len(pool) // 2
    rng = np.random.default_rng([data.seed, 7])
    values = []
    for _ in range(repeats):
        order = rng.permutation(len(pool))
        values.append(mauve_score(pool[order[:half]], pool[order[half : 2 * half]], data.seed))
    values_arr = np.asarray(values)
    return {
        "mean": float(values_arr.mean()),
        "sd": float(values_arr.std(ddof=1)),
        "low": float(np.percentile(values_arr, 2.5)),
        "high": float(np.percentile(values_arr, 97.5)),
        "n_per_side": half,
        "repeats": repeats,
        "pool": "test humans + train humans of the cell"
        if extra is not None and len(extra)
        else "test humans",
    }
