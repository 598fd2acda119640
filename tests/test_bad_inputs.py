"""The bad-input matrix: a user's mistake, for every command, ends with an exit code scripts can trust
(2: usage or config; 1: a stage produced nothing usable), a message that names the file, line or key
and the fix, and never a traceback. Prepare cases that still produce output keep every record accounted
for (in = kept + duplicates + rejected) and name the file and line of each rejection.

Every case fails before any training or generation, so the whole matrix takes seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyalign.cli import app
from polyalign.data.fixture.generator import make_fixture_corpus

runner = CliRunner()
GOOD_LINES = 40  # one bad line among 40 good ones stays under prepare's 5% rejection warning


@dataclass(frozen=True)
class Case:
    """One bad invocation: its arguments (built from the folder of inputs), exit code and expected text."""

    name: str
    args: Callable[[Path], list[str]]
    code: int
    says: tuple[str, ...]  # substrings of the output: the file, line or key, and the fix


def _lines(count: int = GOOD_LINES) -> list[str]:
    """Valid records of the synthetic corpus, one JSON object per line."""
    return [json.dumps(record.to_dict(), ensure_ascii=False) for record in make_fixture_corpus(0)[:count]]


def _write_inputs(folder: Path) -> None:
    """Every bad file the cases point at, written once per module."""
    good = _lines()
    files = {
        "one_bad_line.jsonl": [*good[:20], '{"id": "cut", "messages": [{"role": "user"', *good[20:]],
        "no_response.jsonl": [
            *good[:20],
            json.dumps(
                {
                    "id": "nr",
                    "language": "en",
                    "family": "open_chat",
                    "messages": [{"role": "user", "content": "hi"}],
                }
            ),
            *good[20:],
        ],
        "duplicate.jsonl": [*good, good[3]],
        "not_object.jsonl": [*good, '["a", "list"]'],
        "gens_faults.jsonl": [
            "{not json",
            '{"id": "x", "response": 3}',
            '{"response": "no id"}',
            '{"id": "zz", "response": "an id of no test record"}',
        ],
        "gens_duplicate.jsonl": ['{"id": "a", "response": "x"}', '{"id": "a", "response": "y"}'],
        "gens_mixed.jsonl": [
            '{"id": "a", "response": "x", "decoding": {"temperature": 0.7}}',
            '{"id": "b", "response": "y", "decoding": {"temperature": 1.0}}',
        ],
        "gens_empty.jsonl": [],
        "unknown_key.yaml": ["prepare:", "  sorces: []"],
        "bad_yaml.yaml": ["prepare: ["],
        "bad_top_key.yaml": ["sources: [{fixture: 0}]"],
        "bad_seed.yaml": ["prepare:", "  sources: [{fixture: 0}]", "  splits:", "    seed: many"],
        "bad_train_arg.yaml": [
            "prepare:",
            "  sources: [{fixture: 0}]",
            "train:",
            "  args:",
            "    max_stepz: 3",
        ],
        "auc_only.yaml": [
            "prepare:",
            "  sources: [{fixture: 0}]",
            "evaluate:",
            "  embedder: hashing",
            "  metrics: [auc]",
        ],
        "gens_one.jsonl": ['{"id": "fixture-en:000002", "response": "one answer is too few for an AUC"}'],
        "fixture.yaml": ["prepare:", "  sources: [{fixture: 0}]", "evaluate:", "  embedder: hashing"],
    }
    for name, lines in files.items():
        (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (folder / "gens_cp1252.jsonl").write_bytes('{"id": "a", "response": "café"}\n'.encode("cp1252"))
    (folder / "not_an_artefact").mkdir()
    (folder / "not_an_artefact" / "notes.txt").write_text("mine", encoding="utf-8")


def f(name: str) -> Callable[[Path], str]:
    """A file of the inputs folder, resolved when the case runs."""
    return lambda folder: str(folder / name)


def case(name: str, parts: list[str | Callable[[Path], str]], code: int, *says: str) -> Case:
    """A case whose arguments may name files of the inputs folder (as `f(name)`)."""
    return Case(name, lambda folder: [p(folder) if callable(p) else p for p in parts], code, says)


CFG = f("fixture.yaml")
CASES = [
    # prepare: inputs and config
    case("prepare-missing-file", ["prepare", f("nope.jsonl")], 2, "nope.jsonl", "give a file, a folder"),
    case("prepare-glob-matches-nothing", ["prepare", f("*.nomatch")], 2, "*.nomatch", "a glob"),
    case("prepare-no-source", ["prepare"], 2, "prepare.sources is empty", "--fixture 0"),
    case(
        "prepare-unknown-format",
        ["prepare", f("duplicate.jsonl"), "--format", "bogus"],
        2,
        "'bogus'",
        "alpaca",
    ),
    case("prepare-unknown-corpus", ["prepare", "--corpus", "nosuch"], 2, "'nosuch'", "polyalign data list"),
    case("prepare-config-missing", ["prepare", "-c", f("none.yaml")], 2, "none.yaml", "does not exist"),
    case(
        "prepare-config-unknown-key",
        ["prepare", "-c", f("unknown_key.yaml")],
        2,
        "unknown_key.yaml",
        "'sorces'",
        "allowed",
        "'sources'",
    ),
    case(
        "prepare-config-not-yaml",
        ["prepare", "-c", f("bad_yaml.yaml")],
        2,
        "bad_yaml.yaml:",
        "not valid YAML",
    ),
    case(
        "prepare-config-top-key",
        ["prepare", "-c", f("bad_top_key.yaml")],
        2,
        "bad_top_key.yaml",
        "'sources'",
        "allowed",
        "'prepare'",
    ),
    case(
        "prepare-config-wrong-type",
        ["prepare", "-c", f("bad_seed.yaml")],
        2,
        "bad_seed.yaml",
        "seed",
        "many",
    ),
    # the artefact readers
    case(
        "buckets-not-an-artefact",
        ["buckets", f("not_an_artefact")],
        2,
        "not_an_artefact",
        "not a complete prepare artefact",
        "run `polyalign prepare`",
    ),
    case("buckets-missing-folder", ["buckets", f("gone")], 2, "gone", "run `polyalign prepare`"),
    case(
        "reference-build-not-prepared",
        ["reference", "build", f("not_an_artefact")],
        2,
        "not_an_artefact",
        "run `polyalign prepare`",
    ),
    case(
        "reference-score-bad-lines",
        ["reference", "score", f("not_an_artefact"), f("gens_faults.jsonl")],
        2,
        "gens_faults.jsonl:1",
        "not valid JSON",
    ),
    case(
        "reference-critic-no-reference",
        ["reference", "critic", f("not_an_artefact"), f("gens_mixed.jsonl")],
        2,
        "not_an_artefact",
        "give the folder reference build wrote",
    ),
    case(
        "report-not-evaluated",
        ["report", f("not_an_artefact")],
        2,
        "not_an_artefact",
        "not a complete evaluate artefact",
        "polyalign evaluate",
    ),
    case("report-missing-folder", ["report", f("gone")], 2, "gone", "polyalign evaluate"),
    # train, generate, evaluate and judge: refused before any model runs
    case(
        "train-unknown-method",
        ["train", "sft", "-c", CFG, "--method", "bogus"],
        2,
        "train.method",
        "'sft', 'bucket_sft'",
        "'bogus'",
    ),
    case(
        "train-unknown-arg",
        ["train", "sft", "-c", f("bad_train_arg.yaml")],
        2,
        "train.args",
        "'max_stepz'",
        "max_steps",
    ),
    case("generate-no-model", ["generate", "-c", CFG], 2, "generate.model is not set", "--model"),
    case(
        "generate-model-not-found",
        ["generate", "-c", CFG, "--model", f("no_model")],
        2,
        "no_model",
        "give a local model folder",
    ),
    case(
        "generate-unknown-backend",
        ["generate", "-c", CFG, "--model", "tiny", "--backend", "bogus"],
        2,
        "generate.backend",
        "'transformers', 'vllm'",
        "'bogus'",
    ),
    case(
        "evaluate-file-and-human",
        ["evaluate", f("gens_mixed.jsonl"), "--human", "gold", "-c", CFG],
        2,
        "either a generations file or --human",
    ),
    case(
        "evaluate-unknown-human",
        ["evaluate", "--human", "bogus", "-c", CFG],
        2,
        "'gold' or 'split'",
        "'bogus'",
    ),
    case(
        "evaluate-no-such-file",
        ["evaluate", f("nogens.jsonl"), "-c", CFG],
        2,
        "nogens.jsonl",
        "give a JSONL file or a generate artefact folder",
    ),
    case(
        "evaluate-every-fault-at-once",
        ["evaluate", f("gens_faults.jsonl"), "-c", CFG],
        2,
        "gens_faults.jsonl:1: not valid JSON",
        "gens_faults.jsonl:2: 'response' of id 'x' must be a string",
        "gens_faults.jsonl:3: missing or invalid 'id'",
        "1 unknown id(s)",
        "'zz'",
        "of 235 test record(s) have no generation",
        "--allow-missing",
        "fix them all",
    ),
    case(
        "evaluate-duplicate-ids",
        ["evaluate", f("gens_duplicate.jsonl"), "-c", CFG],
        2,
        "gens_duplicate.jsonl",
        "1 duplicate id(s)",
        "'a' (lines 1, 2)",
        "keep one generation per record",
    ),
    case(
        "evaluate-mixed-settings",
        ["evaluate", f("gens_mixed.jsonl"), "-c", CFG],
        2,
        "gens_mixed.jsonl",
        "mix 2 model/decoding settings",
    ),
    case(
        "evaluate-empty-file",
        ["evaluate", f("gens_empty.jsonl"), "-c", CFG, "--allow-missing"],
        2,
        "gens_empty.jsonl",
        "no generations",
    ),
    case(
        "evaluate-not-utf8",
        ["evaluate", f("gens_cp1252.jsonl"), "-c", CFG],
        2,
        "gens_cp1252.jsonl:1: byte",
        "is not UTF-8",
        "write the file as UTF-8",
    ),
    case(
        "evaluate-no-metric-has-a-value",
        ["evaluate", f("gens_one.jsonl"), "-c", f("auc_only.yaml"), "--allow-missing"],
        1,
        "'gens_one' gave no metric a value",
        "1 generation(s) for 235 test record(s)",
        "needs >= 10 records in the bucket",
        "_min_rows",
    ),
    case(
        "judge-no-endpoint",
        ["judge", f("gens_mixed.jsonl"), "-c", CFG],
        2,
        "judge.endpoint and judge.model must be set",
    ),
    case(
        "judge-every-file-fault",
        [
            "judge",
            f("gens_faults.jsonl"),
            f("gens_duplicate.jsonl"),
            "-c",
            CFG,
            "--endpoint",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
        ],
        2,
        "gens_faults.jsonl:1: not valid JSON",
        "gens_duplicate.jsonl",
        "'a' (lines 1, 2)",
    ),
    # run, data, fixture
    case("run-config-missing", ["run", "-c", f("none.yaml")], 2, "none.yaml", "does not exist"),
    case(
        "run-config-unknown-key",
        ["run", "-c", f("unknown_key.yaml")],
        2,
        "unknown_key.yaml",
        "'sorces'",
        "allowed",
    ),
    case("run-config-not-yaml", ["run", "-c", f("bad_yaml.yaml")], 2, "bad_yaml.yaml:", "not valid YAML"),
    case("data-show-unknown", ["data", "show", "nosuch"], 2, "'nosuch'", "dolly", "polyalign data list"),
    case("fixture-missing-argument", ["fixture"], 2, "Missing argument 'out'"),
    case("unknown-option", ["evaluate", "--no-such-option"], 2, "No such option", "-h' for help"),
    case("unknown-command", ["prepar"], 2, "No such command", "prepar"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad-inputs")
    _write_inputs(folder)
    return folder


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One artefact root for the module: the fixture corpus is prepared and referenced once, not per case."""
    return tmp_path_factory.mktemp("bad-inputs-home")


