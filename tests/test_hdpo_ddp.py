"""Two CPU processes (torchrun, gloo) give the same weighted HDPO loss as one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hdpo_ddp_worker import main as run_worker
from torch.testing import assert_close

WORKER = Path(__file__).with_name("hdpo_ddp_worker.py")


@pytest.mark.slow
def test_two_processes_give_the_same_weighted_loss_as_one(tmp_path: Path) -> None:
    """Global batch 4 each way: 1 process × batch 4; 2 processes × batch 2; 2 × batch 1 × accumulation 2."""
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    run_worker(tmp_path / "single.json", tmp_path / "single", ["4x1"])
    single = json.loads((tmp_path / "single.json").read_text())["4x1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [torchrun, "--standalone", "--nproc_per_node", "2", str(WORKER)]
    command += [str(tmp_path / "ddp.json"), str(tmp_path / "ddp"), "2x1", "1x2"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp.json").read_text())
    assert single["world_size"] == 1 and single["steps"] == 2
    for spec in ("2x1", "1x2"):
        run = ddp[spec]
        assert run["world_size"] == 2 and run["steps"] == 2
        assert_close(torch.tensor(run["losses"]), torch.tensor(single["losses"]), atol=1e-5, rtol=1e-5)
        assert run["sup"] == pytest.approx(single["sup"], abs=1e-6)
        assert run["accuracy"] == pytest.approx(single["accuracy"], abs=1e-9)
