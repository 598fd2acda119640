"""Stage `preference`: preference pairs + their start policy + `PreferenceConfig` → a model folder.

DPO, DPO + anchor and HDPO (METHOD.md §5) are one trainer, `HDPOTrainer`, with the method's terms
(`PreferenceConfig.coefficients`) and pair weights (HDPO's, or 1). The folder has the layout of the
`train` stage (model, tokenizer, `train_config.json`, `training_summary.json`, `log_history.json`,
`train_log.jsonl`, `checkpoints/`), is built in place and resumes from its last checkpoint the same way,
so generation and evaluation read it like any trained model. `train_config.json` carries the start
policy's own `train` section, so inference uses the profile the policy was trained with.

Pairs are fitted to `max_length` before training (`train.data.fit_pairs`): by the budget of each pair's
prompt as Bucket-SFT sees it, whatever the start policy, so DPO (from SFT, no profile) and HDPO (from
Bucket-SFT) train on the same histories and the same human-response tokens, and TRL truncates nothing.

The reference is the start policy: its log-probs are computed once and cached on disk under
`<root>/ref_logps` (`reference: cached`), or it is kept in memory (`reference: model`; with LoRA the
adapter-disabled base). The on-policy term scores samples with the human reference's support distance.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from polyalign import artifacts
from polyalign.artifacts import Artifact
from polyalign.config import config_hash
from polyalign.errors import PolyAlignError
from polyalign.train.config import PreferenceConfig
from polyalign.train.stage import (
    CHECKPOINTS,
    STAGE_DEFAULTS,
    fit,
    load_summary,
    load_trainable,
    peft_config,
    resolve_precision,
    save_model,
    trainer_arguments,
    truncation_drops,
)

STAGE, STAGE_VERSION = "preference", 2  # 2: pairs fitted to max_length by the profile budget
REF_CACHE = "ref_logps"  # under the artefact root: shared by every run on the same pairs and start policy

# Defaults of this stage where they differ from TRL's DPOConfig, and why.
PREFERENCE_DEFAULTS: dict[str, Any] = {
    **STAGE_DEFAULTS,
    "learning_rate": 5e-7,  # the paper's; TRL: 1e-6
    "lr_scheduler_type": "cosine",  # the paper's; TRL: linear
    "warmup_steps": 0.1,  # a ratio of the steps: the paper's 0.1; TRL: none
    "gradient_checkpointing": False,  # TRL: True; small and CPU models train faster without it
}
TINY_PREFERENCE_DEFAULTS: dict[str, Any] = {"learning_rate": 1e-4}  # a tiny model trained from scratch


def preference_key(pairs_key: str, reference_key: str | None, config: PreferenceConfig) -> str:
    """Hashes the pairs (which name their start policy), the human reference (the on-policy term scores
    with it), the config and the precision it resolves to on this machine."""
    online = config.coefficients()["lambda_online"] > 0
    return artifacts.artifact_key(
        STAGE,
        STAGE_VERSION,
        pairs_key,
        (reference_key or "-") if online else "-",
        config_hash(config),
        resolve_precision(config),
    )


def preference_stage(
    pairs: Artifact[Any],
    policy: Artifact[Any],
    reference: Artifact[Any] | None,
    config: PreferenceConfig,
    *,
    root: Path,
    out: Path | None = None,
    resume: bool = False,
    force: bool = False,
    verbose: bool = False,
) -> Artifact[dict[str, Any]]:
    """Train (or reuse) `config.method` from `policy` on `pairs`; the content is the training summary.

    `policy` must be the model the pairs were sampled from (the pairs' manifest names it); `reference`
    (the human reference artefact) is needed only when the on-policy term is on.
    """
    named = pairs.manifest.get("parents", {}).get("policy")
    if named is not None and named != policy.key:
        raise ValueError(f"the pairs were sampled from policy {named[:12]}, not from {policy.key[:12]}")
    reference_key = reference.manifest["key"] if reference is not None else None
    if config.coefficients()["lambda_online"] > 0 and reference is None:
        raise ValueError("the on-policy term (lambda_online > 0) scores samples with a human reference")
    key = preference_key(pairs.key, reference_key, config)
    return artifacts.run_stage(
        STAGE,
        STAGE_VERSION,
        key,
        out or root / STAGE / key,
        lambda folder: _train(pairs, policy, reference, config, folder, root, resume, verbose),
        load_summary,
        parents={"pairs": pairs.key, "policy": policy.key, "reference": reference_key},
        config=config,
        force=force,
        in_place=True,  # checkpoints must survive a crash to be resumed
    )


def _train(
    pairs: Artifact[Any],
    policy: Artifact[Any],
    reference: Artifact[Any] | None,
    config: PreferenceConfig,
    folder: Path,
    root: Path,
    resume: bool,
    verbose: bool,
) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from polyalign.train.data import fit_pairs
    from polyalign.train.hdpo import HDPOConfig, HDPOTrainer
    from polyalign.train.pairs import PairSet

    start = json.loads((policy.folder / "train_config.json").read_text(encoding="utf-8"))["train"]
    model = load_trainable(policy.folder)
    tokenizer = AutoTokenizer.from_pretrained(policy.folder)
    coefficients = config.coefficients()
    defaults = {**PREFERENCE_DEFAULTS, **(TINY_PREFERENCE_DEFAULTS if start["model"] == "tiny" else {})}
    preset = {
        "lambda_sup": coefficients["lambda_sup"],
        "gamma_anchor": coefficients["gamma"],
        "lambda_online": coefficients["lambda_online"],
        "beta": config.beta,
        "online_interval": config.online_interval,
        "precompute_ref_log_probs": config.reference == "cached",
        "ref_cache_dir": str(root / REF_CACHE) if config.reference == "cached" else None,
    }
    args = trainer_arguments(HDPOConfig, "preference", config, folder / CHECKPOINTS, defaults, preset)
    rows, fitted = fit_pairs(pairs.content.rows, tokenizer, args.max_length)
    if not rows:
        raise PolyAlignError(
            f"no pair leaves room for a response in max_length {args.max_length} tokens: raise "
            "preference.args.max_length"
        )
    dataset = PairSet(rows, pairs.content.report).to_dataset()
    if not config.weighted:
        dataset = dataset.map(lambda _: {"weight": 1.0})
    in_memory = config.reference == "model" and config.lora is None
    scorer = None
    if coefficients["lambda_online"] > 0:
        from polyalign.reference.support import SupportScorer

        scorer = SupportScorer(reference.content.reference).score
    trainer = HDPOTrainer(
        model=model,
        ref_model=load_trainable(policy.folder) if in_memory else None,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config(config.lora),
        online_scorer=scorer,
    )
    run = fit(trainer, folder, resume, verbose, lora=config.lora is not None)
    summary = {
        "method": config.method,
        "start_policy": policy.key,
        "start_method": start["method"],
        "coefficients": coefficients,
        "beta": config.beta,
        "weighted": config.weighted,
        **run,
        "examples": len(dataset),
        "max_length": args.max_length,
        **fitted.summary(),
        "dropped_by_truncation": truncation_drops(dataset["bucket"], trainer.train_dataset["bucket"]),
        "final_logs": last_logged(trainer.state.log_history),
    }
    resolved = {"train": start, "preference": dataclasses.asdict(config), "start_policy": policy.key}
    save_model(trainer, tokenizer, config.lora is not None, folder, resolved, summary)
    return {"precision": resolve_precision(config)}


def last_logged(history: list[dict[str, Any]]) -> dict[str, float]:
    """The last logged value of every training metric (each term, margins, per-bucket accuracy)."""
    last: dict[str, float] = {}
    for entry in history:
        last.update(
            {k: v for k, v in entry.items() if isinstance(v, int | float) and not k.startswith("train_")}
        )
    last.pop("step", None)
    return last
