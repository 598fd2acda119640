"""`polyalign run` killed (SIGKILL) mid-training continues from the last checkpoint and ends where an
uninterrupted run ends: same evaluation, same loss over the whole run. Once killed in SFT training
(`sft,bucket_sft`), once in HDPO's preference training (online term on, so its baselines must come back
from the checkpoint).

The corpus is 24 fixture train records (4 single-turn buckets) and 7 test records of the same buckets,
so that a run takes seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from train_helpers import SIZES, unequal_records

from polyalign.data.records import write_records

ROOT = Path(__file__).resolve().parent.parent
TEST_SIZES = {bucket: 1 if bucket == "zh|single|task_dialogue|short" else 2 for bucket in SIZES}
SMALL_RUN = """\
prepare:
  sources:
    - {path: records.jsonl, format: polyalign}  # beside the config file (_config writes both)
train:
  model: tiny
  tiny: {vocab_size: 300, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, tokenizer_texts: 300}
  args: {max_steps: 16, per_device_train_batch_size: 4, max_length: 256, logging_steps: 2, save_steps: 4}
generate:
  limit: 24
  batch_size: 24
  decoding: {max_new_tokens: 8}
evaluate:
  embedder: hashing
  bootstrap: 10
  allow_missing: true
  metrics: [token_f1, chrf, length_fit]
"""
# HDPO from the Bucket-SFT above: one sample a prompt, 8 steps with a checkpoint every 2, and the online
# term at steps 0, 2, 4 and 6 (its per-bucket baselines live in the checkpoints).
HDPO_RUN = (
    SMALL_RUN
    + """\
pairs:
  decoding: {max_new_tokens: 8}
preference:
  lambda_online: 0.05
  online_interval: 2
  args:
    max_steps: 8
    per_device_train_batch_size: 4
    max_length: 256
    logging_steps: 2
    save_steps: 2
    online_batch_size: 4
    online_max_new_tokens: 8
"""
)


def _config(folder: Path, text: str) -> Path:
    """The run config `text` and the small corpus it reads, both written into `folder`."""
    write_records(folder / "records.jsonl", unequal_records() + unequal_records(TEST_SIZES, split="test"))
    config = folder / "small.yaml"
    config.write_text(text, encoding="utf-8")
    return config


def _run(config: Path, home: Path, methods: str) -> subprocess.Popen[str]:
    env = {**os.environ, "POLYALIGN_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "polyalign", "run", "-c", str(config), "--methods", methods],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return output


def _kill_at_first_checkpoint(process: subprocess.Popen[str], home: Path, stage: str) -> Path:
    """SIGKILL `process` as soon as a complete checkpoint of `stage` exists; returns the stage folder,
    whose training was cut short (no manifest)."""
    deadline = time.monotonic() + 180
    while not list(home.glob(f"{stage}/*/checkpoints/checkpoint-*/trainer_state.json")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {stage} checkpoint before the run ended:\n{process.communicate()[0]}")
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    (folder,) = home.glob(f"{stage}/*")
    assert not (folder / "manifest.json").exists()  # the training was cut short
    return folder


def _results(home: Path) -> dict[str, object]:
    """Run name → evaluation metrics of every evaluate artefact under `home`."""
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in home.glob("evaluate/*/results.json")]
    return {document["run"]: document["metrics"] for document in documents}


def _summaries(home: Path, stage: str) -> dict[str, dict[str, object]]:
    """Method → training summary of every `stage` artefact under `home`."""
    documents = [
        json.loads(p.read_text(encoding="utf-8")) for p in home.glob(f"{stage}/*/training_summary.json")
    ]
    return {document["method"]: document for document in documents}


def _baselines(folder: Path, step: int) -> dict[str, float]:
    """The online term's per-bucket baselines saved in the checkpoint of `step`."""
    state = json.loads(
        (folder / f"checkpoints/checkpoint-{step}/trainer_state.json").read_text(encoding="utf-8")
    )
    return state["stateful_callbacks"]["OnlineBaselines"]["args"]["values"]


def _logged_steps(folder: Path) -> list[int]:
    return [
        e["step"] for e in map(json.loads, (folder / "train_log.jsonl").open(encoding="utf-8")) if "loss" in e
    ]


@pytest.mark.slow
def test_killed_run_resumes_training_and_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    config = _config(tmp_path, SMALL_RUN)
    killed_home, clean_home = tmp_path / "killed", tmp_path / "clean"

    train = _kill_at_first_checkpoint(_run(config, killed_home, "sft,bucket_sft"), killed_home, "train")
    resumed = _finish(_run(config, killed_home, "sft,bucket_sft"))
    assert "resumed from checkpoint-" in resumed
    _finish(_run(config, clean_home, "sft,bucket_sft"))

    assert set(_results(killed_home)) == {"sft", "bucket_sft"}
    assert _results(killed_home) == _results(clean_home)
    killed, clean = _summaries(killed_home, "train"), _summaries(clean_home, "train")
    assert {m: s["train_loss"] for m, s in killed.items()} == pytest.approx(
        {m: s["train_loss"] for m, s in clean.items()}, rel=1e-6
    )
    assert _logged_steps(train) == list(range(2, 17, 2))  # one line per logging step


@pytest.mark.slow
def test_run_killed_in_hdpo_training_resumes_and_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    """Bucket-SFT, pairs and the reference log-probs are complete when the kill comes; the rerun reuses
    them and continues the preference training from its checkpoint, online baselines included."""
    config = _config(tmp_path, HDPO_RUN)
    killed_home, clean_home = tmp_path / "killed", tmp_path / "clean"

    preference = _kill_at_first_checkpoint(_run(config, killed_home, "hdpo"), killed_home, "preference")
    first = min(int(p.name.split("-")[1]) for p in preference.glob("checkpoints/checkpoint-*"))
    assert _baselines(preference, first)  # the online term ran before the kill
    resumed = _finish(_run(config, killed_home, "hdpo"))
    assert "resumed from checkpoint-" in resumed
    _finish(_run(config, clean_home, "hdpo"))

    assert set(_results(killed_home)) == {"hdpo"}
    assert _results(killed_home) == _results(clean_home)
    killed, clean = (
        _summaries(killed_home, "preference")["hdpo"],
        _summaries(clean_home, "preference")["hdpo"],
    )
    assert killed["resumed_from"] is not None and clean["resumed_from"] is None
    assert killed["global_step"] == clean["global_step"] == 8
    assert killed["train_loss"] == pytest.approx(clean["train_loss"], rel=1e-6)
    assert killed["final_logs"] == pytest.approx(clean["final_logs"], rel=1e-6)
    (clean_preference,) = clean_home.glob("preference/*")
    assert _baselines(preference, 8) == _baselines(clean_preference, 8)  # continued, not restarted
    assert _logged_steps(preference) == list(range(2, 9, 2))
