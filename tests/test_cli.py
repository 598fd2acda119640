from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from polyalign.cli import app

runner = CliRunner()


def test_run_on_the_offline_default(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "synthetic" in result.output and "reconciles" in result.output
    assert (tmp_path / "out" / "manifest.json").is_file()


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
    shown = runner.invoke(app, ["buckets", str(out)])
    assert shown.exit_code == 0 and "en|single|qa_search|short" in shown.output


def test_user_errors_are_one_clear_line(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["prepare", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2
    assert "no input files match" in missing.output and "Traceback" not in missing.output

    config = tmp_path / "bad.yaml"
    config.write_text("sources:\n  - path: x.jsonl\n    colour: red\n", encoding="utf-8")
    bad_key = runner.invoke(app, ["prepare", "-c", str(config)])
    assert bad_key.exit_code == 2
    assert "unknown key(s) ['colour']" in bad_key.output and str(config) in bad_key.output

    config.write_text("splits:\n  seed: [1\n", encoding="utf-8")
    bad_yaml = runner.invoke(app, ["prepare", "-c", str(config)])
    assert bad_yaml.exit_code == 2 and "not valid YAML" in bad_yaml.output

    config.write_text("splits:\n  seed: 'one'\n", encoding="utf-8")
    bad_type = runner.invoke(app, ["prepare", "-c", str(config)])
    assert bad_type.exit_code == 2 and "expected int" in bad_type.output


def test_fixture_command(tmp_path: Path) -> None:
    result = runner.invoke(app, ["fixture", str(tmp_path / "f.jsonl")])
    assert result.exit_code == 0 and "synthetic" in result.output
    assert (tmp_path / "f.jsonl").stat().st_size > 0
