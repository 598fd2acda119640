"""`pipeline.full_run` as a graph of stages: every method and the untrained base model side by side, and a
changed HDPO setting rebuilds only what depends on it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from train_helpers import unequal_records

from polyalign.config import RunConfig
from polyalign.data.config import PrepareConfig, SourceConfig, SplitConfig
from polyalign.data.records import write_records
from polyalign.evaluate.config import EvalConfig
from polyalign.generate.config import DecodingConfig, GenerateConfig
from polyalign.pipeline import full_run
from polyalign.train.config import PreferenceConfig, TrainConfig
from polyalign.train.pairs_config import PairsConfig
from polyalign.train.tiny import TEST_SIZE

ARGS = {"max_steps": 2, "per_device_train_batch_size": 4, "max_length": 256, "disable_tqdm": True}
METHODS = ("dpo", "hdpo", "base")


class Recorder:
    """What each stage did, in order: (stage, method, reused)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str | None, bool]] = []

    def start(self, stage: str, method: str | None = None) -> None:
        pass

    def done(self, stage: str, artifact: Any, method: str | None = None) -> None:
        self.events.append((stage, method, artifact.reused))


def _config(records: Path, **preference: Any) -> RunConfig:
    return RunConfig(
        prepare=PrepareConfig(
            sources=[SourceConfig(path=str(records), format="polyalign")],
            splits=SplitConfig(respect_existing=False),  # the records are train records: split them afresh
        ),
        train=TrainConfig(tiny=dataclasses.replace(TEST_SIZE, tokenizer_texts=24), args=ARGS),
        pairs=PairsConfig(decoding=DecodingConfig(max_new_tokens=8)),
        preference=PreferenceConfig(online_interval=1, args=ARGS, **preference),
        generate=GenerateConfig(limit=12, decoding=DecodingConfig(max_new_tokens=8)),
        evaluate=EvalConfig(embedder="hashing", bootstrap=10, metrics=["token_f1", "length_fit"]),
    )


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    home = tmp_path_factory.mktemp("graph")
    records = home / "records.jsonl"
    write_records(records, unequal_records())
    return records, home, full_run(_config(records), METHODS, root=home)


@pytest.mark.slow
def test_every_method_and_the_base_model_are_generated_and_evaluated(first) -> None:
    run = first[2]
    assert list(run.evaluations) == list(METHODS) and set(run.models) == {"dpo", "hdpo"}
    profiles = {
        m: json.loads((g.folder / "manifest.json").read_text())["config"]["profile"]
        for m, g in run.generations.items()
    }
    assert profiles == {
        "dpo": "off",
        "hdpo": "sample",
        "base": "off",
    }  # the profile only where it trained with it
    report = run.report.content.html.read_text(encoding="utf-8")
    assert all(method in report for method in METHODS)


@pytest.mark.slow
def test_the_base_model_is_the_untrained_start_of_every_tiny_training(first) -> None:
    """Same tokenizer and initial weights as a training builds (so base shows what training changed)."""
    from transformers import AutoModelForCausalLM

    from polyalign.train.stage import load_model_and_tokenizer

    records, home, run = first
    (base_folder,) = home.glob("base/*/")
    base = AutoModelForCausalLM.from_pretrained(base_folder)
    config = _config(records)
    built, _ = load_model_and_tokenizer(config.train, run.prepared.content.splits["train"])
    for (name, a), b in zip(base.state_dict().items(), built.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    trained = AutoModelForCausalLM.from_pretrained(run.models["dpo"].folder)
    assert not torch.equal(trained.state_dict()["lm_head.weight"], base.state_dict()["lm_head.weight"])


@pytest.mark.slow
def test_a_changed_hdpo_setting_rebuilds_only_hdpo_and_what_follows(first) -> None:
    """λ_sup is HDPO's alone: DPO, the start policies, the pairs and the base model are reused; HDPO's
    training, generation and evaluation and the report are rebuilt."""
    records, home, _ = first
    recorder = Recorder()
    full_run(_config(records, lambda_sup=0.3), METHODS, root=home, reporter=recorder)
    rebuilt = {(stage, method) for stage, method, reused in recorder.events if not reused}
    assert rebuilt == {("preference", "hdpo"), ("generate", "hdpo"), ("evaluate", "hdpo"), ("report", None)}
