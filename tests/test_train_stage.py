"""Stage `train` and `polyalign train sft`: model folder, summary, reuse, resume, presets, config errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from train_helpers import TEST_SIZE, fixture_train, unequal_records
from typer.testing import CliRunner

from polyalign.artifacts import Artifact
from polyalign.cli import app
from polyalign.config import RunConfig, load_yaml_config
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import prepare_stage
from polyalign.errors import ConfigError
from polyalign.train.config import LoraSettings, TrainConfig
from polyalign.train.stage import build_trainer_args, train_stage

FAST_ARGS = {
    "max_steps": 2,
    "per_device_train_batch_size": 4,
    "max_length": 256,
    "logging_steps": 1,
    "save_steps": 2,
    "disable_tqdm": True,
}


def small_prepared(tmp_path: Path):
    """The prepared fixture with its train split cut to the 24-record set (a test-only shortcut)."""
    prepared = prepare_stage(
        PrepareConfig(sources=[SourceConfig(fixture=0)]), root=tmp_path, out=tmp_path / "prep", progress=False
    )
    fixture_train()
    content = dataclasses.replace(
        prepared.content, splits={**prepared.content.splits, "train": unequal_records()}
    )
    return dataclasses.replace(prepared, content=content)


def config(**overrides) -> TrainConfig:
    tiny = dataclasses.replace(TEST_SIZE, tokenizer_texts=24)
    return TrainConfig(tiny=tiny, **{"args": dict(FAST_ARGS), **overrides})


def test_train_config_presets_and_errors(tmp_path: Path) -> None:
    assert TrainConfig().use_profile and not TrainConfig(method="sft").use_profile
    with pytest.raises(ConfigError, match="plain SFT"):
        TrainConfig(method="sft", profile=True)
    with pytest.raises(ConfigError, match="bucket_temperature"):
        TrainConfig(method="sft", args={"bucket_temperature": 0.0})
    with pytest.raises(ConfigError, match=r"train\.seed"):
        TrainConfig(args={"seed": 3})
    with pytest.raises(ConfigError, match="close matches"):
        build_trainer_args(TrainConfig(args={"learning_rat": 1e-3}), tmp_path)
    args = build_trainer_args(TrainConfig(method="sft", args={"learning_rate": "2e-4"}), tmp_path, tiny=True)
    assert (args.bucket_balance, args.loss_normalization, args.learning_rate) == ("none", "token", 2e-4)
    args = build_trainer_args(TrainConfig(), tmp_path, tiny=True)
    assert (args.bucket_balance, args.bucket_temperature, args.loss_normalization) == (
        "sampling",
        0.0,
        "example",
    )
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  method: bucket_sft\n  lora: {r: 4}\n  args: {learning_rate: 1.0e-3}\n")
    loaded = load_yaml_config(RunConfig, path).train
    assert loaded.lora == LoraSettings(r=4) and loaded.args == {"learning_rate": 1e-3}
    path.write_text("train:\n  methd: sft\n")
    with pytest.raises(ConfigError, match="methd"):
        load_yaml_config(RunConfig, path)


@pytest.mark.slow
def test_stage_writes_a_loadable_model_folder_and_reuses_it(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prepared = small_prepared(tmp_path)
    reference = Artifact(tmp_path / "reference", {"key": "ref123"}, None)  # only its key is read
    root = tmp_path / "home"
    artifact = train_stage(prepared, reference, config(lora=LoraSettings(r=4)), root=root)
    folder = artifact.folder
    assert folder == root / "train" / artifact.key and not artifact.reused
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "train_config.json",
        "log_history.json",
        "training_summary.json",
        "manifest.json",
        "adapter/adapter_config.json",
    ):
        assert (folder / name).is_file(), name
    summary = json.loads((folder / "training_summary.json").read_text())
    assert summary == artifact.content
    assert summary["method"] == "bucket_sft" and summary["profile"] and summary["global_step"] == 2
    assert set(summary["effective_mass"]) == set(summary["buckets"]) and summary["train_loss_curves"]
    assert artifact.manifest["parents"] == {"prepare": prepared.key, "reference": "ref123"}
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.config.vocab_size == len(tokenizer) and tokenizer.chat_template
    resolved = json.loads((folder / "train_config.json").read_text())
    assert resolved["trainer_args"]["bucket_balance"] == "sampling" and resolved["train"]["lora"]["r"] == 4
    again = train_stage(prepared, reference, config(lora=LoraSettings(r=4)), root=root)
    assert again.reused and again.folder == folder and again.content == summary


def test_sft_and_bucket_sft_train_on_the_same_records_and_response_tokens(tmp_path: Path) -> None:
    """max_length 150: the Bucket-SFT prompts (profile included, 112-156 tokens here) leave too little room
    for some responses and none for a few; both methods are fitted by that budget, so both cut the same
    responses and drop the same records, TRL drops nothing, and the same record ids train in both (plain
    SFT's own rows, 37-83 tokens, would all have fitted)."""
    prepared = small_prepared(tmp_path)
    args = {**FAST_ARGS, "max_steps": 1, "max_length": 150}
    summaries = {
        method: train_stage(prepared, None, config(method=method, args=args), root=tmp_path).content
        for method in ("sft", "bucket_sft")
    }
    sft, bucket = summaries["sft"], summaries["bucket_sft"]
    keys = ("examples", "max_length", "history_exchanges_trimmed", "responses_cut", "dropped_for_length")
    assert {k: sft[k] for k in keys} == {k: bucket[k] for k in keys}
    dropped = sum(n for reasons in sft["dropped_for_length"].values() for n in reasons.values())
    assert sft["responses_cut"] and dropped and sft["examples"] == 24 - dropped
    assert sft["dropped_by_truncation"] == bucket["dropped_by_truncation"] == {}
    assert sft["record_ids_sha256"] == bucket["record_ids_sha256"]


@pytest.mark.slow
def test_stage_resumes_from_the_last_checkpoint(tmp_path: Path) -> None:
    prepared = small_prepared(tmp_path)
    out = tmp_path / "model"
    train_stage(prepared, None, config(), root=tmp_path, out=out)
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    longer = config(args={**FAST_ARGS, "max_steps": 4})  # another key: the folder is trained again
    artifact = train_stage(prepared, None, longer, root=tmp_path, out=out, resume=True)
    assert artifact.content["resumed_from"] == "checkpoint-2" and artifact.content["global_step"] == 4
    steps = [e["step"] for e in json.loads((out / "log_history.json").read_text()) if "loss" in e]
    assert steps == [1, 2, 3, 4]  # the first two steps come from the checkpoint's log history


@pytest.mark.slow
def test_cli_train_sft_plain_baseline(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    args = {**FAST_ARGS, "max_steps": 1}
    tiny = {
        "vocab_size": 512,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "tokenizer_texts": 50,
    }
    fixture = {"sources": [{"fixture": 0}]}
    path.write_text(
        json.dumps({"prepare": fixture, "train": {"method": "bucket_sft", "tiny": tiny, "args": args}})
    )
    out = tmp_path / "sft"
    result = CliRunner().invoke(app, ["train", "sft", "-c", str(path), "--method", "sft", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "artefact key" in result.output and "balance none" in result.output
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["method"] == "sft" and not summary["profile"] and summary["loss_normalization"] == "token"
    bad = CliRunner().invoke(app, ["train", "sft", "-c", str(path), "--method", "dpo"])
    assert bad.exit_code == 2 and "train.method" in bad.output


def test_the_resolved_precision_is_part_of_the_train_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU (fp32) and a GPU (bf16) model of one config never share a key; train.args decides first."""
    from polyalign.train import stage

    assert stage.resolve_precision(TrainConfig()) == "fp32"  # no CUDA here
    assert stage.resolve_precision(TrainConfig(args={"bf16": True})) == "bf16"
    assert stage.resolve_precision(TrainConfig(args={"fp16": True})) == "fp16"
    assert stage.resolve_precision(TrainConfig(args={"bf16": False})) == "fp32"
    cpu = stage.train_key("prep", "ref", TrainConfig())
    monkeypatch.setattr(stage, "resolve_precision", lambda config: "bf16")
    assert stage.train_key("prep", "ref", TrainConfig()) != cpu


def test_a_bf16_checkpoint_is_trained_in_float32(tmp_path: Path) -> None:
    """Mixed precision keeps float32 master weights only of float32 parameters (`load_trainable`)."""
    import torch
    from train_helpers import tokenizer

    from polyalign.train.stage import load_trainable
    from polyalign.train.tiny import build_tiny_model

    build_tiny_model(tokenizer(), TEST_SIZE).to(torch.bfloat16).save_pretrained(tmp_path)
    assert {p.dtype for p in load_trainable(tmp_path).parameters()} == {torch.float32}
