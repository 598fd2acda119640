from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyalign import __version__
from polyalign.cli import app
from polyalign.cli.common import OFFLINE_DEFAULT

runner = CliRunner()


def screen_lines(output: str) -> list[str]:
    """The lines a terminal shows: a progress bar redraws its line after each carriage return."""
    return [line.rsplit("\r", 1)[-1] for line in output.split("\n")]


@pytest.mark.slow
def test_run_on_the_offline_default(artifact_home: Path) -> None:
    """The README's quick start on the demo corpus with the tiny model, offline (two of its methods: the
    whole default is timed by hand, every method runs in test_pipeline.py): a console of stage headers
    and short summaries, the trainer's per-bucket logs in a file, the findings, then every stage reused."""
    methods = ["--methods", "bucket_sft,base"]
    result = runner.invoke(app, ["run", *methods])
    assert result.exit_code == 0, result.output
    assert "demo corpus" in result.output and "kept by split" in result.output and "held-out" in result.output
    for stage in ("prepare", "reference", "train", "base", "generate", "evaluate"):
        expected = 2 if stage in ("generate", "evaluate") else 1  # bucket_sft and base
        assert len(list(artifact_home.glob(f"{stage}/*/manifest.json"))) == expected, stage
    (html,) = artifact_home.glob("report/*/report.html")
    page = html.read_text(encoding="utf-8")
    assert "base" in page and "<h3>bucket_sft: bucket_sft, " in page  # its training curves
    lines = screen_lines(result.output)
    assert len(lines) <= 200 and max(len(line) for line in lines) <= 200, result.output
    assert [line.split("]")[0] for line in lines if line.startswith("[")] == [f"[{i}/9" for i in range(1, 10)]
    assert "bucket_loss/" not in result.output and "headline" in result.output
    for log in artifact_home.glob("train/*/train_log.jsonl"):
        assert "bucket_loss/" in log.read_text(encoding="utf-8")  # every bucket's loss, in the artefact
    again = runner.invoke(app, ["run", *methods])  # every stage is reused
    assert again.exit_code == 0 and "comparison report" in again.output
    assert again.output.count("\nreused ") == 9 and "every stage reused (9 of 9)" in again.output


