"""The report as a user reads it: six runs side by side, the glossary first, the human column, the design
note beside the like-for-like warning, the judge's table, training curves, and no sideways page scroll in
a browser 1,400 px wide."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyalign import artifacts
from polyalign.cli import app
from polyalign.errors import InputError
from polyalign.report.stage import report_stage
from polyalign.report.training import loss_curves
from polyalign.train.stage import LOG_HISTORY, SUMMARY_FILE

METHODS = ("sft", "bucket_sft", "dpo", "dpo_anchor", "hdpo", "base")  # `polyalign run`'s order, then base
PROFILED = ("bucket_sft", "dpo_anchor", "hdpo")  # trained, so generating, with the profile prompt
BUCKET = "en|single|qa_search|short"
SFT_LOG = {"loss": 2.0, "grad_norm": 0.5, "learning_rate": 1e-3, "entropy": 6.0, "mean_token_accuracy": 0.1}
SFT_LOG |= {f"bucket_loss/{BUCKET}": 2.1, f"bucket_mass/{BUCKET}": 0.2, "num_tokens": 900.0, "epoch": 0.1}
PREFERENCE_TERMS = ("hdpo/pref", "hdpo/sup", "hdpo/anchor", "hdpo/online", "rewards/margins")
PREFERENCE_LOG = {"loss": 0.69, "grad_norm": 1.0, "learning_rate": 5e-4, "rewards/accuracies": 0.5}
PREFERENCE_LOG |= dict.fromkeys(PREFERENCE_TERMS, 0.3) | {f"rewards/accuracies/{BUCKET}": 0.5}


def _log_history(entry: dict[str, float], steps: int = 4) -> list[dict[str, float]]:
    """`steps` log dicts (every value falling with the step) and the trainer's end-of-run totals."""
    history = [{k: v / (1 + i) for k, v in entry.items()} | {"step": 10 * (i + 1)} for i in range(steps)]
    totals = {"train_runtime": 9.0, "train_loss": 1.0, "train_samples_per_second": 3.0, "total_flos": 1e9}
    return [*history, totals | {"step": 10 * steps}]


def _training(folder: Path, method: str, loss: float = 1.0) -> Path:
    """A training artefact as the train (SFT, Bucket-SFT) or preference stage leaves it: its summary and
    log history, and a manifest of that stage."""
    preference = method not in ("sft", "bucket_sft")
    summary = {"method": method, "global_step": 40, "train_loss": loss}
    if preference:
        summary["start_method"] = "bucket_sft" if method in PROFILED else "sft"

    def build(target: Path) -> dict[str, str]:
        artifacts.write_json(target / SUMMARY_FILE, summary)
        artifacts.write_json(target / LOG_HISTORY, _log_history(PREFERENCE_LOG if preference else SFT_LOG))
        return {}

    stage = "preference" if preference else "train"
    return artifacts.run_stage(stage, 1, method, folder, build, lambda f: f, force=True).folder


@pytest.fixture(scope="module")
def six(evaluated_runs, tmp_path_factory) -> tuple[list[Path], dict[str, Path]]:
    """The runs of `polyalign run` with every method and the base model, from the evaluated gold and
    templated runs (alternately; ~70 buckets each): each with its name, model and profile prompt, on the
    same records with the same decoding; and the training artefact of every run but base."""
    tmp = tmp_path_factory.mktemp("six")
    folders, trainings = [], {}
    for i, name in enumerate(METHODS):
        folder = tmp / "evaluate" / name
        shutil.copytree(evaluated_runs[i % 2], folder)
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        stage = "preference" if name.startswith(("dpo", "hdpo")) else "train"
        model = {
            "path": f"/models/{name}",
            "key": f"{name}-model",
            "stage": stage if name != "base" else None,
        }
        decoding = {"do_sample": True, "max_new_tokens": 48, "seed": 0, "temperature": 0.7, "top_p": 0.95}
        config = {"model": model["path"], "profile": "sample" if name in PROFILED else "off"}
        config |= {"decoding": decoding, "max_prompt_tokens": 3072, "split": "test"}
        results |= {"run": name}
        results["provenance"] = {"decoding": decoding, "model": model, "generate": {"config": config}}
        artifacts.write_json(folder / "results.json", results)
        manifest = artifacts.read_manifest(folder) | {"key": f"{name}-evaluated"}
        artifacts.write_json(folder / artifacts.MANIFEST, manifest)
        folders.append(folder)
        if name != "base":
            trainings[name] = _training(tmp / "train" / name, name)
    return folders, trainings


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> Path:
    """A judge results file of the six runs: two criteria, a macro value and interval each."""
    path = tmp_path_factory.mktemp("judge") / "judge.json"
    runs = {
        name: {
            f"judge_{criterion}": {"buckets": {}, "macro": {"value": 3.0 + i / 10, "low": 2.9, "high": 3.9}}
            for criterion in ("task_success", "overall")
        }
        for i, name in enumerate(METHODS)
    }
    artifacts.write_json(path, {"stage": "judge", "records": 12, "failures": [], "runs": runs})
    return path


