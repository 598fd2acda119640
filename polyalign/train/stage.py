"""Stage `train`: prepared data (+ human reference) + `TrainConfig` → a model folder.

Reads the train split of a prepare artefact (and the key of the reference artefact, which inference uses
to sample profile lengths). Writes `<root>/train/<key>` (or `out`):

    config.json, model.safetensors, generation_config.json   the trained model (LoRA: merged), save_pretrained
    tokenizer.json, tokenizer_config.json, chat_template.jinja
    adapter/                                                 the LoRA adapter alone (LoRA only)
    train_config.json        the resolved TrainConfig and every BucketSFTConfig field
    training_summary.json    per-bucket plan, effective mass, loss curves, what fitting to max_length did
                             (history trimmed, responses cut, records dropped; the same for SFT and
                             Bucket-SFT, see `train.data`), the trained record ids' digest, runtime
    log_history.json         the trainer's log history
    train_log.jsonl          every log dict as it was logged (each bucket's loss and mass), one a line
    checkpoints/             trainer checkpoints (resume with `resume=True`)
    manifest.json            written last: the folder is complete

Training builds in place (`artifacts.run_stage(in_place=True)`): its checkpoints must survive a crash to
be resumed, so completion is marked by the manifest alone: a folder without one is incomplete and is
trained again, from its last checkpoint when asked to resume.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import shutil
import time
import typing
from collections import Counter
from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.config import config_hash
from polyalign.data.prepare import PreparedData
from polyalign.errors import ConfigError, PolyAlignError
from polyalign.train.config import PLAIN_SFT_ARGS, LoraSettings, PreferenceConfig, TrainConfig

STAGE, STAGE_VERSION = "train", 3  # 2: precision in the key; 3: every method fitted by the profile budget
SUMMARY_FILE = "training_summary.json"
LOG_HISTORY = "log_history.json"
TRAIN_LOG = "train_log.jsonl"
CHECKPOINTS = "checkpoints"

# Defaults of this stage where they differ from TRL's SFTConfig, and why.
STAGE_DEFAULTS: dict[str, Any] = {
    "activation_checkpointing": False,  # TRL: True; small and CPU models train faster without it
    "report_to": "none",  # TRL: every installed integration; ask for one explicitly
    "save_strategy": "steps",
    "save_steps": 100,  # a multiple of logging_steps, so logged bucket mass matches checkpoints
    "save_total_limit": 2,
    "logging_steps": 10,
    "num_train_epochs": 1.0,
    "per_device_train_batch_size": 8,
}
TINY_DEFAULTS: dict[str, Any] = {"learning_rate": 1e-3}  # a randomly initialised tiny model needs a high lr


def train_key(prepare_key: str, reference_key: str | None, config: TrainConfig) -> str:
    """Hashes the parents, the config and the precision it resolves to on this machine.

    Precision changes the trained weights, so a CPU- (fp32) and a GPU-trained (bf16) model never share a key.
    """
    return artifacts.artifact_key(
        STAGE,
        STAGE_VERSION,
        prepare_key,
        reference_key or "-",
        config_hash(config),
        resolve_precision(config),
    )


def train_stage(
    prepared: Artifact[PreparedData],
    reference: Artifact[Any] | None,
    config: TrainConfig,
    *,
    root: Path,
    out: Path | None = None,
    resume: bool = False,
    force: bool = False,
    verbose: bool = False,
) -> Artifact[dict[str, Any]]:
    """Train (or reuse) the model of `config` on the prepared train split; the content is the summary.

    Only the reference's key is read: it names the profile lengths inference will sample from. Without
    `resume` an incomplete folder's checkpoints are discarded and training starts again; `verbose` prints
    every log dict (each bucket's loss and mass) instead of the loss and a few aggregates.
    """
    reference_key = reference.manifest["key"] if reference is not None else None
    key = train_key(prepared.key, reference_key, config)
    return artifacts.run_stage(
        STAGE,
        STAGE_VERSION,
        key,
        out or root / STAGE / key,
        lambda folder: _train(prepared, config, folder, resume, verbose),
        load_summary,
        parents={"prepare": prepared.key, "reference": reference_key},
        config=config,
        force=force,
        in_place=True,  # checkpoints must survive a crash to be resumed
    )


def open_train(folder: Path) -> Artifact[dict[str, Any]]:
    """A complete train artefact (a trained model folder) read back from its folder."""
    return artifacts.open_artifact(
        folder, STAGE, load_summary, "give the folder `polyalign train sft` printed"
    )


def load_summary(folder: Path) -> dict[str, Any]:
    """A trained model folder's `training_summary.json` (the content of train and preference artefacts)."""
    return json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))


