"""The report's findings: the method's contrasts, each verdict from a paired interval, worked by hand."""

from __future__ import annotations

from pathlib import Path

from polyalign.evaluate.compare import Run
from polyalign.evaluate.results import MACRO
from polyalign.report.findings import findings, sentence

BUCKETS = ("en|single|qa|short", "en|single|qa|medium")


def _run(name: str, d: float, draws: list[float], per_bucket: tuple[float, float]) -> Run:
    """support_distance (lower is better) at the macro scope and in two buckets, five draws each."""
    buckets = {b: {"value": v, "n": 30} for b, v in zip(BUCKETS, per_bucket, strict=True)}
    results = {
        "metrics": {"support_distance": {"macro": {"value": d}, "buckets": buckets}},
        "buckets": {b: {"ids_sha256": b} for b in BUCKETS},
    }
    bucket_draws = {
        b: [v + (i - 2) * 0.01 for i in range(5)] for b, v in zip(BUCKETS, per_bucket, strict=True)
    }
    return Run(name, Path(name), results, {"metrics": {"support_distance": {MACRO: draws, **bucket_draws}}})


def test_bucket_sft_against_sft_is_read_from_its_own_pair_not_the_baseline() -> None:
    """Three runs, baseline base; the finding for bucket_sft is against sft. Macro draws differ by
    [-.2, -.15, -.1, -.05, 0] → 90%..: at level 0.5 the interval is [-.15, -.05], excluding 0: better.
    Per bucket: short .30 → .20 (draw gaps all -.1, better), medium .30 → .31 (gaps .01: worse)."""
    base = _run("base", 0.9, [0.9] * 5, (0.9, 0.9))
    sft = _run("sft", 0.3, [0.3] * 5, (0.3, 0.3))
    bucket_sft = _run("bucket_sft", 0.2, [0.1, 0.15, 0.2, 0.25, 0.3], (0.2, 0.31))
    found = [f for f in findings([base, sft, bucket_sft], level=0.5) if f.run == "bucket_sft"]
    (finding,) = found
    assert finding.against == "sft" and finding.macro["verdict"] == "better"
    assert finding.macro["low"] < 0 and finding.macro["high"] < 0
    assert finding.parts == {"better": 1, "worse": 1}
    text = sentence(finding)
    assert text.startswith("support_distance: better, difference -0.100") and "1 better, 1 worse" in text


def test_a_contrast_with_a_missing_run_is_left_out() -> None:
    runs = [_run("sft", 0.3, [0.3] * 5, (0.3, 0.3)), _run("hdpo", 0.2, [0.2] * 5, (0.2, 0.2))]
    assert {(f.run, f.against) for f in findings(runs)} == set()  # no dpo, dpo_anchor, bucket_sft or base


def test_the_report_tables_lay_out_findings_and_cell_means() -> None:
    from polyalign.evaluate.registry import get_metric
    from polyalign.report.tables import cell_mean_table, findings_table

    sft = _run("sft", 0.3, [0.3] * 5, (0.3, 0.3))
    bucket_sft = _run("bucket_sft", 0.2, [0.1, 0.15, 0.2, 0.25, 0.3], (0.2, 0.31))
    table = findings_table(findings([sft, bucket_sft], level=0.5))
    assert table.rows == [["bucket_sft vs sft", "support_distance", "better", "-0.100 [-0.150, -0.050]",
                           "buckets: 1 better, 1 worse"]]  # fmt: skip
    assert table.marks == [["", "", "better", "", ""]]
    cell = {"value": 0.25, "low": 0.2, "high": 0.3, "n": 60, "human": 0.02}
    bucket_sft.metrics["support_distance"]["macro"]["by_cell"] = {"en|single|qa": cell}
    rows = cell_mean_table([sft, bucket_sft], get_metric("support_distance")).rows
    assert rows == [["en|single|qa", "60", "n/a", "0.250 [0.200, 0.300]", "0.020"]]
