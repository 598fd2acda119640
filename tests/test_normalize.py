from __future__ import annotations

import unicodedata

import pytest

from polyalign.data.normalize import normalize_text

SAMPLES = [
    "Hello   world,\t how are you?\r\n\r\n\r\n\r\nFine.  ",
    "\ufeff第一行，  第二句。\n\n\n\n  - 项目\u200b一\n  - 项目二",
    "def f(x):\n    return  x + 1\n",
    "Cafe\u0301 au lait\u00a0please",
    "tidy already",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_content_words_never_change(text: str) -> None:
    def words(s: str) -> list[str]:
        cleaned = unicodedata.normalize("NFC", s).replace("\u200b", "").replace("\ufeff", "")
        return cleaned.split()

    assert words(normalize_text(text)) == words(text)


@pytest.mark.parametrize("text", SAMPLES)
def test_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_layout_rules() -> None:
    assert normalize_text("a  b\t c \r\nd") == "a b c\nd"
    assert normalize_text("a\n\n\n\nb") == "a\n\nb"
    assert normalize_text("  indented start") == "indented start"
    assert normalize_text("x\n    y = 1") == "x\n    y = 1"  # indentation inside is kept
    assert normalize_text("Cafe\u0301") == "Caf\u00e9"  # NFC
    assert normalize_text("zero\u200bwidth") == "zerowidth"
    assert normalize_text("全角\u3000空格") == "全角\u3000空格"  # ideographic space is typography, kept
