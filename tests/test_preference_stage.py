"""The preference stage end to end on a tiny model: start policy → pairs → HDPO / DPO, reuse, what a
changed setting rebuilds, and `polyalign train pref`."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from train_helpers import unequal_records
from typer.testing import CliRunner

from polyalign.cli import app
from polyalign.config import RunConfig
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.records import write_records
from polyalign.generate.config import DecodingConfig
from polyalign.pipeline import preference_run
from polyalign.train.config import PreferenceConfig, TrainConfig
from polyalign.train.pairs_config import PairsConfig
from polyalign.train.tiny import TEST_SIZE

TRAIN_ARGS = {"max_steps": 1, "per_device_train_batch_size": 4, "max_length": 256, "disable_tqdm": True}
PREFERENCE_ARGS = {
    "max_steps": 4,
    "per_device_train_batch_size": 4,
    "max_length": 256,
    "logging_steps": 2,
    "save_steps": 2,
    "disable_tqdm": True,
}


def _config(records: Path, **preference) -> RunConfig:
    return RunConfig(
        prepare=PrepareConfig(sources=[SourceConfig(path=str(records), format="polyalign")]),
        train=TrainConfig(tiny=dataclasses.replace(TEST_SIZE, tokenizer_texts=24), args=TRAIN_ARGS),
        pairs=PairsConfig(decoding=DecodingConfig(max_new_tokens=8)),
        preference=PreferenceConfig(online_interval=2, args=PREFERENCE_ARGS, **preference),
    )


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pref") / "records.jsonl"
    write_records(path, unequal_records())
    return path


@pytest.mark.slow
def test_hdpo_from_bucket_sft_then_a_changed_setting_rebuilds_only_the_preference_stage(
    records: Path, tmp_path: Path
) -> None:
    run = preference_run(_config(records), root=tmp_path)
    summary = run.model.content
    assert summary["method"] == "hdpo" and summary["start_method"] == "bucket_sft" and summary["weighted"]
    assert summary["coefficients"] == {"lambda_sup": 0.1, "gamma": 0.05, "lambda_online": 0.05}
    assert summary["global_step"] == 4 and summary["examples"] == len(run.pairs.content.rows)
    assert summary["max_length"] == 256 and summary["dropped_by_truncation"] == {}
    assert {"history_exchanges_trimmed", "chosen_cut", "rejected_cut", "dropped_for_length"} <= set(summary)
    logged = summary["final_logs"]
    assert {"loss", "rewards/margins"} <= set(logged)
    assert any("online" in k for k in logged) and any("anchor" in k for k in logged)
    saved = json.loads((run.model.folder / "train_config.json").read_text())
    assert saved["train"]["method"] == "bucket_sft" and saved["train"]["profile"] is None
    assert saved["trainer_args"]["lambda_sup"] == 0.1 and saved["trainer_args"]["gamma_anchor"] == 0.05
    assert run.model.manifest["parents"]["pairs"] == run.pairs.key
    assert (run.model.folder / "model.safetensors").is_file()

    again = preference_run(_config(records), root=tmp_path)
    assert again.model.reused and again.model.key == run.model.key

    changed = preference_run(_config(records, gamma=0.2), root=tmp_path)
    assert changed.policy.reused and changed.pairs.reused and changed.pairs.key == run.pairs.key
    assert not changed.model.reused and changed.model.key != run.model.key
    assert changed.model.content["coefficients"]["gamma"] == 0.2


@pytest.mark.slow
def test_dpo_starts_from_plain_sft_with_unit_weights_through_the_cli(
    records: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(records)
    document = {
        "prepare": {"sources": [{"path": str(records), "format": "polyalign"}]},
        "train": {"tiny": dataclasses.asdict(config.train.tiny), "args": TRAIN_ARGS},
        "pairs": {"decoding": {"max_new_tokens": 8}},
        "preference": {"args": PREFERENCE_ARGS},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    monkeypatch.setenv("POLYALIGN_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(app, ["train", "pref", "-c", str(path), "--method", "dpo"])
    assert result.exit_code == 0, result.output
    assert "preference artefact key" in result.output and "dpo from sft" in result.output
    (folder,) = (tmp_path / "home" / "preference").iterdir()
    summary = json.loads((folder / "training_summary.json").read_text())
    assert summary["method"] == "dpo" and summary["start_method"] == "sft" and not summary["weighted"]
    assert summary["coefficients"] == {"lambda_sup": 0.0, "gamma": 0.0, "lambda_online": 0.0}
    refused = CliRunner().invoke(app, ["train", "pref", "-c", str(path), "--method", "ppo"])
    assert refused.exit_code == 2 and "preference.method must be one of" in refused.output


@pytest.mark.slow
def test_an_interrupted_hdpo_run_resumes_to_the_same_model(records: Path, tmp_path: Path) -> None:
    """Online term on (steps 0 and 2): its baselines travel in the checkpoint, so a run cut after step 2
    and resumed ends with the weights of an uninterrupted one."""
    from safetensors.torch import load_file

    whole = preference_run(_config(records), root=tmp_path, out=tmp_path / "whole").model
    cut = tmp_path / "cut"
    preference_run(_config(records), root=tmp_path, out=cut)
    state = json.loads((cut / "checkpoints" / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["stateful_callbacks"]["OnlineBaselines"]["args"]["values"]  # baselines after step 0
    for name in ("manifest.json", "model.safetensors"):  # as if killed during step 3
        (cut / name).unlink()
    shutil.rmtree(cut / "checkpoints" / "checkpoint-4")
    resumed = preference_run(_config(records), root=tmp_path, out=cut, resume=True).model
    assert resumed.content["resumed_from"] == "checkpoint-2" and resumed.content["global_step"] == 4
    expected, got = load_file(whole.folder / "model.safetensors"), load_file(cut / "model.safetensors")
    assert expected.keys() == got.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(got[name], tensor, rtol=0, atol=0, msg=name)
