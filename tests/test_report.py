"""The comparison report: built from result artefacts only, paired differences, and it renders."""

from __future__ import annotations

import dataclasses
import html
import itertools
import json
import re
import shutil
import subprocess

import pytest

from polyalign import artifacts
from polyalign.errors import InputError, PolyAlignError
from polyalign.evaluate import registry
from polyalign.evaluate.compare import load_runs
from polyalign.report.stage import report_stage

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def runs(evaluated_runs):
    """Three evaluated runs on the same test records: human gold, templated, and a partial run."""
    return evaluated_runs


def test_report_sections_and_paired_differences(runs, tmp_path):
    paths = report_stage(runs, root=tmp_path, out=tmp_path / "report").content
    page = paths.html.read_text(encoding="utf-8")
    for section in (
        "Macro-averages",
        "Paired differences",
        "C-MAUVE per context cell",
        "Heatmap",
        "Length histograms",
        "Embedding map",
        "Per-bucket tables",
        "n/a and warnings",
    ):
        assert section in page
    assert page.count("<svg") > 10 and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "could not be drawn" not in page
    assert "partial is partial" in page  # the like-for-like check names the partial run
    comp = json.loads(paths.comparison.read_text())
    templated = comp["runs"]["templated"]
    assert templated["bng"]["macro"]["verdict"] == "worse" and templated["bng"]["macro"]["diff"] > 0
    assert templated["support_distance"]["macro"]["verdict"] == "worse"
    assert templated["em"]["macro"]["diff"] < 0
    assert comp["runs"]["partial"]["bng"]["macro"]["na"] == "different test records"
    markdown = paths.markdown.read_text(encoding="utf-8")
    for metric in registry.METRICS.values():  # the glossary line of every metric, from its registry entry
        assert metric.blind_to in markdown and html.escape(metric.blind_to) in page, metric.name
        assert metric.floor in markdown and html.escape(metric.floor) in page, metric.name
    order = [markdown.index(f"## {s}") for s in ("Metric glossary", "Runs", "Macro-averages", "Paired")]
    assert order == sorted(order) and "borrowed: own" in markdown  # the glossary before any result
    assert "record-weighted mean" in markdown and "; w " in markdown
    assert "| metric | templated − gold | partial − gold |" in markdown and "`en\\|single" in markdown
    em = _markdown_rows(markdown, "| metric | group | dir | gold", head=True)[0]
    assert (
        em[-1] == "—¹"
        and "¹ no human value: utility compares each answer with the human answer itself" in markdown
    )
    hcr = _markdown_rows(markdown, "| metric | group | dir | gold", head=True)[5]
    assert hcr[0] == "hcr_all" and re.fullmatch(
        r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]; w \d\.\d{3}|w \d\.\d{3}", hcr[-1]
    )


def test_report_takes_every_direction_from_the_registry(runs, tmp_path, monkeypatch):
    """templated's bng rose (worse, lower is better); registered as higher-is-better it reads better."""
    flipped = dataclasses.replace(registry.METRICS["bng"], direction="higher")
    monkeypatch.setitem(registry.METRICS, "bng", flipped)
    paths = report_stage(runs[:2], root=tmp_path, out=tmp_path / "flipped").content
    comp = json.loads(paths.comparison.read_text())
    assert comp["runs"]["templated"]["bng"]["macro"]["verdict"] == "better"
    assert "| bng | faithfulness | ↑ |" in paths.markdown.read_text(encoding="utf-8")


def test_report_stage_writes_a_manifest_under_the_root_and_is_reused(runs, tmp_path):
    """Key = artifact_key("report", 2, each parent as role=key, the evaluate artefacts in order)."""
    first = report_stage(runs[:2], root=tmp_path)
    key = artifacts.artifact_key("report", 2, "evaluate:0=gold", "evaluate:1=templated")  # keys are names
    assert first.folder == tmp_path / "report" / key and first.key == key and not first.reused
    assert first.manifest["parents"] == {"evaluate:0": "gold", "evaluate:1": "templated"}
    assert first.manifest["runs"] == ["gold", "templated"] and first.content.html.is_file()
    again = report_stage(runs[:2], root=tmp_path)
    assert again.reused and again.folder == first.folder
    assert report_stage(runs[1::-1], root=tmp_path).key != key  # the baseline is part of the identity
    with pytest.raises(PolyAlignError, match="not a complete evaluate artefact"):
        report_stage([tmp_path / "report"], root=tmp_path)
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(PolyAlignError, match="notes is a folder PolyAlign did not write"):
        report_stage(runs[:2], root=tmp_path, out=foreign)
    assert (foreign / "keep.txt").read_text() == "mine"