@pytest.fixture(scope="module")
def page(six, judged, tmp_path_factory) -> tuple[str, str, Path]:
    """The six runs' report with the judge and the trainings: its HTML, its Markdown and its file."""
    folders, trainings = six
    root = tmp_path_factory.mktemp("root")
    files = report_stage(folders, root=root, judge=judged, trainings=trainings).content
    return files.html.read_text(encoding="utf-8"), files.markdown.read_text(encoding="utf-8"), files.html


def _section(markdown: str, title: str) -> str:
    return markdown.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


def test_six_runs_side_by_side_glossary_first_and_base_not_the_baseline(page) -> None:
    _, markdown, _ = page
    titles = re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE)
    assert titles[:6] == [
        "Metric glossary", "Runs", "Macro-averages", "What the comparison shows", "LLM judge",
        "Paired differences",
    ]  # fmt: skip
    glossary = _section(markdown, "Metric glossary")
    assert (
        "| bng | mean over features of W1(model, human) / human std of the bucket | lower is better |"
        in glossary
    )
    macro = _section(markdown, "Macro-averages")
    assert f"| metric | group | dir | {' | '.join(METHODS)} | human |" in macro
    assert (
        "| metric | bucket_sft − sft | dpo − sft | dpo_anchor − sft | hdpo − sft | base − sft |" in markdown
    )
    runs = _section(markdown, "Runs")
    assert "Baseline of the paired differences: sft (the first run)." in runs
    assert sum(line.startswith("| ") for line in runs.splitlines()) == 2 + len(
        METHODS
    )  # head, rule, a row per run


def test_the_methods_choices_are_a_design_note_not_a_mismatch(page) -> None:
    html, markdown, _ = page
    runs = _section(markdown, "Runs")
    assert "Not like for like" not in markdown and "class='note'" not in html
    assert "**What differs between the runs by design:**" in runs and "class='design'" in html
    assert "- profile prompt: off for sft, dpo, base; on (sample) for bucket_sft, dpo_anchor, hdpo" in runs
    assert (
        "- training method: sft for sft; bucket_sft for bucket_sft; dpo from sft for dpo; "
        "dpo_anchor from bucket_sft for dpo_anchor; hdpo from bucket_sft for hdpo; none given for base"
    ) in runs
    assert (
        "Decoding (every run): do_sample True, max_new_tokens 48, seed 0, temperature 0.7, top_p 0.95."
        in runs
    )


def test_human_column_holds_the_human_value_or_why_there_is_none(page) -> None:
    _, markdown, _ = page
    macro = _section(markdown, "Macro-averages")
    rows = {line.split(" | ")[0].strip("| "): line.strip("|").split(" | ") for line in macro.splitlines()}
    assert re.fullmatch(
        r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]; w \d\.\d{3}", rows["support_distance"][-1].strip()
    )
    notes = dict(re.findall(r"^([¹²³⁴⁵⁶⁷⁸⁹]+) (.+)$", macro, flags=re.MULTILINE))
    reasons = {name: notes[rows[name][-1].strip().removeprefix("—")] for name in ("em", "chrf", "bng", "auc")}
    assert (
        reasons["em"]
        == reasons["chrf"]
        == "no human value: utility compares each answer with the human answer itself"
    )
    assert reasons["bng"].startswith(
        "no human value: it compares the model's responses with the humans' directly"
    )
    assert reasons["auc"].endswith("read it against 0.5 (the human split's value)")


def test_the_judge_table_sits_with_the_results(page) -> None:
    _, markdown, _ = page
    judge = _section(markdown, "LLM judge")
    assert "12 records, answers shown blind and shuffled" in judge
    assert f"| criterion | {' | '.join(METHODS)} | human |" in judge
    assert "| judge_overall | 3.000 [2.900, 3.900] | 3.100 [2.900, 3.900] |" in judge
    assert "¹ no human value: the judge scored the runs' answers only" in judge


