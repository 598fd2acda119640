"""Generation backends: a chat model that renders prompts, counts their tokens and samples responses.

`TransformersBackend` (batched `model.generate`, CPU or GPU) and `VLLMBackend` (optional GPU extra) take the
same rendered prompts, the same decoding settings and one seed per prompt (`sampling.record_seed`), so a
response does not depend on the batch it was generated in. Reads a local model folder; writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from polyalign.errors import PolyAlignError
from polyalign.generate.config import DecodingConfig, GenerateConfig


@dataclass
class Output:
    text: str
    finish_reason: str  # stop | length
    prompt_tokens: int
    new_tokens: int


class Backend(Protocol):
    name: str

    def count_tokens(self, messages: list[dict[str, str]]) -> int: ...

    def render(self, messages: list[dict[str, str]]) -> str: ...

    def generate(
        self, prompts: Sequence[str], seeds: Sequence[int], decoding: DecodingConfig, batch_size: int
    ) -> list[Output]: ...


class ChatBackend:
    """What both backends share: prompts rendered and counted with the model's own chat template."""

    name: str

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return len(self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"])


class TransformersBackend(ChatBackend):
    """Batched `model.generate` with left padding; batches are formed from length-sorted prompts."""

    name = "transformers"

    def __init__(self, model_path: str, dtype: str = "auto") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise PolyAlignError(
                f"no model at {model_path!r}: give a local model folder (save_pretrained layout), e.g. a "
                "train artefact; nothing is downloaded"
            )
        tokenizer = AutoTokenizer.from_pretrained(path)
        if tokenizer.chat_template is None:
            raise PolyAlignError(f"the tokenizer in {model_path} has no chat template; prompts are chats")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        super().__init__(tokenizer)
        torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
        self.model.eval()

    def generate(
        self, prompts: Sequence[str], seeds: Sequence[int], decoding: DecodingConfig, batch_size: int
    ) -> list[Output]:
        """Greedy search, or sampling with each prompt's own generator (`sampling.record_sampler`)."""
        import torch
        from transformers import LogitsProcessorList

        from polyalign.generate.sampling import record_sampler

        encoded = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        outputs: list[Output | None] = [None] * len(prompts)
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        settings = {
            "max_new_tokens": decoding.max_new_tokens,
            "do_sample": False,  # sampling, when asked for, is the per-record Gumbel-max processor below
            "temperature": None,
            "top_p": None,
            "top_k": None,
            "repetition_penalty": decoding.repetition_penalty,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        batches = range(0, len(order), batch_size)
        for start in tqdm(batches, desc="generate", unit=" batch", disable=None):  # None: off unless a TTY
            chosen = order[start : start + batch_size]
            batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in chosen]}, return_tensors="pt")
            processors = LogitsProcessorList()
            if decoding.do_sample:
                processors.append(
                    record_sampler(
                        [seeds[i] for i in chosen], decoding.temperature, decoding.top_k, decoding.top_p
                    )
                )
            with torch.no_grad():
                generated = self.model.generate(
                    **batch, **settings, logits_processor=processors
                )  # (b, p + new)
            new = generated[:, batch["input_ids"].shape[1] :]
            for row, i in enumerate(chosen):
                tokens = new[row].tolist()
                stop = next((j for j, t in enumerate(tokens) if t in eos_ids), None)
                kept = tokens if stop is None else tokens[:stop]
                outputs[i] = Output(
                    text=self.tokenizer.decode(kept, skip_special_tokens=True).strip(),
                    finish_reason="stop" if stop is not None else "length",
                    prompt_tokens=len(encoded[i]),
                    new_tokens=len(kept),
                )
        return [o for o in outputs if o is not None]


class VLLMBackend(ChatBackend):
    """vLLM (`pip install polyalign[vllm]` on a GPU machine): same prompts, same sampling settings."""

    name = "vllm"

    def __init__(self, model_path: str, dtype: str = "auto") -> None:
        try:
            import vllm
        except ImportError as error:
            raise PolyAlignError(
                "backend 'vllm' needs the vllm package (a GPU extra: pip install 'polyalign[vllm]'); "
                "use backend 'transformers' on CPU"
            ) from error
        self._vllm = vllm
        self.llm = vllm.LLM(model=model_path, dtype=dtype)
        super().__init__(self.llm.get_tokenizer())

    def generate(
        self, prompts: Sequence[str], seeds: Sequence[int], decoding: DecodingConfig, batch_size: int
    ) -> list[Output]:
        """One request per prompt, each with its record's seed (vLLM seeds requests, not batches)."""
        params = [
            self._vllm.SamplingParams(
                n=1,
                temperature=decoding.temperature if decoding.do_sample else 0.0,
                top_p=decoding.top_p if decoding.do_sample else 1.0,
                top_k=(decoding.top_k or -1) if decoding.do_sample else -1,
                repetition_penalty=decoding.repetition_penalty,
                max_tokens=decoding.max_new_tokens,
                seed=seed,
            )
            for seed in seeds
        ]
        results = self.llm.generate(list(prompts), params)  # one SamplingParams per prompt
        return [
            Output(
                r.outputs[0].text.strip(),
                "length" if r.outputs[0].finish_reason == "length" else "stop",
                len(r.prompt_token_ids or []),
                len(r.outputs[0].token_ids),
            )
            for r in results
        ]


def load_backend(config: GenerateConfig) -> Backend:
    if config.backend == "vllm":
        return VLLMBackend(config.model, config.dtype)
    return TransformersBackend(config.model, config.dtype)
