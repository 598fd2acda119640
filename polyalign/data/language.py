"""Offline language identification that reports doubt instead of guessing.

Script counts decide between CJK and alphabetic text and catch code-switched (mixed) conversations;
`py3langid` (its model ships inside the wheel) names the language of alphabetic text. A text with no
letters, or one the model is unsure of, comes back `unknown`; one where two scripts both carry a large
share comes back `mixed`. The caller decides what to do with those (prepare quarantines them). Where the
detector abstains, `script_fits` can still say whether a text's letters are in its language's script.
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


# Languages written in CJK scripts (counted as characters); every other language is alphabetic (words).
CJK_LANGUAGES = frozenset({"zh", "ja", "ko"})


def script_fits(text: str, language: str) -> bool | None:
    """Whether most of `text`'s letter units are in the script `language` is written in (CJK characters
    for zh/ja/ko, alphabetic words otherwise); None when it has no letters (an emoji, a number, nothing).

    A judgement by script only: it cannot tell English from French, so it is meant for the short texts
    on which `detect_language` abstains."""
    cjk_units = len(_HAN.findall(text)) + len(_KANA.findall(text)) + len(_HANGUL.findall(text))
    words = len(_WORD.findall(text))
    if cjk_units + words == 0:
        return None
    return cjk_units > words if language in CJK_LANGUAGES else words > cjk_units
