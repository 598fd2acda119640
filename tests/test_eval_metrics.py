"""Acceptance of the metric suite (issue 6): human vs human looks human, degraded responses do not.

The human test responses, split in two halves per bucket, are evaluated against each other (half A's
own responses, then degraded versions of them, against half B's): MAUVE near 1,
BNG near 0, AUC near 0.5. Deliberately degraded versions of the same responses (truncated, templated,
shuffled between context cells) must move every faithfulness metric the expected way. On the synthetic
fixture (test split enlarged to ~60 records per cell; C-MAUVE from 25 rows per side so the cells are
reported) and, when present, on the development corpus.
"""

from __future__ import annotations

import numpy as np
import pytest
from eval_helpers import EDGES, big_fixture, fast_config

from polyalign.errors import ConfigError
from polyalign.evaluate.degrade import degrade
from polyalign.evaluate.engine import evaluate_generations
from polyalign.evaluate.generations import Generations, human_split
from polyalign.evaluate.registry import METRICS, get_metric, select
from polyalign.reference.embedders import load_embedder

pytestmark = pytest.mark.slow


def _macro(result, metric):
    entry = result.results["metrics"][metric]
    return entry["macro"]["value"]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    prepared, reference = big_fixture(str(tmp_path_factory.mktemp("eval-metrics")))
    records, human = human_split(prepared.splits["test"], seed=0)
    config = fast_config(mauve_min_rows=25)
    embedder = load_embedder("hashing")
    out = {}
    for kind in ("human", "truncated", "templated", "shuffled"):
        responses = human.responses if kind == "human" else degrade(records, human.responses, kind)
        out[kind] = evaluate_generations(
            records,
            Generations(responses, {"method": kind}, partners=human.partners),
            reference,
            config,
            edges=EDGES,
            train_records=prepared.splits["train"],
            embedder=embedder,
            name=kind,
        )
    return out


def test_human_vs_human_looks_human(evaluated):
    human = evaluated["human"]
    mauve = human.results["metrics"]["mauve"]
    assert mauve["global"]["value"] > 0.9
    assert mauve["macro"]["n_cells"] > 10 and mauve["macro"]["value"] > 0.8
    assert _macro(human, "bng") < 0.3
    # The fixture repeats template sentences across records, which biases a cross-validated AUC of
    # indistinguishable samples slightly below 0.5 (near-duplicates land on both sides); it stays
    # far from the degraded runs (> 0.9). On the development corpus it is 0.49-0.51.
    assert 0.35 < _macro(human, "auc") < 0.6
    distance = human.results["metrics"]["support_distance"]["macro"]
    assert abs(distance["value"] - distance["human"]) < 0.02  # at the held-out human floor


@pytest.mark.parametrize("kind", ["truncated", "templated", "shuffled"])
def test_degraded_responses_move_every_faithfulness_metric(evaluated, kind):
    human, bad = evaluated["human"], evaluated[kind]
    assert _macro(bad, "bng") > _macro(human, "bng") + 0.3
    assert _macro(bad, "hcr_all") < _macro(human, "hcr_all")
    assert _macro(bad, "hcr_mean") < _macro(human, "hcr_mean") - 0.05
    assert _macro(bad, "length_fit") > _macro(human, "length_fit")
    assert _macro(bad, "tdm") > _macro(human, "tdm")
    # C-MAUVE per cell sees every degradation; pooled MAUVE cannot see responses swapped between cells
    assert _macro(bad, "mauve") < _macro(human, "mauve") - 0.2
    if kind != "shuffled":
        assert bad.results["metrics"]["mauve"]["global"]["value"] < 0.6
    assert _macro(bad, "support_distance") > 2 * _macro(human, "support_distance")
    assert _macro(bad, "auc") > 0.8
    if kind == "shuffled":  # half the swaps cross languages: multilingual embeddings barely notice
        assert _macro(bad, "language_fit") < _macro(human, "language_fit") - 0.3