def _train(
    prepared: Artifact[PreparedData], config: TrainConfig, folder: Path, resume: bool, verbose: bool
) -> dict[str, Any]:
    """Train into `folder` (from its last checkpoint when resuming); the main process saves the model."""
    from polyalign.train.bucket_sft import BucketSFTTrainer
    from polyalign.train.data import record_ids_digest, records_to_dataset

    records = prepared.content.splits["train"]
    model, tokenizer = load_model_and_tokenizer(config, records)
    args = build_trainer_args(config, folder / CHECKPOINTS, tiny=config.model == "tiny")
    dataset, fitted = records_to_dataset(
        records, config.use_profile, config.profile_length_dropout, config.seed, tokenizer, args.max_length
    )
    trainer = BucketSFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config(config.lora),
    )
    run = fit(trainer, folder, resume, verbose, lora=config.lora is not None)
    summary = {
        "method": config.method,
        "profile": config.use_profile,
        "loss_normalization": args.loss_normalization,
        **run,
        "examples": len(dataset),
        "max_length": args.max_length,
        **fitted.summary(),
        "dropped_by_truncation": truncation_drops(dataset["bucket"], trainer.train_dataset["bucket"]),
        "record_ids_sha256": record_ids_digest(trainer.train_dataset["id"]),
        **trainer.bucket_summary(),
    }
    resolved = {"train": dataclasses.asdict(config)}
    save_model(trainer, tokenizer, config.lora is not None, folder, resolved, summary)
    return {"precision": resolve_precision(config)}


def truncation_drops(given: list[str], kept: list[str]) -> dict[str, int]:
    """Examples per bucket that TRL dropped for `max_length` (none, once `train.data` fitted them)."""
    left = Counter(str(b) for b in kept)
    return {b: n - left[b] for b, n in sorted(Counter(given).items()) if n > left[b]}


def fit(trainer: Any, folder: Path, resume: bool, verbose: bool, *, lora: bool) -> dict[str, Any]:
    """Train into `folder/checkpoints` (from the last complete checkpoint when resuming), logging every
    log dict to `train_log.jsonl`; returns the summary fields every training stage reports. A LoRA model
    the final save could not merge (`refuse_sharded_lora`) is refused before the first step."""
    from polyalign.train.console import TrainLog, quiet_progress

    refuse_sharded_lora(trainer, lora)
    if not resume:
        shutil.rmtree(folder / CHECKPOINTS, ignore_errors=True)
    checkpoint = _last_checkpoint(folder / CHECKPOINTS)
    resumed_at = checkpoint_step(checkpoint) if checkpoint else 0
    trainer.add_callback(TrainLog(folder / TRAIN_LOG, resumed_at))
    if not verbose:
        quiet_progress(trainer)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    state = trainer.state
    return {
        "resumed_from": checkpoint.name if checkpoint else None,
        "global_step": state.global_step,
        "epochs": state.epoch,
        "train_loss": whole_run_loss(state.log_history, resumed_at, result.training_loss, state.global_step),
        "wall_seconds": time.perf_counter() - started,
    }


def whole_run_loss(history: list[dict[str, Any]], resumed_at: int, loss: float, global_step: int) -> float:
    """The mean loss over every step of the run, resumed or not.

    The trainer's `training_loss` averages only the steps of this call; the steps before `resumed_at` are
    covered by the logged losses of the checkpoint's history (each the mean since the previous log; the
    stage's save_steps is a multiple of logging_steps, so they end at the checkpoint).
    """
    earlier, last = 0.0, 0
    for entry in history:
        if "loss" in entry and entry["step"] <= resumed_at:
            earlier += entry["loss"] * (entry["step"] - last)
            last = entry["step"]
    return (earlier + loss * (global_step - resumed_at)) / max(global_step, 1)


def build_trainer_args(config: TrainConfig, output_dir: Path, tiny: bool = False) -> Any:
    """`BucketSFTConfig` from stage defaults, then `config.args`, then the method preset; strict keys."""
    from polyalign.train.bucket_sft import BucketSFTConfig

    preset = PLAIN_SFT_ARGS if config.method == "sft" else {}
    defaults = {**STAGE_DEFAULTS, **(TINY_DEFAULTS if tiny else {})}
    return trainer_arguments(BucketSFTConfig, "train", config, output_dir, defaults, preset)


