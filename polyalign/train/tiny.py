"""A tiny offline causal LM and tokenizer, for tests and the offline default (`train.model: tiny`).

Nothing is downloaded: the tokenizer is a byte-level BPE trained with `tokenizers` on the given texts
(EN and ZH; byte-level, so any text round-trips) and wrapped in `PreTrainedTokenizerFast` with a ChatML
chat template; the model is a randomly initialised Qwen2 built from a config. Deterministic for the
same texts, settings and seed. Reads and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from polyalign.train.config import TinyModelSettings

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

EOS, IM_START, IM_END, PAD = "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"
SPECIAL_TOKENS = (EOS, IM_START, IM_END, PAD)

# Named sizes shared by the tests and the benchmarks (one definition each; `dataclasses.replace` to vary).
# TEST: the smallest model that still trains visibly in a few CPU steps.
TEST_SIZE = TinyModelSettings(
    vocab_size=512,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    max_position_embeddings=1024,
)
# CURVES: large enough that per-bucket loss curves separate over a few hundred steps (bucket_curves.py).
CURVES_SIZE = TinyModelSettings(
    vocab_size=4096,
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
)
# SPEED: the tiny Qwen2 of ECOSYSTEM.md's speed table (hidden 256, 4 layers), timed by bench_train.py.
SPEED_SIZE = TinyModelSettings(
    vocab_size=2048,
    hidden_size=256,
    intermediate_size=688,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
)

# ChatML, as Qwen uses it. `{% generation %}` marks the assistant tokens so that TRL's
# `assistant_only_loss` works too; the prompt rendered with `add_generation_prompt` is a token prefix of
# prompt + completion (the completion starts right after "<|im_start|>assistant\n").
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}{{- '\n' }}"
    "{%- else %}"
    "{{- message['content'] + '<|im_end|>\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on `texts`, with ChatML special tokens, pad token and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=IM_END,  # a chat model stops at the end of its turn
        pad_token=PAD,
        bos_token=None,
        unk_token=None,
        additional_special_tokens=[EOS, IM_START],
        model_max_length=1 << 20,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(
    tokenizer: PreTrainedTokenizerFast, settings: TinyModelSettings | None = None
) -> PreTrainedModel:
    """A randomly initialised Qwen2 sized by `settings`, agreeing with `tokenizer` on vocabulary and ids."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    s = settings or TinyModelSettings()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=s.hidden_size,
        intermediate_size=s.intermediate_size,
        num_hidden_layers=s.num_hidden_layers,
        num_attention_heads=s.num_attention_heads,
        num_key_value_heads=s.num_key_value_heads,
        max_position_embeddings=s.max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def build_tiny(texts: Iterable[str], settings: TinyModelSettings | None = None):
    """Tokenizer trained on `texts` and a tiny model matching it: `(model, tokenizer)`."""
    s = settings or TinyModelSettings()
    tokenizer = train_tokenizer(texts, s.vocab_size)
    return build_tiny_model(tokenizer, s), tokenizer