def test_diversity_is_reported_beside_the_human_value(evaluated):
    templated = evaluated["templated"].results["metrics"]
    for name in ("distinct_1", "distinct_2", "self_bleu"):
        assert templated[name]["macro"]["human"] is not None
    assert templated["self_bleu"]["macro"]["value"] > templated["self_bleu"]["macro"]["human"]


def test_c_mauve_carries_its_noise_band_and_small_cells_are_na(evaluated):
    """Every reported cell has a band of non-zero width, and human-vs-human C-MAUVE lies inside it by the
    report's own rule (a gap counts beyond 1.96·√2·sd): in at least 80% of the cells. On this fixture, with
    5 noise repeats, 14 of 16 do; zh|single|open_chat (0.89 against 0.997 ± 0.005) does not."""
    cells = evaluated["human"].results["metrics"]["mauve"]["cells"]
    reported = {name: c for name, c in cells.items() if c["value"] is not None}
    assert len(reported) > 10
    assert all(c["noise"]["sd"] > 0 and c["noise"]["n_per_side"] >= 25 for c in reported.values())
    outside = {
        name: round((c["value"] - c["noise"]["mean"]) / c["noise"]["sd"], 1)
        for name, c in reported.items()
        if abs(c["value"] - c["noise"]["mean"]) > 1.96 * np.sqrt(2) * c["noise"]["sd"]
    }
    assert len(outside) <= 0.2 * len(reported), f"outside the noise band (z): {outside}"
    assert all("C-MAUVE needs >= 25" in c["na"] for c in cells.values() if c["value"] is None)


def test_intervals_bracket_the_point_estimates(evaluated):
    for name, entry in evaluated["templated"].results["metrics"].items():
        macro = entry.get("macro", {})
        if macro.get("low") is not None:
            assert macro["low"] - 1e-9 <= macro["value"] <= macro["high"] + 1e-9, name


def test_registry_lookups_are_loud():
    assert get_metric("bng").direction == "lower"
    with pytest.raises(ConfigError, match="did you mean bng"):
        get_metric("bgn")
    assert [m.name for m in select(["auc", "em"])] == ["em", "auc"]
    assert set(METRICS) >= {"em", "token_f1", "rouge_l", "chrf", "bng", "hcr_all", "mauve", "tdm", "auc"}


@pytest.mark.devcorpus
def test_dev_corpus_human_vs_human(dev_corpus, tmp_path):
    from polyalign.data.config import PrepareConfig, SourceConfig
    from polyalign.data.prepare import prepare_stage
    from polyalign.reference.config import ReferenceConfig
    from polyalign.reference.reference import build_reference

    prepared = prepare_stage(
        PrepareConfig(sources=[SourceConfig(path=str(dev_corpus / "*.jsonl"), format="polyalign")]),
        root=tmp_path,
        out=tmp_path / "dev",
        progress=False,
    ).content
    reference = build_reference(prepared.splits["train"], ReferenceConfig())
    records, human = human_split(prepared.splits["test"], seed=0)
    config = fast_config(mauve_min_rows=20)
    embedder = load_embedder("hashing")
    results = {}
    for kind in ("human", "templated"):
        responses = human.responses if kind == "human" else degrade(records, human.responses, kind)
        results[kind] = evaluate_generations(
            records,
            Generations(responses, {}, partners=human.partners),
            reference,
            config,
            edges=EDGES,
            embedder=embedder,
            train_records=prepared.splits["train"],
        ).results["metrics"]
    assert results["human"]["mauve"]["global"]["value"] > 0.9
    assert abs(results["human"]["auc"]["macro"]["value"] - 0.5) < 0.1
    assert results["templated"]["auc"]["macro"]["value"] > 0.9
    assert results["templated"]["bng"]["macro"]["value"] > 2 * results["human"]["bng"]["macro"]["value"]
    assert np.isfinite(results["human"]["bng"]["macro"]["value"])
