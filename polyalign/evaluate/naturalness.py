"""Naturalness: support distance d(y, b) with the held-out-human floor, and human-vs-model discriminability.

`support_distance` scores model and human test responses against the same bucket reference (METHOD.md
§3): the human value is the floor a model should reach. `discriminability` trains, per context cell, a
logistic classifier of human (0) versus model (1) responses on the features' deviations from the bucket's
human median (in units of the bucket scale, clipped) plus the response embeddings, with folds grouped by
record (a prompt's two responses are never split between training and held-out folds). Its out-of-fold scores
give the AUC per bucket: 0.5 means indistinguishable, 1 trivially told apart.
"""

from __future__ import annotations

import zlib

import numpy as np

from polyalign.evaluate.data import EvalData
from polyalign.evaluate.stats import rank_auc
from polyalign.reference.support import SupportScorer


def support_scorer(data: EvalData) -> SupportScorer:
    """The one support distance (every configured term), built once per evaluation."""
    if "scorer" not in data.cache:
        data.cache["scorer"] = SupportScorer(data.reference)
    return data.cache["scorer"]


def support_distance(data: EvalData) -> dict[str, np.ndarray]:
    """d(y, b) of model responses against each row's reference; the human test responses' d is the floor."""
    scorer = support_scorer(data)
    return {
        "model": scorer.score(data.model, data.ref_keys, data.model_x),
        "human": scorer.score(data.human, data.ref_keys, data.human_x),
    }


def out_of_fold_scores(data: EvalData, folds: int, repeats: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A score of every human and every model response (higher = more model-like), each from classifiers
    that never saw that record: per context cell, `repeats` random k-fold partitions of its records (a
    record's two responses always in the same fold). Cells with fewer than 2·k records get nan.

    Scores are within-fold quantiles, averaged over repeats. Pooling raw out-of-fold scores of several
    fold models biases the AUC of indistinguishable samples below 0.5 (each fold's model leans away from
    its held-out records: 0.43-0.44 on human-vs-human halves of the fixture); within one fold the held-out
    scores of the two classes are exchangeable, so their quantiles pool without that bias (measured 0.5x,
    with unchanged power on truncated responses).
    """
    if "oof" in data.cache:
        return data.cache["oof"]
    from scipy.stats import rankdata
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    human_scores, model_scores = np.full(data.n, np.nan), np.full(data.n, np.nan)
    design_h, design_m = (
        _design(data, data.human_x, data.human_emb),
        _design(data, data.model_x, data.model_emb),
    )
    with threadpool_limits(1):
        for cell, idx in sorted(data.rows_by(data.cells).items()):
            if len(idx) < 2 * folds:
                continue
            x = np.vstack([design_h[idx], design_m[idx]])
            y = np.r_[np.zeros(len(idx)), np.ones(len(idx))]
            scores = np.zeros(len(y))
            for repeat in range(repeats):
                rng = np.random.default_rng([data.seed, repeat, zlib.crc32(cell.encode())])
                fold_of = np.empty(len(idx), dtype=int)
                fold_of[rng.permutation(len(idx))] = np.arange(len(idx)) % folds
                fold_of = np.r_[fold_of, fold_of]  # a record's human and model rows share their fold
                for fold in range(folds):
                    test = fold_of == fold
                    model = LogisticRegression(C=1.0, max_iter=1000).fit(x[~test], y[~test])
                    held_out = model.decision_function(x[test])
                    scores[test] += rankdata(held_out) / (len(held_out) + 1) / repeats  # quantile in fold
            human_scores[idx], model_scores[idx] = scores[: len(idx)], scores[len(idx) :]
    data.cache["oof"] = (human_scores, model_scores)
    return human_scores, model_scores


def _design(data: EvalData, x: np.ndarray, emb: np.ndarray | None) -> np.ndarray:
    """(n, F [+ E]): the reference's clipped deviations from the bucket median, then embeddings."""
    parts = [data.reference.deviation(x, data.ref_keys)]
    if emb is not None:
        parts.append(emb)
    return np.hstack(parts)


def discriminability(data: EvalData, sets: np.ndarray) -> dict[str, np.ndarray]:
    """Cross-validated AUC of human-vs-model on the sets' records (0.5 = indistinguishable)."""
    human, model = out_of_fold_scores(data, data.auc_folds, data.auc_repeats)
    return {"model": rank_auc(human[sets], model[sets])}
