"""Every YAML config the project ships is valid, so a typo fails here and not hours into a GPU run.

Run configs (everything under configs/ but configs/accelerate/, and polyalign/defaults/) go through the
CLI's own `load_config` (unknown keys and invalid values are errors) and their `train.args` and
`preference.args` are built into the TRL configs they feed (unknown trainer fields are errors too).
Accelerate configs go through accelerate's own `ClusterConfig` and launch-argument parser. The files are
globbed, so a new config is tested without editing this file. Nothing is downloaded: only configs are built.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from polyalign.cli.common import load_config
from polyalign.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
ACCELERATE = ROOT / "configs" / "accelerate"
RECIPES = ROOT / "configs" / "recipes"
SHIPPED = sorted([*(ROOT / "configs").rglob("*.y*ml"), *(ROOT / "polyalign" / "defaults").glob("*.y*ml")])
RUN_CONFIGS = [p for p in SHIPPED if ACCELERATE not in p.parents]
ACCELERATE_CONFIGS = [p for p in SHIPPED if ACCELERATE in p.parents]
RECIPE_CONFIGS = [p for p in SHIPPED if RECIPES in p.parents]
HUB_MODELS = {
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-1.5B-Instruct",
    "meta-llama/Llama-3.2-1B-Instruct",
    "meta-llama/Llama-3.2-3B-Instruct",
}


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def build_trainer_configs(path: Path, output_dir: Path) -> tuple[Any, Any]:
    """`BucketSFTConfig` and `HDPOConfig` as the train and preference stages build them from the file."""
    import torch

    from polyalign.train.hdpo import HDPOConfig
    from polyalign.train.preference import PREFERENCE_DEFAULTS
    from polyalign.train.stage import build_trainer_args, trainer_arguments

    config = load_config(path)
    # TrainingArguments refuses bf16 on a machine without CUDA unless told it is a CPU run
    cpu = {} if torch.cuda.is_available() else {"use_cpu": True}
    train = dataclasses.replace(config.train, args={**config.train.args, **cpu})
    preference = dataclasses.replace(config.preference, args={**config.preference.args, **cpu})
    return (
        build_trainer_args(train, output_dir, tiny=train.model == "tiny"),
        trainer_arguments(HDPOConfig, "preference", preference, output_dir, PREFERENCE_DEFAULTS, {}),
    )


def check_accelerate_config(path: Path) -> Any:
    """Accelerate's `ClusterConfig` of the file (unknown top-level keys raise), with every DeepSpeed and FSDP
    setting parsed as the `accelerate launch` option it becomes (unknown names and values raise)."""
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import launch_command_parser

    config = ClusterConfig.from_yaml_file(str(path))
    argv = []
    for section, prefix in ((config.deepspeed_config, ""), (config.fsdp_config, "fsdp_")):
        for key, value in section.items():  # `accelerate launch` copies them onto its options so
            argv += [f"--{key if key.startswith(prefix) else prefix + key}", str(value)]
    try:
        launch_command_parser().parse_args([*argv, "script.py"])
    except SystemExit:
        raise ValueError(f"{path}: accelerate launch refuses {argv}") from None
    return config


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=_ids(RUN_CONFIGS))
def test_run_config_loads_and_builds_its_trainer_configs(path: Path, tmp_path: Path) -> None:
    train, preference = build_trainer_configs(path, tmp_path)
    assert train.max_length > 0 and preference.max_length > 0


@pytest.mark.parametrize("path", ACCELERATE_CONFIGS, ids=_ids(ACCELERATE_CONFIGS))
def test_accelerate_config_is_valid_for_accelerate(path: Path) -> None:
    config = check_accelerate_config(path)
    assert config.num_processes == 8  # the documented editable default
    assert config.mixed_precision == "bf16"  # as the recipes' bf16


def test_each_accelerate_config_is_the_strategy_its_name_says() -> None:
    strategies = {
        name: (config.distributed_type.value, config.deepspeed_config.get("zero_stage"))
        for name, config in ((p.stem, check_accelerate_config(p)) for p in ACCELERATE_CONFIGS)
    }
    assert strategies == {
        "ddp": ("MULTI_GPU", None),
        "zero2": ("DEEPSPEED", 2),
        "zero3": ("DEEPSPEED", 3),
        "fsdp": ("FSDP", None),
    }


@pytest.mark.parametrize("path", RECIPE_CONFIGS, ids=_ids(RECIPE_CONFIGS))
def test_recipe_trains_a_listed_hub_model_in_bf16(path: Path) -> None:
    config = load_config(path)
    assert config.train.model in HUB_MODELS
    assert config.train.args.get("bf16") is True and config.preference.args.get("bf16") is True
    assert path.stem.endswith(("-lora", "-full")), "name a recipe MODEL-lora.yaml or MODEL-full.yaml"
    lora = path.stem.endswith("-lora")
    assert (config.train.lora is not None) == lora and (config.preference.lora is not None) == lora
    assert f"`{path.name}`" in (RECIPES / "README.md").read_text(encoding="utf-8"), "list it in the README"


def test_every_hub_model_has_a_lora_and_a_full_recipe() -> None:
    configs = [load_config(p) for p in RECIPE_CONFIGS]
    assert {(c.train.model, c.train.lora is not None) for c in configs} == {
        (model, lora) for model in HUB_MODELS for lora in (True, False)
    }


def _edited(path: Path, tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    copy = tmp_path / path.name
    copy.write_text(yaml.safe_dump(data), encoding="utf-8")
    return copy


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda d: d.update(trian={}), "trian"),
        (lambda d: d["train"].update(lora={"rank": 8}), "rank"),
        (lambda d: d["generate"].update(backend="vlm"), "vlm"),
    ],
    ids=["top-level key", "nested key", "invalid value"],
)
def test_an_unknown_key_or_invalid_value_fails(tmp_path: Path, edit: Any, named: str) -> None:
    broken = _edited(RECIPES / "qwen2.5-0.5b-lora.yaml", tmp_path, edit)
    with pytest.raises(ConfigError, match=named):
        load_config(broken)


def test_an_unknown_trainer_argument_fails(tmp_path: Path) -> None:
    broken = _edited(
        RECIPES / "qwen2.5-0.5b-lora.yaml", tmp_path, lambda d: d["train"]["args"].update(learning_rat=1e-4)
    )
    load_config(broken)  # `args` is open in the YAML schema; the trainer's config class closes it
    with pytest.raises(ConfigError, match=r"learning_rat.*close matches.*learning_rate"):
        build_trainer_configs(broken, tmp_path / "out")


@pytest.mark.parametrize(
    ("name", "edit", "named"),
    [
        ("zero2", lambda d: d.update(num_process=4), "num_process"),
        ("zero2", lambda d: d["deepspeed_config"].update(zero_stag=2), "zero_stag"),
        ("fsdp", lambda d: d["fsdp_config"].update(fsdp_version=3), "fsdp_version"),
    ],
    ids=["top-level key", "nested key", "invalid value"],
)
def test_an_unknown_accelerate_key_or_invalid_value_fails(
    tmp_path: Path, name: str, edit: Any, named: str
) -> None:
    broken = _edited(ACCELERATE / f"{name}.yaml", tmp_path, edit)
    with pytest.raises(ValueError, match=named):
        check_accelerate_config(broken)
