"""Unicode script ranges, defined once: every module that tells Han, kana or Hangul apart uses these.

The ranges are character-class bodies (for `[...]` in a regular expression). Han covers the unified
ideographs, extension A, the compatibility ideographs and the supplementary planes (extensions B–F and
the compatibility supplement), so a rare character counts as Han everywhere or nowhere.
"""

from __future__ import annotations

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
KANA = "\u3040-\u30ff"
HANGUL = "\uac00-\ud7af"
# Characters that count one length unit each and are never part of a Latin-style word.
CJK = KANA + HAN
# Every script written without spaces between words that this project knows.
SPACELESS = CJK + HANGUL