def test_identical_runs_differ_by_exactly_zero(runs, tmp_path):
    same = report_stage([runs[1], runs[1]], root=tmp_path, out=tmp_path / "same").content
    comp = json.loads(same.comparison.read_text())
    macro = comp["runs"]["templated (2)"]["bng"]["macro"]
    assert macro["diff"] == 0 and macro["low"] == 0 and macro["high"] == 0


def _markdown_rows(markdown: str, caption: str, head: bool = False) -> list[list[str]]:
    """The body rows of the Markdown table under `### <caption>...` (or whose header starts with
    `caption`, with `head`), split into cells."""
    lines = markdown.split("\n")
    first = caption if head else f"### {caption}"
    start = next(i for i, line in enumerate(lines) if line.startswith(first)) + (2 if head else 4)
    rows = itertools.takewhile(lambda line: line.startswith("|"), lines[start:])
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_report_survives_damaged_results_and_refuses_non_results(runs, tmp_path):
    """A run missing bng's buckets, its plots and its draws: its cells read n/a, the rest still renders."""
    damaged = tmp_path / "damaged"
    shutil.copytree(runs[1], damaged)
    results = json.loads((damaged / "results.json").read_text())
    results["metrics"]["bng"].pop("buckets")
    results["plots"] = {}
    (damaged / "results.json").write_text(json.dumps(results))
    (damaged / "draws.json").unlink()
    paths = report_stage([runs[0], damaged], root=tmp_path, out=tmp_path / "out").content
    page, markdown = paths.html.read_text(encoding="utf-8"), paths.markdown.read_text(encoding="utf-8")
    assert "could not be drawn" not in page
    bng = _markdown_rows(markdown, "bng ")  # bucket | reference | n | gold | templated | human
    assert len(bng) > 5 and all(row[4] == "n/a" for row in bng) and all(row[3] != "n/a" for row in bng)
    token_f1 = _markdown_rows(markdown, "token_f1 ")
    assert token_f1 and all(row[4] != "n/a" for row in token_f1)  # its other metrics are untouched
    for section in ("Macro-averages", "Paired differences", "C-MAUVE", "Heatmap", "Length histograms"):
        assert f">{section}" in page
    assert page.count("<svg") >= 2  # gold's heatmap and histograms are still drawn
    assert "templated: no embedding map in its results" in page
    assert "templated stores no bootstrap draws (draws.json)" in page
    comp = json.loads(paths.comparison.read_text())
    assert comp["runs"]["templated"]["em"]["macro"]["verdict"] == "no interval"
    buckets = comp["runs"]["templated"]["bng"]["buckets"]
    reasons = {b: d["na"] for b, d in buckets.items() if "diff" not in d}
    assert reasons.keys() == buckets.keys() and "no value in templated" in reasons.values()
    with pytest.raises(PolyAlignError, match=r"holds no results\.json"):
        load_runs([tmp_path])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda r: r["metrics"].__setitem__("bng", [1.0]), r"'metrics\.bng' is not a JSON object"),
        (lambda r: r["metrics"]["bng"].__setitem__("buckets", []), r"'metrics\.bng\.buckets' is not a JSON"),
        (lambda r: r.__setitem__("na", {}), r"'na' is not a JSON array"),
        (lambda r: r["metrics"].__setitem__("bgn", {}), r"lists an unknown metric 'bgn' \(did you mean bng"),
    ],
)
def test_damaged_results_are_refused_up_front_naming_the_part(runs, tmp_path, damage, message):
    damaged = tmp_path / "damaged"
    shutil.copytree(runs[1], damaged)
    results = json.loads((damaged / "results.json").read_text())
    damage(results)
    (damaged / "results.json").write_text(json.dumps(results))
    with pytest.raises(InputError, match=f"{re.escape(str(damaged))}: results.json {message}"):
        report_stage([runs[0], damaged], root=tmp_path, out=tmp_path / "out")


def _png_pixels(path):
    from PIL import Image

    return Image.open(path).convert("L")


def test_html_renders_in_headless_chromium(runs, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no chromium on PATH (CI installs Debian's chromium in .ci/run)")
    pytest.importorskip("PIL", reason="pillow (a dev dependency) reads the screenshot")
    paths = report_stage(runs[:2], root=tmp_path, out=tmp_path / "report").content
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            paths.html.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = _png_pixels(shot)
    pixels = list(image.tobytes())
    mean = sum(pixels) / len(pixels)
    variance = sum((p - mean) ** 2 for p in pixels[::7]) / len(pixels[::7])
    assert image.size == (1280, 2000)
    assert variance > 200, f"the screenshot looks blank (pixel variance {variance:.1f})"
    dark = sum(p < 100 for p in pixels) / len(pixels)
    assert 0.005 < dark < 0.5  # text and tables, not a white or a black page
