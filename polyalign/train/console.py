"""What training writes while it runs: every log dict to a file in the artefact, and to the console the
loss and a few aggregates instead of one ~6,000-character dict per logging step (each bucket's loss and
mass)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm
from transformers import ProgressCallback, TrainerCallback

# HDPO's terms and reward accuracy show when present (absent from SFT logs)
SHOWN = (
    "loss",
    "hdpo/pref",
    "hdpo/sup",
    "hdpo/anchor",
    "hdpo/online",
    "rewards/accuracies",
    "grad_norm",
    "learning_rate",
    "train_runtime",
)


class TrainLog(TrainerCallback):
    """Appends each log dict, with its step, to `path`; a resumed run first drops the lines after its
    checkpoint, so the file reads like one uninterrupted run."""

    def __init__(self, path: Path, resumed_at: int) -> None:
        self.path = path
        kept = []
        if resumed_at and path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            kept = [line for line in lines if json.loads(line)["step"] <= resumed_at]
        path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if state.is_world_process_zero and logs:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": state.global_step, **logs}, ensure_ascii=False) + "\n")


class CompactProgress(ProgressCallback):
    """The trainer's progress bar, with one short line per logging step: the loss, the gradient norm, the
    learning rate and the range of the buckets' losses. The bar shows only on a terminal: written to a
    file or a pipe, each redraw would be a line."""

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.is_world_process_zero:
            self.training_bar = tqdm(total=state.max_steps, dynamic_ncols=True, disable=None)
        self.current_step = 0

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if state.is_world_process_zero and self.training_bar is not None and logs:
            self.training_bar.write(compact_line(state.global_step, logs))


def compact_line(step: int, logs: dict[str, Any]) -> str:
    """`step 10: loss 6.779, grad_norm 0.58, learning_rate 0.0008875, 46 buckets' loss 6.59-6.956`; the
    trainer's own final `train_loss` is left out (after a resume it covers only the resumed steps)."""
    parts = [f"{k} {logs[k]:.4g}" for k in SHOWN if isinstance(logs.get(k), int | float)]
    losses = [v for k, v in logs.items() if k.startswith("bucket_loss/")]
    if losses:
        parts.append(f"{len(losses)} buckets' loss {min(losses):.4g}-{max(losses):.4g}")
    return f"step {step}: " + ", ".join(parts)


def quiet_progress(trainer: Any) -> None:
    """Swap the trainer's console logger for the compact one (keeps `log_history` and the file whole)."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(CompactProgress)
