"""Generation backends: a chat model that renders prompts, counts their tokens and samples responses.

`TransformersBackend` (batched `model.generate`, CPU or GPU) and `VLLMBackend` (optional GPU extra) take the
same rendered prompts and the same decoding settings. Reads a local model folder; writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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

    def generate(self, prompts: Sequence[str], decoding: DecodingConfig, batch_size: int) -> list[Output]: ...


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

    def generate(self, prompts: Sequence[str], decoding: DecodingConfig, batch_size: int) -> list[Output]:
        import torch

        encoded = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        outputs: list[Output | None] = [None] * len(prompts)
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        settings = {
            "max_new_tokens": decoding.max_new_tokens,
            "do_sample": decoding.do_sample,
            "repetition_penalty": decoding.repetition_penalty,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if decoding.do_sample:
            settings.update(
                temperature=decoding.temperature, top_p=decoding.top_p, top_k=decoding.top_k or None
            )
        for batch_index, start in enumerate(range(0, len(order), batch_size)):
            chosen = order[start : start + batch_size]
            batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in chosen]}, return_tensors="pt")
            torch.manual_seed(decoding.seed + batch_index)  # same settings, same batches → same samples
            with torch.no_grad():
                generated = self.model.generate(**batch, **settings)  # (b, prompt + new)
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

    def __init__(self, model_path: str, dtype: str = "auto", seed: int = 0) -> None:
        try:
            import vllm
        except ImportError as error:
            raise PolyAlignError(
                "backend 'vllm' needs the vllm package (a GPU extra: pip install 'polyalign[vllm]'); "
                "use backend 'transformers' on CPU"
            ) from error
        self._vllm = vllm
        self.llm = vllm.LLM(model=model_path, dtype=dtype, seed=seed)
        super().__init__(self.llm.get_tokenizer())

    def generate(self, prompts: Sequence[str], decoding: DecodingConfig, batch_size: int) -> list[Output]:
        params = self._vllm.SamplingParams(
            n=1,
            temperature=decoding.temperature if decoding.do_sample else 0.0,
            top_p=decoding.top_p if decoding.do_sample else 1.0,
            top_k=(decoding.top_k or -1) if decoding.do_sample else -1,
            repetition_penalty=decoding.repetition_penalty,
            max_tokens=decoding.max_new_tokens,
            seed=decoding.seed,
        )
        results = self.llm.generate(list(prompts), params)
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
        return VLLMBackend(config.model, config.dtype, config.decoding.seed)
    return TransformersBackend(config.model, config.dtype)
