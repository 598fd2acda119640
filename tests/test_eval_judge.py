"""The optional LLM judge against a local stub of an OpenAI-compatible server (127.0.0.1 only)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import numpy as np
import pytest
from eval_helpers import small_fixture, small_prepared

from polyalign.artifacts import write_jsonl
from polyalign.errors import NothingUsable
from polyalign.evaluate.config import JudgeConfig
from polyalign.evaluate.engine import aggregate, bootstrap_rows, item_values
from polyalign.evaluate.judge import (
    RUBRIC,
    JudgeCache,
    JudgeError,
    OpenAICompatibleClient,
    _aggregate,
    judge_runs,
)
from polyalign.evaluate.stage import judge_stage


class StubJudge(BaseHTTPRequestHandler):
    """Scores an answer 5 on every criterion when it contains 'GOOD', else 2; remembers every request."""

    requests: ClassVar[list[dict]] = []
    broken_ids: ClassVar[set[str]] = set()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubJudge.requests.append(body)
        text = body["messages"][-1]["content"]
        answers = re.split(r"### Answer \d+\n", text)[1:]
        if any(marker in text for marker in StubJudge.broken_ids):
            content = "I cannot score these."
        else:
            scores = [
                {"answer": i + 1, **dict.fromkeys(RUBRIC, 5 if "GOOD" in a else 2)}
                for i, a in enumerate(answers)
            ]
            content = "Here you go:\n" + json.dumps({"scores": scores})
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    StubJudge.requests, StubJudge.broken_ids = [], set()
    httpd = HTTPServer(("127.0.0.1", 0), StubJudge)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_judge_is_blind_shuffled_cached_and_robust(server, tmp_path_factory, tmp_path):
    prepared, _ = small_fixture(str(tmp_path_factory.mktemp("judge")))
    records = sorted(prepared.splits["test"], key=lambda r: r.id)[:12]
    runs = {
        "hdpo_secret_name": {r.id: f"GOOD answer {i}" for i, r in enumerate(records)},
        "sft_secret_name": {r.id: f"plain answer {i}" for i, r in enumerate(records)},
    }
    config = JudgeConfig(endpoint=server, model="stub-judge", retries=0)
    client = OpenAICompatibleClient(config, api_key="test-key")
    cache = JudgeCache(tmp_path / "cache.jsonl")
    StubJudge.broken_ids = {records[3].prompt_messages[-1].content}
    result = judge_runs(records, runs, config, client, cache, bootstrap=20)

    sent = json.dumps(StubJudge.requests)
    assert "secret_name" not in sent and "hdpo" not in sent and "sft" not in sent  # blind
    positions = {
        req["messages"][-1]["content"].index("GOOD") < req["messages"][-1]["content"].index("plain")
        for req in StubJudge.requests
    }
    assert positions == {True, False}  # both orders occur: answers are shuffled per record
    good, plain = result["runs"]["hdpo_secret_name"], result["runs"]["sft_secret_name"]
    assert good["judge_task_success"]["macro"]["value"] == 5.0
    assert plain["judge_overall"]["macro"]["value"] == 2.0
    assert len(result["failures"]) == 1 and result["failures"][0]["id"] == records[3].id  # unusable reply
    assert result["requests"] == 13  # 12 records, the broken one asked twice

    StubJudge.requests.clear()
    again = judge_runs(records, runs, config, client, JudgeCache(tmp_path / "cache.jsonl"), bootstrap=20)
    assert again["cached"] == 11 and len(StubJudge.requests) == 2  # only the unusable one is asked again


def test_judge_needs_an_endpoint_and_reports_http_errors(server):
    with pytest.raises(JudgeError, match=r"endpoint and judge\.model"):
        OpenAICompatibleClient(JudgeConfig())
    client = OpenAICompatibleClient(
        JudgeConfig(endpoint="http://127.0.0.1:9/v1", model="m", retries=0, timeout_s=2)
    )
    with pytest.raises(JudgeError, match="failed after 1 tries"):
        client.complete([{"role": "user", "content": "hi"}])


def test_judge_stage_writes_an_artefact_keyed_by_its_inputs(server, tmp_path_factory, tmp_path):
    """Two files named alike become runs 'g' and 'g (2)'; judge.json and the manifest land under
    root/judge/<key>, and a second call reuses them without asking the judge again."""
    prepared = small_prepared(str(tmp_path_factory.mktemp("judge-stage")))
    records = sorted(prepared.content.splits["test"], key=lambda r: r.id)
    files = []
    for folder, text in (("a", "GOOD answer"), ("b", "plain answer")):
        path = tmp_path / folder / "g.jsonl"
        path.parent.mkdir()
        write_jsonl(path, [{"id": r.id, "response": f"{text} {i}"} for i, r in enumerate(records)])
        files.append(path)
    config = JudgeConfig(endpoint=server, model="stub-judge", retries=0, limit=4)
    client = OpenAICompatibleClient(config)
    root = tmp_path / "home"
    first = judge_stage(prepared, files, config, client, root=root)
    assert first.folder == root / "judge" / first.key and (first.folder / "manifest.json").is_file()
    assert sorted(first.content["runs"]) == ["g", "g (2)"] and first.content["records"] == 4
    assert first.content["runs"]["g"]["judge_overall"]["macro"]["value"] == 5.0
    assert first.manifest["parents"] == {"prepare": prepared.key}
    asked = len(StubJudge.requests)
    again = judge_stage(prepared, files, config, client, root=root)
    assert again.reused and again.content == first.content and len(StubJudge.requests) == asked
    other = judge_stage(prepared, files[::-1], config, client, root=root)
    assert other.key != first.key  # the run names are part of the key


def test_judge_scores_are_aggregated_by_the_engine_bootstrap():
    """Judge scores per bucket and macro come from `engine.aggregate`, macro interval included; a bucket
    whose every reply was unusable is n/a, and `overall` is the mean of the criteria per record."""
    en, zh, multi = "en|single|open_chat|short", "zh|single|open_chat|short", "en|multi|open_chat|long"
    buckets = [en, en, en, zh, zh, multi]
    scores = {c: np.array([5.0, 4.0, 3.0, 2.0, 2.0, np.nan]) for c in RUBRIC}
    scores["grounding"] = np.array([1.0, 1.0, 1.0, 4.0, 4.0, np.nan])
    out = _aggregate(scores, buckets, seed=0, draws=30, level=0.9)
    rows, positions = bootstrap_rows(buckets, 0, 30)
    expected, macro, _ = aggregate(
        item_values({"model": scores["grounding"]}), rows, positions, 0.9, na_reason=str
    )
    grounding = out["judge_grounding"]
    assert {b: e["value"] for b, e in grounding["buckets"].items()} == {
        b: e["value"] for b, e in expected.items()
    }
    assert grounding["macro"]["value"] == macro["value"] == 2.5  # (1 + 4) / 2: buckets weigh alike
    assert grounding["macro"]["low"] is not None and grounding["macro"]["high"] is not None
    assert grounding["buckets"][multi]["na"] == "the judge gave no usable score"
    overall = out["judge_overall"]["buckets"][en]["value"]
    # five criteria at 5, 4, 3 and grounding at 1: per record (5·5+1)/6, (4·5+1)/6, (3·5+1)/6 → mean 63/18
    assert overall == pytest.approx(3.5)


class Refuses:
    """A judge whose every reply is unusable."""

    def complete(self, messages: list[dict]) -> str:
        return "I cannot score these."


def test_judge_stage_with_no_usable_judgement_is_nothing_usable(tmp_path_factory, tmp_path):
    """Exit 1 territory: the stage ran, every reply was unusable, so no artefact is written."""
    prepared = small_prepared(str(tmp_path_factory.mktemp("judge-none")))
    path = tmp_path / "g.jsonl"
    write_jsonl(path, [{"id": r.id, "response": "x"} for r in prepared.content.splits["test"]])
    config = JudgeConfig(endpoint="http://127.0.0.1:9/v1", model="stub-judge", retries=0, limit=2)
    with pytest.raises(NothingUsable, match="no usable judgement for any of the 2 record"):
        judge_stage(prepared, [path], config, Refuses(), root=tmp_path / "home")
    assert not list((tmp_path / "home").glob("judge/*/manifest.json"))
