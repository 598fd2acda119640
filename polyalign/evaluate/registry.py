"""The metric registry: name → group, kind, direction, what it applies to, and the function computing it.

Kinds: `item` (one value per response, aggregated by the mean), `set` (one value per set of responses of
a bucket, recomputed on every bootstrap draw), `cell` (MAUVE: per context cell, with the human re-split
noise band instead of a bootstrap). Directions: `higher`/`lower` is better, or `closer_to_human` (the
diversity metrics: a model should be as diverse as people, not more); `Metric.better` applies them, and
the report takes every direction from here. An entry also says how many records a bucket needs (or
which config option says so), why a bucket whose value is undefined is n/a, and whether the metric has a
per-cell view beside its buckets: the engine reads all of it here and special-cases no metric by name.
Each entry also carries its glossary line (what it measures, its human floor, what it is blind to), from
which the report and the README's glossary (`glossary.py`) are written.
Registering a name twice raises; an unknown name raises with close matches and the list.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from polyalign.errors import ConfigError
from polyalign.evaluate import distribution, naturalness
from polyalign.evaluate.config import EvalConfig
from polyalign.evaluate.data import EvalData
from polyalign.evaluate.stats import rank_auc
from polyalign.evaluate.utility import utility_scores

GROUPS = ("utility", "faithfulness", "naturalness", "diversity", "judge")
KINDS = ("item", "set", "cell")
DIRECTIONS = ("higher", "lower", "closer_to_human")


def _undefined(data: EvalData) -> str:
    return "undefined for this bucket's responses"


# The blind judge's rubric: each criterion is a metric `judge_<criterion>` (1-5, higher is better).
RUBRIC_VERSION = 1
RUBRIC = {
    "task_success": "Does the answer do what the user asked: correct, and complete for this request?",
    "grounding": "Is everything it states supported by the conversation or passage, or common knowledge, "
    "with nothing invented?",
    "instruction_following": "Does it follow the explicit instructions and constraints of the user's turns?",
    "conditional_appropriateness": "Does it fit this context: the language, the register and the kind of "
    "conversation (casual chat, question answering, task dialogue, long-form explanation)?",
    "response_shape": "Are its length and format (paragraphs, lists, markdown) what a person would write "
    "here?",
    "discourse_naturalness": "Does it read as a natural reply in this conversation, following on from the "
    "user's turn, rather than a generic assistant template?",
}


# Degradations a metric cannot see by construction (`evaluate.degrade` names): every one but the cross-
# language shuffle keeps the language; set diversity does not change when real answers move between cells,
# and it rises when answers are cut (fewer tokens share fewer n-grams).
SAME_LANGUAGE = (
    "truncated",
    "first_sentence",
    "templated",
    "plain_templated",
    "swapped",
    "repeated",
    "halved",
)
DIVERSITY_BLIND = ("truncated", "first_sentence", "halved", "swapped")
DISTINCT_BLIND_TO = (
    "the same meaning in other words; it rises as a set's token count falls, so cut answers look diverse; "
    "real answers from another cell are as diverse as people"
)


@dataclass(frozen=True)
class Metric:
    """One metric. `fn` takes the data (`item`), the data and (B, n) row sets (`set`), or the data and the
    config (`cell`: returns the whole entry, global value, cells and macro)."""

    name: str
    group: str
    kind: str
    direction: str
    description: str
    fn: Callable[..., Any] | None
    ideal: float | None = None  # the value of a perfect system, when there is one (MAUVE 1, AUC 0.5)
    tracks: tuple[str, ...] = ("single", "multi")  # buckets it applies to (TDM: multi-turn only)
    min_rows: int = 1  # records a bucket needs for a value (else n/a with the reason)
    min_rows_option: str | None = None  # the EvalConfig field that sets min_rows instead (AUC: auc_min_rows)
    nan_reason: Callable[[EvalData], str] = _undefined  # why a bucket whose value is nan is n/a
    cells: Callable[[EvalData], dict[str, Any]] | None = None  # per-context-cell values beside the buckets
    needs_embeddings: bool = False
    bounds: tuple[float, float] = (0.0, math.inf)  # the values it can take; intervals are kept inside
    needs_gold: bool = False  # compares each response with the human answer to its own prompt (utility)
    floor: str = ""  # glossary: the human value to read it against (`description` says what it measures)
    blind_to: str = ""  # glossary: the failures it is known not to see
    # glossary: the degradations (`evaluate.degrade`) it cannot see by construction, and why in `blind_to`;
    # benchmarks/metric_validity.py does not count them against it
    blind_degradations: tuple[str, ...] = ()

    def better(self, a: float, b: float, human: float | None = None) -> bool:
        """Is value `a` better than `b` under this metric's direction?"""
        if self.direction == "higher":
            return a > b
        if self.direction == "lower":
            return abs(a - self.ideal) < abs(b - self.ideal) if self.ideal is not None else a < b
        if human is None:
            raise ValueError(f"{self.name} is judged against the human value; pass it")
        return abs(a - human) < abs(b - human)

    def required_rows(self, config: EvalConfig) -> int:
        """Records a bucket needs for a value: the config option when the entry names one."""
        return int(getattr(config, self.min_rows_option)) if self.min_rows_option else self.min_rows

    def macro_rows(self, config: EvalConfig) -> int:
        """Records a bucket needs to count in the macro-average: its own minimum, at least
        `evaluate.macro_min_rows` (so that a few-row bucket does not weigh as much as a full one)."""
        return max(self.required_rows(config), config.macro_min_rows)