def trainer_arguments(
    cls: type, section: str, config: Any, output_dir: Path, defaults: dict[str, Any], preset: dict[str, Any]
) -> Any:
    """A TRL config `cls` from `defaults` and the device, then the user's `config.args` (unknown keys are
    an error naming close matches), then what the method fixes (`preset`), with `config.seed`."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(config.args) - set(fields))
    if unknown:
        hints = {k: difflib.get_close_matches(k, fields, n=3) for k in unknown}
        raise ConfigError(
            f"{section}.args: unknown {cls.__name__} field(s) {unknown}; close matches: {hints}"
        )
    values = {**defaults, **device_settings(config)}
    types = typing.get_type_hints(cls)
    values.update({k: _coerce_number(types[k], v, f"{section}.args.{k}") for k, v in config.args.items()})
    values.update(preset)
    try:
        return cls(output_dir=str(output_dir), seed=config.seed, **values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{section}.args: {error}") from None


def resolve_precision(config: TrainConfig | PreferenceConfig) -> str:
    """`bf16`, `fp16` or `fp32`: what `train.args` states, else bf16 where CUDA supports it, else fp32.

    TRL's default is bf16 even on CPU; we choose from the machine when the config is silent, and the
    choice goes into the train key.
    """
    if config.args.get("bf16"):
        return "bf16"
    if config.args.get("fp16"):
        return "fp16"
    if "bf16" in config.args or "fp16" in config.args:
        return "fp32"  # stated off
    import torch

    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"


def device_settings(config: TrainConfig | PreferenceConfig) -> dict[str, bool]:
    """The resolved precision as trainer arguments, and pinned memory when CUDA is there (no effect on
    the weights)."""
    import torch

    precision = resolve_precision(config)
    return {
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "dataloader_pin_memory": torch.cuda.is_available(),
    }


def _coerce_number(hint: Any, value: Any, key: str) -> Any:
    """YAML reads `1e-3` as a string; a float field gets a float."""
    if isinstance(value, str) and float in (*typing.get_args(hint), hint):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    return value


def load_trainable(model: str | Path) -> Any:
    """A model to train, in float32 whatever dtype its checkpoint stores.

    Mixed precision (`bf16: true`) keeps float32 master weights only of float32 parameters: a model loaded
    in bf16 is updated in bf16, where small steps round away (ten AdamW steps at lr 5e-7 changed 0.95% of
    a bf16 weight matrix, 99.97% in float32).
    """
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)


def load_model_and_tokenizer(config: TrainConfig, records: list[Any]) -> tuple[Any, Any]:
    """The tiny offline model (tokenizer trained on the train records, and their profiles if asked), or a
    pretrained model by name."""
    if config.model == "tiny":
        from polyalign.data.prompts import training_profile
        from polyalign.train.tiny import build_tiny

        chosen = records[: config.tiny.tokenizer_texts]
        texts = [m.content for r in chosen for m in r.messages]
        if config.tiny.tokenizer_profiles:
            texts += [training_profile(r).text() for r in chosen if r.length_units is not None]
        return build_tiny(texts, config.tiny)
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(config.model)
        model = load_trainable(config.model)
    except OSError as error:
        raise PolyAlignError(
            f"cannot load model {config.model!r} ({error}); "
            "give a local folder, a reachable hub name, or `tiny`"
        ) from None
    if tokenizer.chat_template is None:
        raise PolyAlignError(
            f"the tokenizer of {config.model!r} has no chat template; SFT renders chats with it"
        )
    return model, tokenizer


def peft_config(lora: LoraSettings | None) -> Any:
    """`peft.LoraConfig` of the settings, or None for full fine-tuning."""
    if lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
    )


def _last_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint: the trainer writes `trainer_state.json` last, so a checkpoint cut
    short by a crash has none and is passed over."""
    checkpoints = [
        p
        for p in folder.glob("checkpoint-*")
        if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return max(checkpoints, key=checkpoint_step, default=None)


def checkpoint_step(checkpoint: Path) -> int:
    """The global step a trainer checkpoint folder (`checkpoint-<step>`) was saved at."""
    return int(checkpoint.name.split("-")[-1])


def save_model(
    trainer: Any, tokenizer: Any, lora: bool, folder: Path, resolved: dict[str, Any], summary: dict[str, Any]
) -> None:
    """The trained model, tokenizer, the resolved configs with every trainer argument, the log history and
    the training summary; every rank returns once they are written, so all write the same manifest.

    Called on every rank. Full weights go through `Trainer.save_model`, which gathers ZeRO-3 and FSDP
    shards before its main process writes them. A LoRA model is merged in memory by the main process (its
    adapter kept in `adapter/`), which needs whole weights there: `fit` refuses such a run before it trains.
    """
    if not lora:
        trainer.save_model(str(folder))
    if trainer.is_world_process_zero():
        if lora:
            adapter = folder / "adapter"
            if adapter.exists():
                shutil.rmtree(adapter)
            trainer.model.save_pretrained(adapter)
            trainer.model.merge_and_unload().save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        resolved = {**resolved, "trainer_args": json.loads(trainer.args.to_json_string())}
        artifacts.write_json(folder / "train_config.json", resolved)
        artifacts.write_json(folder / LOG_HISTORY, trainer.state.log_history)
        artifacts.write_json(folder / SUMMARY_FILE, summary)
    trainer.accelerator.wait_for_everyone()


def refuse_sharded_lora(trainer: Any, lora: bool) -> None:
    """LoRA under ZeRO-3 or FSDP would be merged from weight shards: refused before any step is spent."""
    plugin = trainer.accelerator.state.deepspeed_plugin if trainer.is_deepspeed_enabled else None
    if lora and (trainer.is_fsdp_enabled or (plugin is not None and plugin.zero_stage == 3)):
        raise ConfigError(
            "LoRA is merged into the base weights when training ends, which needs whole weights in one "
            "process: run LoRA with DDP or DeepSpeed ZeRO-2 (configs/accelerate/ddp.yaml, zero2.yaml), "
            "or train full weights under ZeRO-3/FSDP"
        )
