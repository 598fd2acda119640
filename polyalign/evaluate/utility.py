"""Utility metrics against the paired human response: EM, token F1, ROUGE-L and chrF (METHOD.md §6).

Tokens are the same for every language: text is NFKC-normalised (full-width forms become half-width) and
case-folded; each CJK character is one token, each Latin/digit run one token, punctuation is dropped,
and English articles are removed (SQuAD convention). So Chinese is compared per character: a partial
overlap scores a partial F1, unlike the authors' whitespace tokeniser, which made an unsegmented Chinese
sentence one token and F1 ≈ EM. ROUGE-L uses a bit-parallel LCS, chrF comes from sacrebleu (character
n-grams, so it needs no tokeniser). A pair with no word tokens on either side ("?" against an emoji, or an
empty answer against "?") is compared on its normalised text: an empty prediction scores 0 unless the
reference is empty too, where SQuAD's convention would call any two token-less texts equal. Every function
is per item and pure.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

from polyalign.data.scripts import CJK

_TOKEN = re.compile(rf"[{CJK}]|[^\W_{CJK}]+")
_ARTICLES = frozenset({"a", "an", "the"})


def tokenize(text: str) -> list[str]:
    """Case-folded tokens: one per CJK character, one per Latin/digit run; no punctuation or articles."""
    tokens = _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())
    return [t for t in tokens if t not in _ARTICLES]


def exact_match(prediction: Sequence[str], reference: Sequence[str]) -> float:
    """1.0 when the normalised token sequences are equal (so 'Paris.' matches 'paris')."""
    return float(list(prediction) == list(reference))


def token_f1(prediction: Sequence[str], reference: Sequence[str]) -> float:
    """SQuAD token F1 over token multisets; two empty sequences match (1.0), one empty scores 0."""
    if not prediction or not reference:
        return float(not prediction and not reference)
    common = sum((Counter(prediction) & Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(prediction), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison & Dix 1986; Hyyrö 2004).

    Bit j of `row` is 0 where the LCS of the prefix of `a` seen so far with b[: j + 1] grew at j; the
    answer is the number of zero bits. One big-integer add per token of `a`: O(|a|·|b| / word size).
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for j, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << j)
    full = (1 << len(b)) - 1
    row = full
    for token in a:
        match = row & masks.get(token, 0)
        row = ((row + match) | (row - match)) & full
    return len(b) - row.bit_count()


def rouge_l(prediction: Sequence[str], reference: Sequence[str]) -> float:
    """ROUGE-L F1 = 2·P·R / (P + R) with P = LCS / |prediction|, R = LCS / |reference|."""
    if not prediction or not reference:
        return float(not prediction and not reference)
    lcs = lcs_length(prediction, reference)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(prediction), lcs / len(reference)
    return 2 * precision * recall / (precision + recall)


def _normalised(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def utility_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, np.ndarray]:
    """EM, token F1, ROUGE-L and chrF per item, each (n,)."""
    from sacrebleu.metrics import CHRF

    scorer = CHRF()
    out = {name: np.zeros(len(predictions)) for name in ("em", "token_f1", "rouge_l", "chrf")}
    for i, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
        p, r = tokenize(prediction), tokenize(reference)
        if not p and not r:  # nothing to tokenise: the texts themselves must agree
            same = float(_normalised(prediction) == _normalised(reference))
            out["em"][i] = out["token_f1"][i] = out["rouge_l"][i] = same
        else:
            out["em"][i] = exact_match(p, r)
            out["token_f1"][i] = token_f1(p, r)
            out["rouge_l"][i] = rouge_l(p, r)
        out["chrf"][i] = scorer.sentence_score(prediction, [reference]).score / 100.0 if prediction else 0.0
    return out
