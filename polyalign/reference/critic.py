"""Optional learned critic: a bucket-conditioned discriminator of human versus model responses.

An addition to the exact support distance, never a replacement (METHOD.md §3). Unlike the authors'
regressor (trained on human answers only, it output one constant), it is trained on human AND model
responses to the same prompts, evaluated on held-out prompts (AUC and pair-ranking accuracy), and
refused when its scores do not vary. Inputs are each feature's signed deviation from the bucket's human
median in units of the bucket's scale (clipped), the context cell, and optionally text embeddings.
Score = P(model | response, bucket): higher means less human.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from polyalign import artifacts
from polyalign.data.buckets import BucketKey
from polyalign.errors import PolyAlignError
from polyalign.reference.embedders import Embedder
from polyalign.reference.features import extract
from polyalign.reference.reference import HumanReference

MIN_SCORE_SPREAD = 1e-6


class CriticError(PolyAlignError):
    """A critic that cannot be trained or must not be used (e.g. constant scores)."""


@dataclass(frozen=True)
class Example:
    pair_id: str  # responses to the same prompt share it; held-out prompts are whole pairs
    text: str
    bucket: str


@dataclass
class CriticMetrics:
    auc: float
    pair_accuracy: float
    n_train: int
    n_heldout: int
    heldout_pairs: int
    score_spread: float  # max - min of held-out scores: 0 means a constant, useless critic


@dataclass
class HumanModelCritic:
    cells: list[str]
    coef: list[float]
    intercept: float
    metrics: CriticMetrics
    embedder: str | None = None

    def score(self, reference: HumanReference, texts: Sequence[str], buckets: Sequence[str],
              embedder: Embedder | None = None) -> np.ndarray:  # fmt: skip
        """P(model) per response; needs the same reference (and embedder) it was trained with."""
        if (embedder.name if embedder else None) != self.embedder:
            raise CriticError(f"this critic was trained with embedder {self.embedder!r}, got {embedder!r}")
        design = _design(reference, texts, buckets, self.cells, embedder)
        return 1.0 / (1.0 + np.exp(-(design @ np.asarray(self.coef) + self.intercept)))

    def save(self, path: Path) -> None:
        if self.metrics.score_spread < MIN_SCORE_SPREAD:
            raise CriticError("refusing to save a critic whose held-out scores are constant")
        artifacts.write_json(path, {"format_version": artifacts.FORMAT_VERSION, **asdict(self)})

    @classmethod
    def load(cls, path: Path) -> HumanModelCritic:
        data = json.loads(path.read_text(encoding="utf-8"))
        data.pop("format_version")
        data["metrics"] = CriticMetrics(**data["metrics"])
        return cls(**data)


def train_critic(
    reference: HumanReference,
    human: Sequence[Example],
    model: Sequence[Example],
    *,
    seed: int = 0,
    heldout_share: float = 0.2,
    embedder: Embedder | None = None,
) -> HumanModelCritic:
    """Logistic regression human (0) vs model (1), held-out by prompt; raises CriticError if useless."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupShuffleSplit

    if not human or not model:
        raise CriticError("a critic needs both human and model responses (the authors' used human only)")
    examples = [*human, *model]
    labels = np.array([0] * len(human) + [1] * len(model))
    groups = np.array([e.pair_id for e in examples])
    cells = sorted({str(BucketKey.parse(e.bucket).cell) for e in examples})
    design = _design(reference, [e.text for e in examples], [e.bucket for e in examples], cells, embedder)
    split = GroupShuffleSplit(n_splits=1, test_size=heldout_share, random_state=seed)
    train_idx, held_idx = next(split.split(design, labels, groups))
    if len(set(labels[train_idx])) < 2 or len(set(labels[held_idx])) < 2:
        raise CriticError("both training and held-out prompts need human and model responses; add more pairs")
    classifier = LogisticRegression(C=1.0, max_iter=2000).fit(design[train_idx], labels[train_idx])
    held_scores = classifier.predict_proba(design[held_idx])[:, 1]
    critic = HumanModelCritic(
        cells=cells,
        coef=classifier.coef_[0].tolist(),
        intercept=float(classifier.intercept_[0]),
        metrics=CriticMetrics(
            auc=float(roc_auc_score(labels[held_idx], held_scores)),
            pair_accuracy=_pair_accuracy(groups[held_idx], labels[held_idx], held_scores),
            n_train=len(train_idx),
            n_heldout=len(held_idx),
            heldout_pairs=_count_pairs(groups[held_idx], labels[held_idx]),
            score_spread=float(np.ptp(held_scores)),
        ),
        embedder=embedder.name if embedder else None,
    )
    if critic.metrics.score_spread < MIN_SCORE_SPREAD:
        raise CriticError(
            f"the critic's held-out scores are constant ({held_scores[0]:.4f} for every response): it cannot "
            "rank responses and HDPO would silently become DPO. Use more or more varied model responses"
        )
    return critic


def _design(
    reference: HumanReference,
    texts: Sequence[str],
    buckets: Sequence[str],
    cells: list[str],
    embedder: Embedder | None,
) -> np.ndarray:
    """(n, F + C [+ E]): clipped signed deviations from the bucket median, cell one-hot, embeddings."""
    keys = [reference.resolve(b) for b in buckets]
    parsed = [BucketKey.parse(b) for b in buckets]
    x = extract(texts, [b.language for b in parsed])
    onehot = np.zeros((len(texts), len(cells)))
    for i, bucket in enumerate(parsed):
        cell = str(bucket.cell)
        if cell in cells:
            onehot[i, cells.index(cell)] = 1.0
    parts = [reference.deviation(x, keys), onehot]
    if embedder is not None:
        parts.append(embedder.encode(texts))
    return np.hstack(parts)


def _pair_accuracy(groups: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """Share of held-out prompts whose model response scores above the human one (ties count half)."""
    wins = []
    for group in np.unique(groups):
        mask = groups == group
        human, model = scores[mask & (labels == 0)], scores[mask & (labels == 1)]
        if len(human) and len(model):
            diff = model[:, None] - human[None, :]
            wins.append(float(np.mean((diff > 0) + 0.5 * (diff == 0))))
    return float(np.mean(wins)) if wins else float("nan")


def _count_pairs(groups: np.ndarray, labels: np.ndarray) -> int:
    return sum(
        1 for g in np.unique(groups) if (labels[groups == g] == 0).any() and (labels[groups == g] == 1).any()
    )
