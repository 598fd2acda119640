"""Per-bucket training-loss curves of the smallest buckets under SFT and Bucket-SFT (issue 3 acceptance).

Prepares the development corpus (../shared/data/dev; the synthetic fixture when it is absent), trains the
offline tiny model briefly with each method from the same initial weights, and every `--eval-every` steps
measures the loss (mean token NLL of the response) on the *training* examples of the `--smallest`
smallest buckets (and, for contrast, on 32 of each of the two largest). Each method is measured on its
own training rows (Bucket-SFT with its profile prompt). Prints the curves and writes them as a Markdown table.

Variants: `sft` (plain SFT: natural sampling, per-token loss, no profile), `bucket_sft` (sampling at τ = 0,
per-example loss, profile), `bucket_sft_noprofile` (the same without profile) and `sft_example` (natural
sampling, per-example loss, no profile): `bucket_sft_noprofile` vs `sft_example` isolates the sampling.

    python benchmarks/bucket_curves.py [--steps 300] [--smallest 6] [--out bucket_curves.md]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from corpus import benchmark_corpus
from transformers.trainer_callback import PrinterCallback

from polyalign.data.prepare import prepare_stage
from polyalign.train.bucket_sft import BucketSFTConfig, BucketSFTTrainer
from polyalign.train.data import records_to_dataset
from polyalign.train.tiny import CURVES_SIZE, build_tiny_model, train_tokenizer

VARIANTS = {
    "sft": ({"bucket_balance": "none", "loss_normalization": "token"}, False),
    "bucket_sft": ({}, True),
    "bucket_sft_noprofile": ({}, False),
    "sft_example": ({"bucket_balance": "none", "loss_normalization": "example"}, False),
}


def curves(
    options: argparse.Namespace,
    records: list[Any],
    watched: list[str],
    tokenizer: Any,
    tmp: Path,
    variant: str,
) -> dict[str, list[tuple[int, float]]]:
    overrides, profile = VARIANTS[variant]
    train, _ = records_to_dataset(records, profile, tokenizer=tokenizer, max_length=options.max_length)
    small, seen, rows = set(watched[: options.smallest]), Counter(), []
    for i, bucket in enumerate(train["bucket"]):  # every example of a small bucket, 32 of a large one
        seen[bucket] += 1
        if bucket in small or (bucket in watched and seen[bucket] <= 32):
            rows.append(i)
    watch = train.select(rows)
    args = BucketSFTConfig(
        output_dir=str(tmp / variant),
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        learning_rate=options.lr,
        lr_scheduler_type="constant",
        max_steps=options.steps,
        per_device_train_batch_size=options.batch,
        max_length=options.max_length,
        logging_steps=options.eval_every,
        eval_strategy="steps",
        eval_steps=options.eval_every,
        per_device_eval_batch_size=16,
        seed=options.seed,
        dataloader_pin_memory=False,
        disable_tqdm=True,
        **overrides,
    )
    trainer = BucketSFTTrainer(
        model=build_tiny_model(tokenizer, CURVES_SIZE),
        args=args,
        train_dataset=train,
        eval_dataset=watch,
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)
    start = {**trainer.evaluate(), "step": 0}  # train() starts a fresh state, so keep this one aside
    trainer.train()
    out: dict[str, list[tuple[int, float]]] = {b: [] for b in watched}
    for entry in [start, *trainer.state.log_history]:
        for bucket in watched:
            key = f"eval_bucket_loss/{bucket}"
            if key in entry:
                out[bucket].append((int(entry["step"]), float(entry[key])))
    mass = trainer.bucket_summary()["effective_mass"]
    print(
        f"{variant}: effective mass of the watched buckets "
        + ", ".join(f"{b} {mass[b]:.3f}" for b in watched)
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--smallest", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default="sft,bucket_sft,bucket_sft_noprofile")
    parser.add_argument("--out", type=Path, default=Path("bucket_curves.md"))
    options = parser.parse_args()
    config, origin = benchmark_corpus()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        records = prepare_stage(config, root=tmp, out=tmp / "prep", progress=False).content.splits["train"]
        counts = Counter(str(r.bucket) for r in records)
        ranked = sorted(counts, key=lambda b: (counts[b], b))
        watched = ranked[: options.smallest] + ranked[-2:]
        tokenizer = train_tokenizer([m.content for r in records for m in r.messages], CURVES_SIZE.vocab_size)
        results = {
            v: curves(options, records, watched, tokenizer, tmp, v) for v in options.variants.split(",")
        }

    lines = [
        f"# Per-bucket training loss, {origin} ({len(records)} train records, {len(counts)} buckets)",
        "",
        f"Tiny Qwen2 (hidden {CURVES_SIZE.hidden_size}, {CURVES_SIZE.num_hidden_layers} layers, "
        f"BPE {CURVES_SIZE.vocab_size}), "
        f"batch {options.batch}, lr {options.lr} constant, {options.steps} steps, seed {options.seed}. "
        "Loss = mean token NLL of the response on the bucket's training examples.",
        "",
    ]
    variants = list(results)
    steps = [s for s, _ in results[variants[0]][watched[0]]]
    for bucket in watched:
        tag = "smallest" if bucket in watched[: options.smallest] else "largest"
        lines += [
            f"## {bucket} (n = {counts[bucket]}, {tag})",
            "",
            "| step | " + " | ".join(variants) + " |",
            "|---:|" + "---:|" * len(variants),
        ]
        for i, step in enumerate(steps):
            lines.append(
                f"| {step} | " + " | ".join(f"{results[v][bucket][i][1]:.3f}" for v in variants) + " |"
            )
        lines.append("")
    lines += [
        "## Drop from step 0 to the end",
        "",
        "| bucket | n | " + " | ".join(variants) + " |",
        "|---|---:|" + "---:|" * len(variants),
    ]
    for bucket in watched:
        drops = [results[v][bucket][0][1] - results[v][bucket][-1][1] for v in variants]
        lines.append(f"| {bucket} | {counts[bucket]} | " + " | ".join(f"{d:.3f}" for d in drops) + " |")
    lines += [
        "",
        "## Mean of the last three measurements (less noisy than the end point)",
        "",
        "| bucket | n | " + " | ".join(variants) + " |",
        "|---|---:|" + "---:|" * len(variants),
    ]
    for bucket in watched:
        tails = [sum(x for _, x in results[v][bucket][-3:]) / 3 for v in variants]
        lines.append(f"| {bucket} | {counts[bucket]} | " + " | ".join(f"{t:.3f}" for t in tails) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    options.out.write_text(text, encoding="utf-8")
    print(f"written to {options.out}")


if __name__ == "__main__":
    main()
