"""`polyalign run` killed (SIGKILL) mid-training continues from the last checkpoint and ends where an
uninterrupted run ends: same evaluation, same loss over the whole run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMALL_RUN = """\
prepare:
  sources:
    - fixture: 0
train:
  model: tiny
  tiny: {vocab_size: 300, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, tokenizer_texts: 300}
  args: {max_steps: 16, per_device_train_batch_size: 4, max_length: 128, logging_steps: 2, save_steps: 4}
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


def _run(config: Path, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "POLYALIGN_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "polyalign", "run", "-c", str(config)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return output


def _outcome(home: Path) -> tuple[dict[str, object], dict[str, float]]:
    results = {
        json.loads(p.read_text(encoding="utf-8"))["run"]: json.loads(p.read_text(encoding="utf-8"))["metrics"]
        for p in home.glob("evaluate/*/results.json")
    }
    losses = {}
    for path in home.glob("train/*/training_summary.json"):
        summary = json.loads(path.read_text(encoding="utf-8"))
        losses[summary["method"]] = summary["train_loss"]
    return results, losses


@pytest.mark.slow
def test_killed_run_resumes_training_and_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_RUN, encoding="utf-8")
    killed_home, clean_home = tmp_path / "killed", tmp_path / "clean"

    process = _run(config, killed_home)
    deadline = time.monotonic() + 120
    while not list(killed_home.glob("train/*/checkpoints/checkpoint-*/trainer_state.json")):
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint before the run ended"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    (train,) = killed_home.glob("train/*")
    assert not (train / "manifest.json").exists()  # the training was cut short

    resumed = _finish(_run(config, killed_home))
    assert "resumed from checkpoint-" in resumed
    _finish(_run(config, clean_home))

    killed_results, killed_losses = _outcome(killed_home)
    clean_results, clean_losses = _outcome(clean_home)
    assert set(killed_results) == {"sft", "bucket_sft"}
    assert killed_results == clean_results
    assert killed_losses == pytest.approx(clean_losses, rel=1e-6)
    log = [json.loads(line) for line in (train / "train_log.jsonl").open(encoding="utf-8")]
    assert [e["step"] for e in log if "loss" in e] == list(range(2, 17, 2))  # one line per logging step
