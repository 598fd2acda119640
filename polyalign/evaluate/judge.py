"""Optional LLM judge behind any OpenAI-compatible `/chat/completions` endpoint, blind to the method.

For each record the answers of every run are shown together, unlabeled ("Answer 1..k"), in an order
shuffled per record with a seeded generator, after the conversation; the judge scores each answer 1-5 on
every rubric criterion and returns JSON. The prompt never names a method, a model or the human answer's
origin. Replies are cached (JSONL, keyed by a hash of the endpoint model, rubric version and the exact
request), so a re-run or an interrupted run asks again only what it has not got. An unusable reply
(no JSON, missing scores) is retried, then recorded as a failure with its reason: never a crash.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from polyalign import artifacts
from polyalign.data.records import Record
from polyalign.errors import PolyAlignError
from polyalign.evaluate.config import JudgeConfig
from polyalign.evaluate.engine import aggregate, bootstrap_rows, item_values
from polyalign.evaluate.registry import RUBRIC, RUBRIC_VERSION

SYSTEM = (
    "You are an impartial evaluator of replies in conversations. You will see a conversation and several "
    "candidate replies to its last user turn, labelled only by number and given in random order. Score "
    "every reply independently on each criterion from 1 (very poor) to 5 (excellent). Do not favour a "
    "reply for its position or its length.\n\nCriteria:\n"
    + "\n".join(f"- {name}: {question}" for name, question in RUBRIC.items())
    + '\n\nAnswer with JSON only: {"scores": [{"answer": 1, '
    + ", ".join(f'"{name}": <1-5>' for name in RUBRIC)
    + "}, ...]} with one object per reply."
)


class JudgeError(PolyAlignError):
    """The judge endpoint cannot be used (unreachable, wrong model, no key)."""


class CompletionClient(Protocol):
    """What the judge asks: the assistant's reply to a list of chat messages."""

    def complete(self, messages: list[dict[str, str]]) -> str: ...


class OpenAICompatibleClient:
    """Minimal client of `POST {endpoint}/chat/completions` (urllib; no extra dependency)."""

    def __init__(self, config: JudgeConfig, api_key: str | None = None) -> None:
        if not config.endpoint or not config.model:
            raise JudgeError("judge.endpoint and judge.model must be set (an OpenAI-compatible server)")
        self.config = config
        self.url = config.endpoint.rstrip("/") + "/chat/completions"
        self.api_key = api_key

    def complete(self, messages: list[dict[str, str]]) -> str:
        body = json.dumps(
            {
                "model": self.config.model,
                "messages": messages,
                "temperature": self.config.temperature,
                "max_tokens": self.config.max_tokens,
            }
        ).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last_error: Exception | None = None
        for attempt in range(self.config.retries + 1):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                    data = json.loads(response.read().decode("utf-8"))
                return str(data["choices"][0]["message"]["content"])
            except urllib.error.HTTPError as error:
                if error.code in (400, 401, 403, 404):
                    raise JudgeError(
                        f"judge endpoint {self.url} answered {error.code}: {error.reason}"
                    ) from None
                last_error = error
            except (urllib.error.URLError, TimeoutError, KeyError, IndexError, json.JSONDecodeError) as error:
                last_error = error
            time.sleep(min(2.0**attempt * 0.2, 5.0))
        raise JudgeError(
            f"judge endpoint {self.url} failed after {self.config.retries + 1} tries: {last_error}"
        )


def judge_prompt(record: Record, answers: Sequence[str]) -> list[dict[str, str]]:
    """The judge's messages: rubric, conversation (without the gold answer) and unlabeled answers."""
    turns = "\n\n".join(f"[{m.role}]\n{m.content}" for m in record.prompt_messages)
    shown = "\n\n".join(
        f"### Answer {i + 1}\n{text if text.strip() else '(empty reply)'}" for i, text in enumerate(answers)
    )
    return [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": f"Conversation:\n\n{turns}\n\nCandidate replies to the last user turn:\n\n{shown}",
        },
    ]


