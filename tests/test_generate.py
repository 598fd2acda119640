"""Generation: one decoding path, the full split, stored prompts/profiles/settings, and the leak guard."""

from __future__ import annotations

import dataclasses
import json
import sys
import types

import pytest

from polyalign.data.buckets import BucketKey
from polyalign.data.config import PrepareConfig, SourceConfig
from polyalign.data.prepare import prepare_stage
from polyalign.data.records import Message
from polyalign.errors import ConfigError
from polyalign.evaluate.generations import read_generations
from polyalign.generate.backends import TransformersBackend, VLLMBackend
from polyalign.generate.config import DecodingConfig, GenerateConfig
from polyalign.generate.plan import LeakError, PromptPlan, check_leaks, plan_prompts
from polyalign.generate.sampling import record_seed
from polyalign.generate.stage import generate_key, generate_rows, generate_stage
from polyalign.reference.config import ReferenceConfig
from polyalign.reference.reference import build_reference
from polyalign.reference.stage import reference_stage
from polyalign.train.config import TinyModelSettings
from polyalign.train.tiny import build_tiny


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("generate")
    prepared = prepare_stage(PrepareConfig(sources=[SourceConfig(fixture=0)]), root=tmp, progress=False)
    reference = build_reference(prepared.content.splits["train"], ReferenceConfig())
    texts = [m.content for r in prepared.content.splits["train"][:200] for m in r.messages]
    model, tokenizer = build_tiny(
        texts, TinyModelSettings(vocab_size=400, hidden_size=32, intermediate_size=64)
    )
    model.save_pretrained(tmp / "model")
    tokenizer.save_pretrained(tmp / "model")
    return prepared, reference, str(tmp / "model")


def _config(model: str, **overrides) -> GenerateConfig:
    return GenerateConfig(model=model, decoding=DecodingConfig(max_new_tokens=4), batch_size=4, **overrides)


def test_generation_rows_carry_prompt_profile_decoding_and_model(setup, artifact_home):
    prepared, _, model = setup
    records = sorted(prepared.content.splits["test"], key=lambda r: r.id)[:6]
    content = dataclasses.replace(prepared.content, splits={**prepared.content.splits, "test": records})
    prepared = dataclasses.replace(prepared, content=content)
    reference = reference_stage(prepared, ReferenceConfig(), root=artifact_home)
    artifact = generate_stage(prepared, reference, _config(model), root=artifact_home)
    assert artifact.folder == artifact_home / "generate" / artifact.key
    assert artifact.manifest["parents"] == {
        "prepare": prepared.key,
        "reference": reference.manifest["key"],
    }
    rows = [json.loads(line) for line in artifact.content.read_text().splitlines()]
    assert [r["id"] for r in rows] == [r.id for r in records]
    first = rows[0]
    assert first["prompt"].startswith("<|im_start|>system\nResponse profile")
    assert first["prompt"].endswith("<|im_start|>assistant\n")
    assert first["profile"]["length_source"] == "sample" and first["profile_mode"] == "sample"
    assert first["decoding"]["max_new_tokens"] == 4 and first["backend"] == "transformers"
    assert first["model"]["path"] == model and 0 < first["new_tokens"] <= 4
    assert records[0].response not in first["prompt"]
    assert artifact.manifest["full_split"] and artifact.manifest["leak_guard"]["mode"] == "allow_extractive"
    generations = read_generations(artifact.folder)  # the evaluator reads the artefact folder as it is
    assert set(generations.responses) == {r.id for r in records}
    assert generations.provenance["generate"]["key"] == artifact.manifest["key"]
    again = generate_stage(prepared, reference, _config(model), root=artifact_home)
    assert again.reused and again.content == artifact.content


def test_profiles_are_shared_by_methods_and_never_read_the_gold(setup):
    """Same seed, same record → same sampled target length, whatever the model; mode off: no system."""
    prepared, reference, _ = setup
    records = prepared.content.splits["test"][:30]
    a = plan_prompts(records, reference, _config("model-a"))
    b = plan_prompts(list(reversed(records)), reference, _config("model-b"))
    assert [p.profile for p in a] == [p.profile for p in b]
    wrong = str(BucketKey("x", "y", "z", "short"))
    mutated = [dataclasses.replace(r, length_units=1, length_bin="short", bucket=wrong) for r in records]
    assert [p.profile for p in plan_prompts(mutated, reference, _config("m"))] == [p.profile for p in a]
    off = plan_prompts(records, reference, _config("m", profile="off"))
    assert all(p.profile is None for p in off)
    assert not any("profile" in m["content"] for p in off for m in p.messages)
    fixed = plan_prompts(records, reference, _config("m", profile="80"))
    assert {p.profile.target_length for p in fixed} == {80}


