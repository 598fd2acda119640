"""Training: Bucket-Aware SFT (and plain SFT, the same trainer with balancing and profile off), and HDPO.

Modules (importing this package loads neither torch nor TRL; `config` stays light because the run
configuration imports it):

- `config`     the `train:` section of a run config (method, model, profile, LoRA, trainer arguments)
- `losses`     pure tensor functions: per-example NLL sums, the bucket-weighted SFT loss and its mass, the
               HDPO terms per pair and the online (REINFORCE) term
- `sampling`   bucket plan (target mass ∝ n_b^τ, clipped ratios with mean 1) and the bucket sampler
- `bucket_sft` `BucketSFTConfig(SFTConfig)` and `BucketSFTTrainer(SFTTrainer)`
- `hdpo`       `HDPOConfig(DPOConfig)` and `HDPOTrainer(DPOTrainer)` (METHOD.md §5)
- `ref_cache`  reference log-probs of a pairs dataset cached on disk by (content, reference weights)
- `steps`      step counts over micro-batches and processes, and the per-bucket log window
- `data`       project records → TRL conversational prompt/completion rows with a `bucket` column
- `tiny`       an offline byte-level BPE tokenizer with a chat template and a tiny Qwen2 model, and the
               named sizes the tests and benchmarks share
- `pairs_config` the `pairs:` section (k samples, decoding, weights, scorer)
- `pair_weights` pure maths of the HDPO pair weights (bucket balance, distance gap, mean 1, clip)
- `pair_report` per-bucket accounting and distance summaries of a pair set
- `pairs`      stage `pairs`: train prompts + start policy + reference → HDPO preference pairs
- `stage`      prepared data + reference key + config → model folder (weights, tokenizer, config,
               training summary), built in place through `artifacts.run_stage`
"""