_NO_FLOOR = "no human floor: one human answer per prompt (the gold itself scores 1; n/a in the human split)"


def _utility(name: str) -> Callable[[EvalData], dict[str, Any]]:
    def compute(data: EvalData) -> dict[str, Any]:
        if "utility" not in data.cache:
            data.cache["utility"] = utility_scores(data.model, data.human)
        return {"model": data.cache["utility"][name]}

    compute.__name__ = name
    return compute


def _auc_cells(data: EvalData) -> dict[str, Any]:
    """The AUC per context cell: buckets are often too small for a classifier, cells are not."""
    human, model = naturalness.out_of_fold_scores(data, data.auc_folds, data.auc_repeats)
    out: dict[str, Any] = {}
    for cell, idx in sorted(data.rows_by(data.cells).items()):
        if np.isnan(human[idx]).any():
            out[cell] = {"n": len(idx), "value": None, "na": f"fewer than {2 * data.auc_folds} records"}
        else:
            out[cell] = {"n": len(idx), "value": float(rank_auc(human[idx][None], model[idx][None])[0])}
    return out


def _auc_nan(data: EvalData) -> str:
    return f"the cell has fewer than {2 * data.auc_folds} records for {data.auc_folds}-fold cross-validation"


def _no_ngrams(data: EvalData) -> str:
    return "no n-grams in the bucket's responses"


def _no_letters(data: EvalData) -> str:
    return "no response in the bucket has letters to judge its language by"


def _mauve(data: EvalData, config: EvalConfig) -> dict[str, Any]:
    """Global MAUVE and C-MAUVE per context cell with its noise band; the macro is the mean over cells."""
    suite = distribution.mauve_suite(data, config.mauve_min_rows, config.mauve_noise_repeats)
    if "na" in suite:
        return {"na": suite["na"]}
    cells = suite["cells"]
    reported = {c: v["value"] for c, v in cells.items() if v.get("value") is not None}
    macro: dict[str, Any] = {
        "value": float(np.mean(list(reported.values()))) if reported else None,
        "n_cells": len(reported),
        "global": suite["global"]["value"],
    }
    if not reported:
        macro["na"] = f"no context cell has >= {config.mauve_min_rows} rows per side for C-MAUVE"
    return {
        "global": suite["global"],
        "cells": cells,
        "macro": macro,
        "ci_method": "human re-split noise band per cell (no bootstrap)",
    }


_OPTIONS = {f.name for f in dataclasses.fields(EvalConfig)}


def _registry(*metrics: Metric) -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    for metric in metrics:
        if metric.name in out and out[metric.name] != metric:
            raise ValueError(f"metric {metric.name!r} registered twice with different definitions")
        if metric.group not in GROUPS or metric.kind not in KINDS or metric.direction not in DIRECTIONS:
            raise ValueError(
                f"metric {metric.name!r}: group/kind/direction must be in {GROUPS}/{KINDS}/{DIRECTIONS}"
            )
        if metric.fn is None:
            raise ValueError(f"metric {metric.name!r} has no function computing it")
        if not metric.floor or not metric.blind_to:
            raise ValueError(f"metric {metric.name!r} needs its glossary line: floor and blind_to")
        if metric.min_rows_option is not None and metric.min_rows_option not in _OPTIONS:
            raise ValueError(
                f"metric {metric.name!r}: min_rows_option {metric.min_rows_option!r} is no EvalConfig field"
            )
        out[metric.name] = metric
    return out