@pytest.mark.parametrize("bad", CASES, ids=[c.name for c in CASES])
def test_a_bad_invocation_exits_with_a_message_and_no_traceback(
    bad: Case, inputs: Path, shared_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYALIGN_HOME", str(shared_home))
    result = runner.invoke(app, bad.args(inputs), terminal_width=400)
    output = " ".join(result.output.split())  # a long path may be wrapped by the console
    assert result.exit_code == bad.code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for text in bad.says:
        assert text in output, f"{text!r} not in {output!r}"


@pytest.mark.parametrize(
    ("file", "reason", "line", "duplicates"),
    [
        ("one_bad_line.jsonl", "unparsable_json", 21, 0),
        ("no_response.jsonl", None, 21, 0),
        ("not_object.jsonl", None, GOOD_LINES + 1, 0),
        ("duplicate.jsonl", None, None, 1),
    ],
)
def test_prepare_keeps_every_record_accounted_for(
    file: str, reason: str | None, line: int | None, duplicates: int, inputs: Path, artifact_home: Path
) -> None:
    """A bad record among good ones is quarantined with its file and line; the rest is prepared, exit 0."""
    result = runner.invoke(app, ["prepare", str(inputs / file)], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "quarantine" in result.output
    (manifest_file,) = artifact_home.glob("prepare/*/manifest.json")
    counts = json.loads(manifest_file.read_text(encoding="utf-8"))["counts"]
    assert counts["in"] == counts["kept"] + counts["duplicates"] + counts["rejected"] and counts["reconciles"]
    assert counts["duplicates"] == duplicates and counts["kept"] == GOOD_LINES
    quarantined = [
        json.loads(row) for row in (manifest_file.parent / "quarantine.jsonl").read_text().splitlines()
    ]
    assert len(quarantined) == counts["rejected"] == (line is not None)
    if line is not None:
        (row,) = quarantined
        assert row["file"] == str(inputs / file) and row["line"] == line and row["detail"]
        assert reason is None or row["reason"] == reason
