from __future__ import annotations

import re
from pathlib import Path

import pytest

import polyalign
from polyalign.data.buckets import (
    PAPER_EDGES,
    BucketKey,
    fit_quantile_edges,
    length_bin,
    length_units,
    plan_back_off,
    track_from_turns,
)
from polyalign.errors import PolyAlignError


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("Hello, world!", 4),  # Hello , world !
        ("I haven't got 42 cats.", 6),  # I haven't got 42 cats .
        ("don’t", 3),  # a typographic apostrophe splits, as in the corpus: don ’ t
        ("我爱北京。", 5),  # 4 Han characters + 1 full-width mark
        ("用Python写3个脚本！", 8),  # 用 Python 写 3 个 脚 本 ！
        ("", 0),
        ("   \n ", 0),
        ("😀😀", 2),  # symbols count like punctuation marks
        ("Zócalo", 1),  # accented Latin letters stay inside the word
    ],
)
def test_length_units_by_hand(text: str, units: int) -> None:
    assert length_units(text) == units


@pytest.mark.parametrize(
    ("units", "name"),
    [
        (0, "short"),
        (40, "short"),
        (41, "medium"),
        (120, "medium"),
        (121, "long"),
        (240, "long"),
        (241, "xlong"),
    ],
)
def test_paper_edges_are_inclusive_upper_bounds(units: int, name: str) -> None:
    assert length_bin(units, PAPER_EDGES) == name


def test_quantile_edges_per_language() -> None:
    edges = fit_quantile_edges({"en": range(1, 101), "zh": [10] * 8}, quantiles=(0.25, 0.5, 0.75))
    assert edges["en"] == pytest.approx((25.75, 50.5, 75.25))
    assert edges["zh"] == (10.0, 10.0, 10.0)
    with pytest.raises(ValueError, match="need 3 quantiles"):
        fit_quantile_edges({"en": [1]}, quantiles=(0.5,))


def test_keys_and_track() -> None:
    key = str(BucketKey("zh", "single", "qa_search", "long"))
    assert key == "zh|single|qa_search|long"
    assert str(BucketKey.parse(key).cell) == "zh|single|qa_search"
    assert track_from_turns(1) == "single"
    assert track_from_turns(3) == "multi"


def test_back_off_uses_train_counts_only() -> None:
    full = "en|single|qa_search|short"
    sparse = "en|single|qa_search|xlong"
    test_only = "en|single|qa_search|long"
    plan = plan_back_off([full] * 20 + [sparse] * 19, [full, sparse, test_only], min_size=20)
    assert plan.reference == {full: full, sparse: "en|single|qa_search", test_only: "en|single|qa_search"}
    assert plan.backed_off == [test_only, sparse]
    assert plan.sparse_cells == []
    tiny = plan_back_off(["zh|multi|open_chat|short"] * 3, [], min_size=20)
    assert tiny.sparse_cells == ["zh|multi|open_chat"]


def test_bucket_key_round_trip_cell_and_order() -> None:
    key = BucketKey.parse("zh|multi|qa_search|xlong")
    assert (key.language, key.track, key.family, key.length_bin) == ("zh", "multi", "qa_search", "xlong")
    assert str(key) == "zh|multi|qa_search|xlong" and str(key.cell) == "zh|multi|qa_search"
    assert key.cell.is_cell and not key.is_cell and key.cell.with_bin("xlong") == key
    assert BucketKey.parse(str(key.cell)) == key.cell
    names = ["en|single|open_chat|xlong", "en|single|open_chat|short", "en|single|open_chat"]
    assert sorted(names, key=BucketKey.sort_key_of) == names[::-1]
    for bad in ("en|single", "en||open_chat|short", "a|b|c|d|e"):
        with pytest.raises(PolyAlignError, match="neither a bucket"):
            BucketKey.parse(bad)


def test_data_reads_and_builds_buckets_through_bucket_key_only() -> None:
    """No module of `polyalign.data` splits or formats a bucket string by hand (BucketKey owns the '|')."""
    package = Path(polyalign.__file__).parent / "data"
    by_hand = re.compile(r"""(split|rsplit|rpartition|partition|count)\(["']\|["']|\}\|\{""")
    offenders = [
        f"{path.relative_to(package)}:{line_no}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "buckets.py"
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if by_hand.search(line)
    ]
    assert not offenders, f"buckets handled by hand: {offenders}"