METRICS = _registry(
    Metric(
        "em",
        "utility",
        "item",
        "higher",
        "exact match with the human response (normalised tokens)",
        _utility("em"),
        ideal=1.0,
        needs_gold=True,
        floor=_NO_FLOOR,
        blind_to="valid answers worded differently; says nothing about naturalness",
    ),
    Metric(
        "token_f1",
        "utility",
        "item",
        "higher",
        "token F1 with the human response (Chinese per character)",
        _utility("token_f1"),
        ideal=1.0,
        needs_gold=True,
        floor=_NO_FLOOR,
        blind_to="word order (a bag of tokens); valid answers worded differently",
    ),
    Metric(
        "rouge_l",
        "utility",
        "item",
        "higher",
        "ROUGE-L F1 (LCS) with the human response",
        _utility("rouge_l"),
        ideal=1.0,
        needs_gold=True,
        floor=_NO_FLOOR,
        blind_to="valid answers worded differently; extra text costs only precision",
    ),
    Metric(
        "chrf",
        "utility",
        "item",
        "higher",
        "chrF (sacrebleu, character 6-grams, β = 2), 0-1",
        _utility("chrf"),
        ideal=1.0,
        needs_gold=True,
        floor=_NO_FLOOR,
        blind_to="valid answers worded differently; a wrong answer that reuses the reference's words",
    ),
    Metric(
        "bng",
        "faithfulness",
        "set",
        "lower",
        "mean over features of W1(model, human) / human std of the bucket",
        distribution.bng,
        floor="the human split's value (> 0: sampling noise of a bucket of that size)",
        blind_to=(
            "meaning, topic and which answer goes with which prompt; wrong combinations of individually "
            "typical feature values (features are compared one at a time)"
        ),
        ideal=0.0,
        min_rows=2,
    ),
    Metric(
        "hcr_all",
        "faithfulness",
        "item",
        "higher",
        "share of responses inside the bucket's human q10-q90 band on every feature",
        distribution.hcr_all,
        floor="the bucket's human test responses' own share (well below 1: each band holds 80% of humans)",
        blind_to="collapse inside the band (every answer at the human median scores best); meaning",
    ),
    Metric(
        "hcr_mean",
        "faithfulness",
        "item",
        "higher",
        "mean per-feature coverage of the bucket's human q10-q90 band",
        distribution.hcr_mean,
        floor="the bucket's human test responses' own coverage (about 0.8)",
        blind_to="collapse inside the band (every answer at the human median scores best); meaning",
    ),
    Metric(
        "mauve",
        "faithfulness",
        "cell",
        "higher",
        "MAUVE of model vs human responses on multilingual embeddings (global; C-MAUVE per cell)",
        _mauve,
        floor="the cell's human re-split noise band (mean ± sd)",
        blind_to=(
            "on sentence embeddings: repetition and a template around long answers (C-MAUVE stayed at "
            "0.93-1.00 on a bilingual corpus); a wrong-language answer (EN and ZH embeddings align); global "
            "MAUVE: answers swapped between cells"
        ),
        ideal=1.0,
        needs_embeddings=True,
    ),
    Metric(
        "length_fit",
        "faithfulness",
        "set",
        "lower",
        "Jensen-Shannon divergence of model vs human length histograms",
        distribution.length_fit,
        floor="the human split's value (> 0: two samples of the bucket's size)",
        blind_to="everything but length",
        ideal=0.0,
        min_rows=2,
    ),
    Metric(
        "tdm",
        "faithfulness",
        "set",
        "lower",
        "turn-dependency mismatch: W1 gaps of length ratio, lexical and semantic coupling to the user turn",
        distribution.tdm,
        floor="the human split's value (each half coupled to its own prompts)",
        blind_to=(
            "single-turn records (n/a); whether the answer is right, beyond its length and overlap with the"
            " user turn"
        ),
        ideal=0.0,
        tracks=("multi",),
        min_rows=2,
    ),
    Metric(
        "language_fit",
        "faithfulness",
        "item",
        "higher",
        "share of responses in the cell's language (offline language id; by script where it abstains)",
        distribution.language_fit,
        nan_reason=_no_letters,
        floor="the bucket's human test responses' own share",
        blind_to=(
            "which language of a shared script, where the detector abstains on a short answer (English vs "
            "French); correctness; any change that keeps the language"
        ),
        blind_degradations=SAME_LANGUAGE,
        ideal=1.0,
    ),
    Metric(
        "support_distance",
        "naturalness",
        "item",
        "lower",
        "mean support distance d(y, b); the human value is the held-out-human floor",
        naturalness.support_distance,
        floor="the bucket's held-out human test responses' own d",
        blind_to=(
            "collapse onto part of the support (an answer inside the band scores 0, METHOD §3); a length "
            "change within the bucket's length bin; meaning; anything the reference features do not measure"
        ),
        ideal=0.0,
    ),
    Metric(
        "auc",
        "naturalness",
        "set",
        "lower",
        "cross-validated AUC of a human-vs-model classifier (0.5 = indistinguishable)",
        naturalness.discriminability,
        floor="0.5 (the human split's value)",
        blind_to=(
            "what neither the features nor the embeddings encode (with the lexical 'hashing' embedder, "
            "meaning); buckets below auc_min_rows (n/a, see the per-cell AUC)"
        ),
        ideal=0.5,
        min_rows_option="auc_min_rows",
        nan_reason=_auc_nan,
        cells=_auc_cells,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "distinct_1",
        "diversity",
        "set",
        "closer_to_human",
        "distinct unigrams / unigrams in the bucket",
        distribution.distinct_1,
        floor="the bucket's human value",
        blind_to=DISTINCT_BLIND_TO,
        blind_degradations=DIVERSITY_BLIND,
        nan_reason=_no_ngrams,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "distinct_2",
        "diversity",
        "set",
        "closer_to_human",
        "distinct bigrams / bigrams in the bucket",
        distribution.distinct_2,
        floor="the bucket's human value",
        blind_to=DISTINCT_BLIND_TO,
        blind_degradations=DIVERSITY_BLIND,
        nan_reason=_no_ngrams,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "self_bleu",
        "diversity",
        "item",
        "closer_to_human",
        "BLEU-4 of each response against the others of its bucket (lower = more diverse)",
        distribution.self_bleu,
        floor="the bucket's human value",
        blind_to=(
            "answers alike in meaning but not in wording; repetition inside one answer; fewer shared n-grams "
            "in cut answers; real answers from another cell are as diverse as people"
        ),
        blind_degradations=(*DIVERSITY_BLIND, "repeated"),
        min_rows=2,
    ),
)