def test_prepare_inputs_with_flags_and_buckets_command(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Question number {i}?"},
                {"role": "assistant", "content": f"Here is answer number {i}."},
            ]
        }
        for i in range(30)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["prepare", str(path), "--family", "qa_search", "--language", "en", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "unparsable_json 1" in result.output
    assert "en|single|qa_search|short" in result.output
    key = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["key"]
    assert result.output.index(f"prepare artefact key {key}") < result.output.index("reconciles")
    shown = runner.invoke(app, ["buckets", str(out)])
    assert shown.exit_code == 0 and "en|single|qa_search|short" in shown.output
    assert shown.output.startswith(f"prepare artefact key {key}")


def test_user_errors_are_one_clear_line(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["prepare", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2
    assert "no input files match" in missing.output and "Traceback" not in missing.output

    config = tmp_path / "bad.yaml"
    config.write_text("prepare:\n  sources:\n    - path: x.jsonl\n      colour: red\n", encoding="utf-8")
    bad_key = runner.invoke(app, ["prepare", "-c", str(config)])
    assert bad_key.exit_code == 2
    assert "unknown key(s) ['colour']" in bad_key.output and str(config) in bad_key.output

    config.write_text("prepare:\n  splits:\n    seed: [1\n", encoding="utf-8")
    bad_yaml = runner.invoke(app, ["prepare", "-c", str(config)])
    assert bad_yaml.exit_code == 2 and "not valid YAML" in bad_yaml.output

    config.write_text("prepare:\n  splits:\n    seed: 'one'\n", encoding="utf-8")
    bad_type = runner.invoke(app, ["prepare", "-c", str(config)])
    assert bad_type.exit_code == 2 and "expected int" in bad_type.output


def test_module_entry_point_lists_every_command_group() -> None:
    """`python -m polyalign` runs the app assembled from the `polyalign.cli` modules."""
    result = subprocess.run(
        [sys.executable, "-m", "polyalign", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in ("prepare", "run", "fixture", "buckets", "data", "reference", "train", "pairs", "generate",
                    "evaluate", "report", "judge"):  # fmt: skip
        assert f" {command} " in result.stdout, command


def test_fixture_command(tmp_path: Path) -> None:
    result = runner.invoke(app, ["fixture", str(tmp_path / "f.jsonl")])
    assert result.exit_code == 0 and "synthetic" in result.output
    assert (tmp_path / "f.jsonl").stat().st_size > 0


def test_a_named_output_file_is_never_overwritten_silently(tmp_path: Path) -> None:
    """`fixture OUT` and `reference score -o OUT` refuse an existing file unless --force; a path under a
    file is one clear error, not a traceback."""
    mine = tmp_path / "mine.jsonl"
    mine.write_text("my notes\n", encoding="utf-8")
    refused = runner.invoke(app, ["fixture", str(mine)])
    assert refused.exit_code == 2 and "exists" in refused.output and "--force" in refused.output
    assert mine.read_text(encoding="utf-8") == "my notes\n"
    under_a_file = runner.invoke(app, ["fixture", str(mine / "f.jsonl")])
    assert under_a_file.exit_code == 2 and "Traceback" not in under_a_file.output
    forced = runner.invoke(app, ["fixture", str(mine), "--force"])
    assert forced.exit_code == 0 and mine.stat().st_size > 100


def test_reference_build_score_and_critic(tmp_path: Path, artifact_home: Path) -> None:
    prepared, reference = tmp_path / "prep", tmp_path / "ref"
    assert runner.invoke(app, ["prepare", "--fixture", "0", "-o", str(prepared)]).exit_code == 0
    built = runner.invoke(app, ["reference", "build", str(prepared), "-o", str(reference)])
    assert built.exit_code == 0, built.output
    assert (reference / "reference.json").is_file() and (reference / "report.md").is_file()
    key = json.loads((reference / "manifest.json").read_text(encoding="utf-8"))["key"]
    assert built.output.startswith(f"reference artefact key {key}")

    test_records = (prepared / "test.jsonl").read_text(encoding="utf-8")
    scored = runner.invoke(app, ["reference", "score", str(reference), str(prepared / "test.jsonl"), "-o",
                                 str(tmp_path / "d.jsonl")])  # fmt: skip
    assert scored.exit_code == 0, scored.output
    rows = [json.loads(line) for line in (tmp_path / "d.jsonl").open(encoding="utf-8")]
    assert len(rows) == len(test_records.splitlines()) and all(row["d"] >= 0 for row in rows)

    train = [json.loads(line) for line in (prepared / "train.jsonl").open(encoding="utf-8")]
    model = tmp_path / "model.jsonl"
    model.write_text("".join(json.dumps({"id": r["id"], "response": "Sure! Here are the key points:\n- "
                                         + r["messages"][-1]["content"][:40]}) + "\n" for r in train),
                     encoding="utf-8")  # fmt: skip
    critic = runner.invoke(app, ["reference", "critic", str(reference), str(model)])
    assert critic.exit_code == 0, critic.output
    (written,) = artifact_home.glob("critic/*/critic.json")  # under the root, not the current folder
    assert "held-out AUC" in critic.output and str(written) in critic.output.replace("\n", "")
    again = runner.invoke(app, ["reference", "critic", str(reference), str(model)])
    assert again.exit_code == 0 and "(reused" in again.output

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"response": "no bucket here"}\n', encoding="utf-8")
    refused = runner.invoke(app, ["reference", "score", str(reference), str(bad)])
    assert refused.exit_code == 2 and "bad.jsonl:1" in refused.output and "bucket" in refused.output


def test_feature_list_command() -> None:
    result = runner.invoke(app, ["reference", "features"])
    assert result.exit_code == 0
    assert "first_person_per_unit" in result.output and "why it matters" in result.output


def _chat_file(path: Path, n: int = 30) -> None:
    turns = [[{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]
             for i in range(n)]  # fmt: skip
    rows = [{"messages": messages} for messages in turns]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _refused(result: object, *fragments: str) -> None:
    output = result.output.replace("\n", "")  # type: ignore[attr-defined]
    assert result.exit_code == 2, output  # type: ignore[attr-defined]
    assert "Traceback" not in output and all(f in output for f in fragments), output


def test_prepare_out_onto_the_data_folder_refuses_and_deletes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported data loss: `prepare data/x.jsonl --out data` once deleted the input and its neighbours."""
    monkeypatch.chdir(tmp_path)
    data = Path("data")
    data.mkdir()
    _chat_file(data / "x.jsonl")
    (data / "notes.txt").write_text("mine", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    result = runner.invoke(app, ["prepare", "data/x.jsonl", "--family", "open_chat", "--out", "data"])
    _refused(
        result, "data is a folder PolyAlign did not write", "choose another --out, or remove it yourself"
    )
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "polyalign-home"]  # no staging folder left

    on_file = runner.invoke(
        app, ["prepare", "data/x.jsonl", "--family", "open_chat", "--out", "data/x.jsonl"]
    )
    _refused(on_file, "x.jsonl exists and is not a folder")
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before


def test_every_out_refuses_a_folder_polyalign_did_not_write(tmp_path: Path) -> None:
    """Each command that takes --out reaches the one check in `artifacts.run_stage` before building."""
    prepared, reference = tmp_path / "prep", tmp_path / "ref"
    assert runner.invoke(app, ["prepare", "--fixture", "0", "-o", str(prepared)]).exit_code == 0
    assert runner.invoke(app, ["reference", "build", str(prepared), "-o", str(reference)]).exit_code == 0
    evaluated = tmp_path / "eval"
    evaluated.mkdir()
    (evaluated / "manifest.json").write_text(json.dumps({"stage": "evaluate", "key": "e"}), encoding="utf-8")
    generations = tmp_path / "gens.jsonl"
    generations.write_text(json.dumps({"id": "a", "response": "hi"}) + "\n", encoding="utf-8")
    offline = ["-c", str(OFFLINE_DEFAULT)]
    commands = {
        "prepare": ["prepare", "--fixture", "1"],
        "reference build": ["reference", "build", str(prepared)],
        "reference critic": ["reference", "critic", str(reference), str(generations)],
        "train sft": ["train", "sft", *offline],
        "train pref": ["train", "pref", *offline],
        "generate": ["generate", *offline, "--model", "tiny"],
        "evaluate": ["evaluate", *offline, "--human", "gold"],
        "report": ["report", str(evaluated)],
        "judge": ["judge", str(generations), *offline, "--endpoint", "http://localhost:9", "--model", "m"],
    }
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    for name, args in commands.items():
        _refused(runner.invoke(app, [*args, "--out", str(mine)]), "mine is a folder PolyAlign did not write")
        assert [p.name for p in mine.iterdir()] == ["notes.txt"], name
    _refused(runner.invoke(app, ["reference", "build", str(prepared), "--out", str(prepared)]),
             "is a PolyAlign 'prepare' artefact")  # fmt: skip
    assert (prepared / "train.jsonl").is_file()


def test_an_unwritable_home_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("POLYALIGN_HOME", str(blocker / "home"))
    _refused(runner.invoke(app, ["prepare", "--fixture", "0"]), "$POLYALIGN_HOME", str(blocker / "home"))


def test_version_and_short_help_on_every_command() -> None:
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.strip() == f"polyalign {__version__}"
    import typer.main

    def paths(command: object, prefix: list[str]) -> list[list[str]]:
        children = getattr(command, "commands", {})
        return [prefix] + [p for name, child in children.items() for p in paths(child, [*prefix, name])]

    every = paths(typer.main.get_command(app), [])
    assert len(every) > 15
    for path in every:
        result = runner.invoke(app, [*path, "-h"])
        assert result.exit_code == 0 and "Usage" in result.output, path


def test_headline_shows_the_macro_else_the_record_weighted_mean_marked_w() -> None:
    """A small test set has no bucket with enough records for the macro: the headline shows the
    record-weighted mean instead, marked, rather than a row of n/a."""
    from polyalign.cli.console import _macro

    small = {"metrics": {"d": {"macro": {"value": None, "weighted": {"value": 0.5, "human": 0.25}}}}}
    full = {"metrics": {"d": {"macro": {"value": 0.3, "human": 0.1, "weighted": {"value": 0.5}}}}}
    assert (_macro(small, "d"), _macro(small, "d", "human")) == ("0.500 w", "0.250 w")
    assert (_macro(full, "d"), _macro(full, "d", "human")) == ("0.300", "0.100")
    assert _macro({"metrics": {"d": {"macro": {}}}}, "d") == "n/a"
