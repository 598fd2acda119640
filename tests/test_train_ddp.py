"""Two CPU processes (torchrun, gloo) give the same effective bucket mass and losses as one process."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.testing import assert_close
from train_ddp_worker import main as run_worker
from train_helpers import single_and_two_processes

WORKER = Path(__file__).with_name("train_ddp_worker.py")


@pytest.mark.slow
def test_two_processes_give_the_same_bucket_mass_as_one(tmp_path: Path) -> None:
    """Global batch 4 each way: 1 process × batch 4; 2 processes × batch 2; 2 × batch 1 × accumulation 2."""
    single, ddp = single_and_two_processes(WORKER, run_worker, tmp_path)
    single = single["4x1"]
    assert single["world_size"] == 1
    for spec in ("2x1", "1x2"):
        run = ddp[spec]
        assert run["world_size"] == 2 and run["steps"] == single["steps"] == 6
        assert run["mass"] == pytest.approx(single["mass"], abs=1e-9)
        assert all(m == pytest.approx(0.25, abs=1e-9) for m in run["mass"].values())
        assert_close(torch.tensor(run["losses"]), torch.tensor(single["losses"]), atol=1e-4, rtol=1e-4)
