"""benchmarks/gpu_check.sh: its CPU smoke mode prints every method's figures; without a GPU it exits 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
NUMBER = r"[\d,]+(?:\.\d+)?"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}  # the polyalign the tests import
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.mark.slow
def test_the_smoke_run_prints_tokens_memory_and_mfu_of_each_method() -> None:
    done = run("bash", "benchmarks/gpu_check.sh", "--smoke", "--peak-tflops", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    memory = rf"{NUMBER} GiB" if torch.cuda.is_available() else r"n/a \(no GPU\)"
    for method in ("SFT (TRL)", "Bucket-SFT", "DPO (TRL)", "HDPO (λ_on = 0)"):
        line = re.search(
            rf"^{re.escape(method)} +tokens/s ({NUMBER})  peak memory {memory}  MFU ({NUMBER})%",
            done.stdout,
            re.M,
        )
        assert line is not None, f"no figures for {method}:\n{done.stdout}"
        assert float(line[1].replace(",", "")) > 0  # tokens were counted
    assert re.search(rf"^HDPO / DPO step time: {NUMBER}", done.stdout, re.M), done.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_exits_2_and_says_why() -> None:
    done = run(sys.executable, "benchmarks/bench_gpu.py")
    assert done.returncode == 2
    assert "no CUDA GPU" in done.stderr and "--smoke" in done.stderr
