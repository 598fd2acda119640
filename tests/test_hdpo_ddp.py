"""Two CPU processes (torchrun, gloo) give the same weighted HDPO loss as one process."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hdpo_ddp_worker import main as run_worker
from torch.testing import assert_close
from train_helpers import single_and_two_processes

WORKER = Path(__file__).with_name("hdpo_ddp_worker.py")


@pytest.mark.slow
def test_two_processes_give_the_same_weighted_loss_as_one(tmp_path: Path) -> None:
    """Global batch 4 each way: 1 process × batch 4; 2 processes × batch 2; 2 × batch 1 × accumulation 2."""
    single, ddp = single_and_two_processes(WORKER, run_worker, tmp_path)
    single = single["4x1"]
    assert single["world_size"] == 1 and single["steps"] == 2
    for spec in ("2x1", "1x2"):
        run = ddp[spec]
        assert run["world_size"] == 2 and run["steps"] == 2
        assert_close(torch.tensor(run["losses"]), torch.tensor(single["losses"]), atol=1e-5, rtol=1e-5)
        assert run["sup"] == pytest.approx(single["sup"], abs=1e-6)
        assert run["accuracy"] == pytest.approx(single["accuracy"], abs=1e-9)