def test_same_seed_same_generations(setup):
    prepared, reference, model = setup
    records = sorted(prepared.content.splits["test"], key=lambda r: r.id)[:4]
    backend = TransformersBackend(model)
    first, _ = generate_rows(records, reference, _config(model), backend)
    second, _ = generate_rows(records, reference, _config(model), backend)
    assert [r["response"] for r in first] == [r["response"] for r in second]


def _plan(record, messages):
    return PromptPlan(record, messages, None, text=" ".join(m["content"] for m in messages))


def test_a_response_depends_on_its_record_not_on_its_batch(setup):
    """A sample is a function of (model, prompt, decoding, seed, record id): the batch size and the other
    records of the split change nothing; another seed changes the samples."""
    prepared, reference, model = setup
    records = sorted(prepared.content.splits["test"], key=lambda r: r.id)[:8]
    backend = TransformersBackend(model)
    config = GenerateConfig(model=model, decoding=DecodingConfig(max_new_tokens=12), batch_size=8)

    def responses(chosen, **changes):
        rows, _ = generate_rows(chosen, reference, dataclasses.replace(config, **changes), backend)
        return {r["id"]: r["response"] for r in rows}

    together = responses(records)
    assert responses(records, batch_size=1) == together
    assert responses(records, batch_size=3) == together
    subset = records[1::3]
    assert responses(subset, batch_size=2) == {r.id: together[r.id] for r in subset}
    other_seed = responses(records, decoding=DecodingConfig(max_new_tokens=12, seed=1))
    assert other_seed != together


def test_generate_key_is_the_same_under_another_root(setup, tmp_path):
    """The key holds the model's identity (its train key or its files), not the folder it sits in, and
    nothing that leaves the responses as they are."""
    import shutil

    prepared, _, model = setup
    copy = tmp_path / "elsewhere" / "model"
    shutil.copytree(model, copy)
    key = generate_key(prepared.key, None, _config(model))
    assert generate_key(prepared.key, None, _config(str(copy))) == key
    wider = dataclasses.replace(_config(model), batch_size=5)
    assert generate_key(prepared.key, None, wider) == key  # the batch size changes no response
    assert generate_key(prepared.key, None, _config(model, profile="none")) != key


def test_leak_guard_refuses_a_prompt_with_its_gold_answer(setup):
    prepared, _, _ = setup
    record = next(r for r in prepared.content.splits["test"] if r.length_units and r.length_units > 10)
    leaked = dataclasses.replace(
        record,
        messages=(
            Message("user", f"{record.prompt_messages[-1].content}\nReference answer: {record.response}"),
            Message("assistant", record.response),
        ),
    )
    config = _config("m")
    with pytest.raises(LeakError, match="contain their gold response"):
        check_leaks([_plan(leaked, [{"role": "user", "content": leaked.messages[0].content}])], config)
    # the same text as a passage of an extractive QA record is data, not a leak (counted)
    passage = dataclasses.replace(leaked, meta={**leaked.meta, "has_context": True})
    report = check_leaks([_plan(passage, [{"role": "user", "content": passage.messages[0].content}])], config)
    assert report["allowed_extractive"] == 1
    with pytest.raises(LeakError):
        check_leaks(
            [_plan(passage, [{"role": "user", "content": passage.messages[0].content}])],
            _config("m", leak_guard="strict"),
        )
    # anything generation adds (a system prompt) that holds the gold is always refused
    added = [{"role": "system", "content": record.response}, {"role": "user", "content": "hi"}]
    with pytest.raises(LeakError):
        check_leaks([_plan(passage, added)], config)


def test_config_is_checked():
    with pytest.raises(ConfigError, match=r"generate\.profile"):
        GenerateConfig(profile="gold")
    with pytest.raises(ConfigError, match=r"generate\.backend"):
        GenerateConfig(backend="tgi")


def test_vllm_backend_passes_the_shared_settings(monkeypatch):
    """vLLM is a GPU extra; a stand-in module checks the settings it would receive."""
    seen = {}

    class FakeLLM:
        def __init__(self, **kwargs):
            seen["init"] = kwargs

        def get_tokenizer(self):
            return None

        def generate(self, prompts, params):
            seen["params"] = params
            output = types.SimpleNamespace(text=" hi ", finish_reason="stop", token_ids=[1, 2])
            return [types.SimpleNamespace(outputs=[output], prompt_token_ids=[1]) for _ in prompts]

    fake = types.SimpleNamespace(LLM=FakeLLM, SamplingParams=lambda **kw: kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    backend = VLLMBackend("some/model")
    seeds = [record_seed(3, "a"), record_seed(3, "b")]
    outputs = backend.generate(["a", "b"], seeds, DecodingConfig(max_new_tokens=9, top_k=0), batch_size=2)
    assert [o.text for o in outputs] == ["hi", "hi"]
    assert [p["seed"] for p in seen["params"]] == seeds  # one request per record, with its own seed
    assert all(p["max_tokens"] == 9 and p["top_k"] == -1 for p in seen["params"])
