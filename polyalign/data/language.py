"""Offline language identification that reports doubt instead of guessing.

Script counts decide between CJK and alphabetic text and catch code-switched (mixed) conversations;
`py3langid` (its model ships inside the wheel) names the language of alphabetic text. A text with no
letters, or one the model is unsure of, comes back `unknown`; one where two scripts both carry a large
share comes back `mixed`. The caller decides what to do with those (prepare quarantines them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from polyalign.data.scripts import HAN, HANGUL, KANA, SPACELESS

_HAN = re.compile(f"[{HAN}]")
_KANA = re.compile(f"[{KANA}]")
_HANGUL = re.compile(f"[{HANGUL}]")
_WORD = re.compile(rf"(?:(?![{SPACELESS}])[^\W\d_])+")  # a run of letters of a script written with spaces


@dataclass(frozen=True, slots=True)
class Detection:
    language: str | None
    status: str  # "ok" | "mixed" | "unknown"
    confidence: float


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, *, mixed_share: float = 0.3, min_confidence: float = 0.5) -> Detection:
    """Language of `text`: CJK characters and alphabetic words are counted as units of comparable weight."""
    han = len(_HAN.findall(text))
    kana = len(_KANA.findall(text))
    hangul = len(_HANGUL.findall(text))
    words = _WORD.findall(text)
    cjk_units = han + kana + hangul
    total = cjk_units + len(words)
    if total == 0:
        return Detection(None, "unknown", 0.0)
    cjk_share = cjk_units / total
    if min(cjk_share, 1 - cjk_share) >= mixed_share:
        return Detection(None, "mixed", max(cjk_share, 1 - cjk_share))
    if cjk_share > 0.5:
        if kana:
            return Detection("ja", "ok", cjk_share)
        if hangul > han:
            return Detection("ko", "ok", cjk_share)
        return Detection("zh", "ok", cjk_share)
    language, confidence = _identifier().classify(" ".join(words))
    if confidence < min_confidence:
        return Detection(None, "unknown", float(confidence))
    return Detection(language, "ok", float(confidence))