def parse_scores(content: str, n_answers: int) -> list[dict[str, int]]:
    """Scores per answer (in the order shown) from the judge's reply; ValueError says what is wrong."""
    start, end = content.find("{"), content.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("the reply holds no JSON object")
    data = json.loads(content[start : end + 1])
    items = data.get("scores") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("the reply has no 'scores' list")
    by_answer: dict[int, dict[str, int]] = {}
    for item in items:
        number = item.get("answer") if isinstance(item, dict) else None
        if not isinstance(number, int) or not 1 <= number <= n_answers:
            raise ValueError(f"a score names answer {number!r}, not 1..{n_answers}")
        scores = {}
        for criterion in RUBRIC:
            value = item.get(criterion)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 5:
                raise ValueError(f"answer {number}: {criterion} must be a score 1-5, got {value!r}")
            scores[criterion] = round(float(value))
        by_answer[number] = scores
    if len(by_answer) != n_answers:
        raise ValueError(f"scores for {len(by_answer)} of {n_answers} answers")
    return [by_answer[i + 1] for i in range(n_answers)]


class JudgeCache:
    """Replies by request hash, in a JSONL file appended as replies arrive (plain, never pickled)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        if path is not None and path.is_file():
            self.entries = {row["key"]: row["content"] for row in artifacts.read_jsonl(path)}

    @staticmethod
    def key(model: str, messages: list[dict[str, str]]) -> str:
        payload = json.dumps({"model": model, "rubric": RUBRIC_VERSION, "messages": messages}, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def put(self, key: str, content: str) -> None:
        self.entries[key] = content
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"key": key, "content": content}, ensure_ascii=False) + "\n")


def judge_runs(
    records: Sequence[Record],
    runs: Mapping[str, Mapping[str, str]],
    config: JudgeConfig,
    client: CompletionClient,
    cache: JudgeCache,
    *,
    bootstrap: int = 200,
    level: float = 0.95,
) -> dict[str, Any]:
    """Judge every record answered by every run (runs: name → {id: response}); per-run rubric results."""
    names = sorted(runs)
    common = sorted((r for r in records if all(r.id in runs[n] for n in names)), key=lambda r: r.id)
    common = common[: config.limit] if config.limit else common
    if not common:
        raise JudgeError("no record is answered by every run: judge runs generated on the same test set")
    scores = {n: {c: np.full(len(common), np.nan) for c in RUBRIC} for n in names}
    failures, calls, cached = [], 0, 0
    for i, record in enumerate(common):
        order = np.random.default_rng([config.seed, i]).permutation(len(names))
        shown = [names[j] for j in order]
        messages = judge_prompt(record, [runs[n][record.id] for n in shown])
        key = JudgeCache.key(config.model, messages)
        content = cache.get(key)
        from_cache = content is not None
        parsed, reason = None, ""
        for _attempt in range(2):
            if content is None:
                content = client.complete(messages)
                calls += 1
            try:
                parsed = parse_scores(content, len(shown))
                break
            except (ValueError, json.JSONDecodeError) as error:
                reason, content, from_cache = str(error), None, False
        if parsed is None or content is None:
            failures.append({"id": record.id, "reason": reason})
            continue
        if from_cache:
            cached += 1
        else:
            cache.put(key, content)
        for name, answer_scores in zip(shown, parsed, strict=True):
            for criterion, value in answer_scores.items():
                scores[name][criterion][i] = value
    buckets = [str(r.bucket) for r in common]
    results = {name: _aggregate(scores[name], buckets, config.seed, bootstrap, level) for name in names}
    return {
        "stage": "judge",
        "rubric_version": RUBRIC_VERSION,
        "rubric": RUBRIC,
        "config": asdict(config),
        "runs": results,
        "records": len(common),
        "failures": failures,
        "requests": calls,
        "cached": cached,
    }


def _aggregate(
    scores: dict[str, np.ndarray], buckets: list[str], seed: int, draws: int, level: float
) -> dict[str, Any]:
    """Each criterion (and their mean, `overall`) per bucket with the evaluation engine's bootstrap."""
    with warnings.catch_warnings():  # a record without a usable reply is nan in every criterion: n/a
        warnings.simplefilter("ignore", RuntimeWarning)
        overall = np.nanmean(np.vstack(list(scores.values())), axis=0) if buckets else np.array([])
    rows, positions = bootstrap_rows(buckets, seed, draws)
    out = {}
    for criterion, vector in {**scores, "overall": overall}.items():
        per_bucket, macro, _ = aggregate(
            item_values({"model": vector}), rows, positions, level,
            na_reason=lambda idx: "the judge gave no usable score",
        )  # fmt: skip
        out[f"judge_{criterion}"] = {"buckets": per_bucket, "macro": macro}
    return out