def get_metric(name: str) -> Metric:
    """The registered metric `name`; an unknown name lists close matches and every metric."""
    if name in METRICS:
        return METRICS[name]
    if name.startswith("judge_"):
        return judge_metric(name)
    close = difflib.get_close_matches(name, list(METRICS), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ConfigError(f"unknown metric {name!r}{hint}; registered: {', '.join(METRICS)}")


def select(names: Iterable[str]) -> list[Metric]:
    """The metrics named (every registered metric when none are), in registry order.

    Judge scores are metrics of `polyalign judge`, not of evaluate: naming one here is an error.
    """
    wanted = list(names)
    if not wanted:
        return list(METRICS.values())
    judged = [n for n in wanted if n.startswith("judge_")]
    if judged:
        raise ConfigError(
            f"{', '.join(judged)}: judge scores come from `polyalign judge`, not from evaluate; remove them "
            f"from evaluate.metrics (evaluate computes: {', '.join(METRICS)})"
        )
    chosen = {get_metric(n).name for n in wanted}
    return [m for m in METRICS.values() if m.name in chosen]


def judge_metric(name: str) -> Metric:
    """Judge rubric scores (1-5, higher is better) are metrics too, named `judge_<criterion>`."""
    criterion = name.removeprefix("judge_")
    if criterion not in RUBRIC and criterion != "overall":
        raise ConfigError(f"unknown judge criterion {criterion!r}; rubric: {', '.join(RUBRIC)}, overall")
    description = RUBRIC.get(criterion, "mean of the rubric criteria")
    return Metric(name, "judge", "item", "higher", description, None, ideal=5.0)
