#!/usr/bin/env bash
# GPU check: the software and the GPU, then tokens/s, peak memory and MFU of SFT, Bucket-SFT, DPO and HDPO
# on a Qwen2.5-0.5B-shaped model, and HDPO's step time over DPO's (benchmarks/bench_gpu.py, whose options
# pass through). Exits 2 without a GPU; `--smoke` runs a tiny model on the CPU instead, to test the script.
#   bash benchmarks/gpu_check.sh [--smoke] [--steps 25] [--batch 8] [--max-length 1024] [--peak-tflops X]
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -c 'import torch, transformers, trl
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), transformers {transformers.__version__}, trl {trl.__version__}")'
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
exec python benchmarks/bench_gpu.py "$@"
