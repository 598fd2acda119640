"""Training throughput on one GPU: tokens/s, peak memory and MFU of SFT, Bucket-SFT, DPO and HDPO.

A Qwen2.5-0.5B-shaped Qwen2, randomly initialised (nothing is downloaded), trains with bf16 autocast over
fp32 weights for `--steps` optimiser steps per method and round; the first `--warmup` are not counted,
and the methods take turns for `--rounds` rounds, each a fresh trainer from the same initial weights. The
trainers and their data are bench_train.py's: TRL's SFTTrainer (SFT) and Bucket-SFT on identical batches of
the synthetic fixture, TRL's DPOTrainer (DPO) and HDPO (λ_on = 0, real pair weights and distances) on
identical pairs. Both preference trainers precompute the reference log-probs in `__init__`, as polyalign
does by default (`preference.reference: cached`), so the reference costs nothing in the timed steps.

Printed per method:
    tokens/s     non-padding input tokens of the counted steps / their wall time (a pair's prompt counts
                 twice: prompt + chosen and prompt + rejected are both forwarded)
    peak memory  torch.cuda.max_memory_allocated while the method's trainer is built and trained, less
                 what was allocated before (nothing, unless an earlier trainer's tensors linger)
    MFU          6·N·(tokens/s) / peak FLOP/s, where N counts every parameter once (the tied embedding
                 once: it is the LM head's matmul) and 6N = forward 2N + backward 4N per token; attention's
                 sequence-length term is left out, and a reference model kept in memory (`reference:
                 model`) would add its forward, 2N
and HDPO's median step time over DPO's. The peak is `--peak-tflops`, else the dense bf16 datasheet figure
of an H100, H200 or A100 found in the device name; any other GPU needs `--peak-tflops`.

`--smoke`: a tiny model in float32 for 2 counted steps, on the CPU too: a test of this script, not figures.
Without a GPU and without `--smoke` it exits with status 2.

    bash benchmarks/gpu_check.sh [--smoke] [--steps 25] [--warmup 5] [--rounds 2] [--batch 8]
        [--accumulation 1] [--max-length 1024] [--peak-tflops X]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

# The shape of Qwen/Qwen2.5-0.5B(-Instruct), from the config.json of its hub repository (also table 1 of
# the Qwen2.5 technical report): every field that sets the FLOPs and the memory of training.
QWEN25_05B_SHAPE = {
    "hidden_size": 896,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "intermediate_size": 4864,
    "vocab_size": 151936,
    "tie_word_embeddings": True,
    "max_position_embeddings": 32768,
}
# Dense bf16 tensor-core peaks from NVIDIA's datasheets, TFLOP/s; the first name found in the device name.
PEAK_TFLOPS = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H200 NVL", 835.0),
    ("H100", 989.0),  # SXM
    ("H200", 989.0),  # SXM
    ("A100", 312.0),
)


@dataclasses.dataclass
class Figures:
    """One method's counted steps and peak memory (None off the GPU)."""

    seconds: list[float]
    tokens: list[int]
    peak_bytes: int | None
    parameters: int

    @classmethod
    def merge(cls, rounds: list[Figures]) -> Figures:
        """Every counted step of every round, and the highest peak."""
        peaks = [f.peak_bytes for f in rounds if f.peak_bytes is not None]
        return cls(
            [t for f in rounds for t in f.seconds],
            [n for f in rounds for n in f.tokens],
            max(peaks) if peaks else None,
            rounds[0].parameters,
        )

    @property
    def tokens_per_second(self) -> float:
        return sum(self.tokens) / sum(self.seconds)

    @property
    def median_step(self) -> float:
        return statistics.median(self.seconds)


def peak_tflops(given: float | None, device: str | None) -> float | None:
    """`--peak-tflops`, else the datasheet figure of a known GPU, else None (the caller decides)."""
    if given is not None:
        return given
    return next((tflops for name, tflops in PEAK_TFLOPS if device and name in device), None)