def test_training_curves_plot_every_loss_term_of_every_trained_run(page) -> None:
    html, markdown, _ = page
    curves = html.split(">Training curves</h2>", 1)[1].split("<h2", 1)[0]
    assert "<h3>hdpo: hdpo from bucket_sft, 40 steps, mean loss 1.000</h3>" in curves
    hdpo = curves.split("<h3>hdpo:", 1)[1].split("<h3>", 1)[0]
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", hdpo)
    assert captions == ["loss", "rewards/accuracies", *PREFERENCE_TERMS]
    sft = curves.split("<h3>sft:", 1)[1].split("<h3>", 1)[0]
    assert re.findall(r"<figcaption>([^<]+)</figcaption>", sft) == ["loss", "entropy", "mean_token_accuracy"]
    assert curves.count("<polyline") == 2 * 3 + 3 * 7 and "base: no training given" in curves
    assert "Training curves" not in markdown and "training curves" in markdown  # a plot: HTML only


def test_loss_curves_leave_out_bookkeeping_totals_and_buckets() -> None:
    history = [
        {"loss": 2.0, "hdpo/sup": 0.5, "learning_rate": 1.0, "step": 10, "epoch": 0.1},
        {"loss": float("nan"), "hdpo/sup": 0.25, f"bucket_loss/{BUCKET}": 1.0, "step": 20},
        {"eval_loss": 1.5, "eval_runtime": 2.0, "eval_samples_per_second": 9.0, "step": 20},
        {"train_loss": 1.0, "train_runtime": 3.0, "total_flos": 5.0, "step": 20},
        {"loss": 1.0},  # no step: not a point
    ]
    assert loss_curves(history) == {
        "loss": [(10, 2.0)],
        "hdpo/sup": [(10, 0.5), (20, 0.25)],
        "eval_loss": [(20, 1.5)],
    }


def test_trainings_enter_the_key_and_name_runs(six, tmp_path) -> None:
    """A retrained model (another summary) gives another report; a name that is no run, or a folder that
    is no training artefact, is refused."""
    folders, trainings = six
    first = report_stage(folders[:2], root=tmp_path, trainings={"sft": trainings["sft"]})
    assert first.manifest["parents"]["training:sft"] == artifacts.file_sha256(trainings["sft"] / SUMMARY_FILE)
    assert report_stage(folders[:2], root=tmp_path).key != first.key
    retrained = _training(tmp_path / "retrained", "sft", loss=0.5)
    assert report_stage(folders[:2], root=tmp_path, trainings={"sft": retrained}).key != first.key
    with pytest.raises(
        InputError, match=r"--training names hdpo, which no evaluated run is called \(runs: sft"
    ):
        report_stage(folders[:2], root=tmp_path, trainings={"hdpo": trainings["hdpo"]})
    with pytest.raises(InputError, match="is not a complete training artefact"):
        report_stage(folders[:2], root=tmp_path, trainings={"sft": folders[0]})


def test_report_command_takes_trainings(six, tmp_path) -> None:
    folders, trainings = six
    out = tmp_path / "report"
    args = ["report", *map(str, folders[:2]), "--out", str(out)]
    done = CliRunner().invoke(app, [*args, "--training", f"bucket_sft={trainings['bucket_sft']}"])
    assert done.exit_code == 0, done.output
    assert "<h3>bucket_sft: bucket_sft, 40 steps" in (out / "report.html").read_text(encoding="utf-8")
    refused = CliRunner().invoke(app, [*args, "--training", str(trainings["sft"])])
    assert refused.exit_code == 2 and "give NAME=FOLDER" in refused.output


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        pytest.skip(
            "no chromium, chromium-browser or google-chrome on PATH (Debian: apt-get install chromium)"
        )
    return found


def test_the_page_never_scrolls_sideways_at_1400_px(page, tmp_path) -> None:
    """Headless Chromium 1,400 px wide lays out the six runs' report, whose heatmaps are far wider than
    the window: the page is no wider than the window (the wide parts scroll in their own boxes)."""
    chromium = _chromium()
    html, _, _ = page
    heatmap = html.split(">Heatmap: metric × bucket</h2>", 1)[1].split("<h2", 1)[0]
    widths = [int(w) for w in re.findall(r"<div class='scroll'><svg [^>]*width='(\d+)'", heatmap)]
    assert len(widths) == len(METHODS) and min(widths) > 2000  # each heatmap in its own scroll box
    probe = (
        "<script>document.body.setAttribute('data-scroll', "
        "document.documentElement.scrollWidth + 'x' + window.innerWidth)</script>"
    )
    copy = tmp_path / "report.html"
    copy.write_text(html.replace("</body>", probe + "</body>"), encoding="utf-8")
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", copy.as_uri()],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    scroll, window = map(int, re.search(r"data-scroll=\"(\d+)x(\d+)\"", dom).groups())
    assert window == 1400 and scroll <= window, f"the page is {scroll} px wide in a {window} px window"
