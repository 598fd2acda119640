"""What training tells the console and the summary: one short line per log, the loss over the whole run."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from polyalign.train.console import TrainLog, compact_line
from polyalign.train.stage import whole_run_loss


def test_compact_line_keeps_the_loss_and_the_spread_of_the_bucket_losses() -> None:
    logs = {"loss": 6.7791, "grad_norm": 0.58, "learning_rate": 8.875e-4, "entropy": 6.9}
    logs |= {f"bucket_loss/en|single|qa|b{i}": 6.0 + i / 10 for i in range(40)}
    logs |= {f"bucket_mass/en|single|qa|b{i}": 0.025 for i in range(40)}
    line = compact_line(10, logs)
    assert line == "step 10: loss 6.779, grad_norm 0.58, learning_rate 0.0008875, 40 buckets' loss 6-9.9"
    assert "train_loss" not in compact_line(80, {"train_loss": 6.1, "train_runtime": 37.25})


def test_whole_run_loss_weighs_the_steps_before_the_checkpoint() -> None:
    history = [{"loss": 4.0, "step": 2}, {"loss": 2.0, "step": 4}, {"loss": 1.0, "step": 6}]
    assert whole_run_loss(history, 0, 3.0, 8) == 3.0  # uninterrupted: the trainer's own mean
    # resumed at step 4: steps 1-4 from the log (mean 3.0), steps 5-8 from this call (mean 1.0)
    assert whole_run_loss(history, 4, 1.0, 8) == pytest.approx(2.0)


def test_train_log_drops_the_lines_after_the_checkpoint_it_resumes_from(tmp_path: Path) -> None:
    path = tmp_path / "train_log.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in (2, 4, 6)), encoding="utf-8")
    log = TrainLog(path, resumed_at=4)
    log.on_log(None, SimpleNamespace(is_world_process_zero=True, global_step=6), None, logs={"loss": 0.5})
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    assert rows == [{"step": 2, "loss": 1.0}, {"step": 4, "loss": 1.0}, {"step": 6, "loss": 0.5}]
    TrainLog(path, resumed_at=0)  # a fresh start empties the file
    assert path.read_text(encoding="utf-8") == ""


def test_compact_line_shows_the_hdpo_terms() -> None:
    logs = {
        "loss": 0.7,
        "hdpo/pref": 0.69,
        "hdpo/sup": 0.5,
        "rewards/accuracies": 0.25,
        "rewards/margins": 0.1,
    }
    assert compact_line(3, logs) == "step 3: loss 0.7, hdpo/pref 0.69, hdpo/sup 0.5, rewards/accuracies 0.25"


def test_length_fit_lines_count_cuts_and_drops_and_say_nothing_when_all_fits() -> None:
    from polyalign.cli.console import length_fit_lines

    summary = {
        "max_length": 128,
        "responses_cut": {"en|single|qa|short": 2, "zh|single|qa|short": 1},
        "dropped_for_length": {"zh|single|qa|short": {"prompt_too_long": 4}},
        "dropped_by_truncation": {},
    }
    assert length_fit_lines(summary) == [
        "[yellow]3 responses cut (max_length 128)[/]",
        "[yellow]4 dropped, no room for a response (max_length 128)[/]",
    ]
    assert length_fit_lines(summary, per_bucket=True)[1].endswith(": {'zh|single|qa|short': 4}")
    assert length_fit_lines({"max_length": 128, "chosen_cut": {}, "dropped_by_truncation": {}}) == []