def qwen25_05b(tokenizer: Any) -> Any:
    """A Qwen2.5-0.5B-shaped model with seeded random weights; `tokenizer`'s ids fit its larger vocabulary."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        **QWEN25_05B_SHAPE,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return Qwen2ForCausalLM(config)


def measure(build: Any, warmup: int, cuda: bool) -> Figures:
    """Build and train one trainer; its counted step times and tokens, peak memory and parameter count."""
    from transformers.trainer_callback import PrinterCallback

    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated() if cuda else 0  # 0 unless an earlier trainer's tensors linger
    trainer, timer = build()
    trainer.remove_callback(PrinterCallback)  # no log dicts on stdout
    trainer.train()
    figures = Figures(
        timer.times[warmup:],
        timer.tokens[warmup:],
        torch.cuda.max_memory_allocated() - before if cuda else None,
        sum(p.numel() for p in trainer.model.parameters()),  # a tied weight is one parameter
    )
    trainer.accelerator.free_memory()
    del trainer
    gc.collect()
    return figures


def figures_line(label: str, figures: Figures, peak: float | None) -> str:
    memory = "n/a (no GPU)" if figures.peak_bytes is None else f"{figures.peak_bytes / 2**30:.2f} GiB"
    flops = 6 * figures.parameters * figures.tokens_per_second
    mfu = "n/a (no --peak-tflops)" if peak is None else f"{100 * flops / (peak * 1e12):.1f}%"
    return (
        f"{label:<22} tokens/s {figures.tokens_per_second:,.0f}  peak memory {memory}  MFU {mfu}  "
        f"median step {figures.median_step * 1000:.1f} ms"
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny model, float32, 2 counted steps (a test)")
    parser.add_argument("--steps", type=int, default=25, help="optimiser steps per method, warm-up included")
    parser.add_argument("--warmup", type=int, default=5, help="first steps not counted")
    parser.add_argument("--rounds", type=int, default=2, help="fresh trainers per method, taking turns")
    parser.add_argument("--batch", type=int, default=8, help="per-device batch (pairs for DPO and HDPO)")
    parser.add_argument("--accumulation", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, TFLOP/s")
    options = parser.parse_args(argv)
    if options.smoke:
        options.steps, options.warmup, options.batch, options.max_length, options.rounds = 3, 1, 4, 256, 1
    if options.steps <= options.warmup:
        parser.error("--steps must exceed --warmup: no step would be counted")
    options.method = "bucket_sft"  # bench_train.sft_builds: Bucket-SFT beside TRL's SFT, same batches
    return options


def main() -> None:
    options = parse()
    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name() if cuda else None
    if not cuda and not options.smoke:
        print(
            "error: no CUDA GPU found; this check times training on a GPU (--smoke runs a tiny model on the "
            "CPU, to test the script)",
            file=sys.stderr,
        )
        sys.exit(2)
    peak = peak_tflops(options.peak_tflops, device)
    if cuda and peak is None:
        print(f"error: unknown peak FLOP/s of {device!r}: pass --peak-tflops (dense bf16)", file=sys.stderr)
        sys.exit(2)

    from bench_train import common_args, fixture_and_tokenizer, hdpo_builds, hdpo_pairs, sft_builds
    from datasets import disable_progress_bars

    from polyalign.reference.config import ReferenceConfig
    from polyalign.reference.reference import build_reference
    from polyalign.reference.support import SupportScorer
    from polyalign.train.tiny import TEST_SIZE, build_tiny_model

    disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        records, tokenizer = fixture_and_tokenizer(Path(tmp))
        common = {
            **common_args(options, Path(tmp) / "out", max_steps=options.steps),
            "bf16": not options.smoke,
            "dataloader_pin_memory": cuda,
            "include_num_input_tokens_seen": "non_padding",
            "logging_steps": options.steps,
        }
        if options.smoke:
            make_model = functools.partial(build_tiny_model, tokenizer, TEST_SIZE)
        else:
            make_model = functools.partial(qwen25_05b, tokenizer)
        sft, _ = sft_builds(options, records, tokenizer, common, make_model)
        scorer = SupportScorer(build_reference(records, ReferenceConfig()))
        pairs, _ = hdpo_pairs(options, records, tokenizer, scorer)
        preference = hdpo_builds(options, pairs, tokenizer, scorer, common, make_model)
        builds = {
            "SFT (TRL)": sft["trl"],
            "Bucket-SFT": sft["ours"],
            "DPO (TRL)": preference["trl"],
            "HDPO (λ_on = 0)": preference["ours"],
        }
        runs: dict[str, list[Figures]] = {label: [] for label in builds}
        for _ in range(options.rounds):  # the methods take turns, so drift falls on all of them alike
            for label, build in builds.items():
                runs[label].append(measure(build, options.warmup, cuda))
        results = {label: Figures.merge(figures) for label, figures in runs.items()}

    parameters = next(iter(results.values())).parameters
    shape = "tiny Qwen2 (smoke)" if options.smoke else "Qwen2.5-0.5B-shaped Qwen2"
    precision = "float32" if options.smoke else "bf16 autocast, fp32 weights"
    source = "--peak-tflops" if options.peak_tflops is not None else "datasheet, by device name"
    print(
        f"device: {device or 'CPU'}; peak {peak if peak is not None else 'n/a'} TFLOP/s ({source}); "
        f"{torch.get_num_threads()} CPU threads"
    )
    print(
        f"model: {shape}, {parameters / 1e6:.1f}M parameters, {precision}; batch {options.batch} x "
        f"accumulation {options.accumulation}, max_length {options.max_length}; {options.rounds} round(s) x "
        f"{options.steps} steps per method, the first {options.warmup} of each not counted"
    )
    print(
        f"FLOPs per token: 6·N = {6 * parameters / 1e9:.3g} GFLOP (forward 2N + backward 4N; the reference "
        "log-probs are precomputed, so no 2N reference forward)"
    )
    for label, figures in results.items():
        print(figures_line(label, figures, peak))
    ratio = results["HDPO (λ_on = 0)"].median_step / results["DPO (TRL)"].median_step
    print(f"HDPO / DPO step time: {ratio:.3f} (median steps, same pairs and batches)")


if __name__ == "__main__":
    main()
