"""Curated, language-aware features of a response (METHOD.md §2), as a NumPy matrix with stable columns.

Every feature means the same thing in English and Chinese and is computed the right way for each:
English words come from a Latin-word tokeniser, Chinese words from a dictionary segmenter (`rjieba`, the
Rust port of jieba), and the marker word lists (first/second person, hedges, discourse markers, stock
assistant formulae) are separate per language. Features are registered by name with their kind, which
fixes their scale floor in the support distance: one extra event of a count costs about 1, one extra
marker of a per-unit rate costs about 1 (floor = 1 / median length), shares and lengths get a fixed floor.
Each registry entry carries its own function and languages: a column is computed by the feature that
names it, so reordering the registry reorders columns and can never mislabel one. The quantities several
features share (words, length units, sentence count...) are computed once per text in a `Context`.
Owns: the feature registry and extraction. Reads and writes nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rjieba
from tqdm import tqdm

from polyalign.data.buckets import length_units
from polyalign.data.scripts import HAN

KINDS = ("count", "rate", "share", "length")
MARKER_LANGUAGES = ("en", "zh")  # languages with marker word lists, formulae and a word tokeniser below


class Context:
    """What several features of one text read, computed once: words, length units, sentences, counts."""

    __slots__ = ("language", "lists", "n_punct", "n_words", "non_ascii", "non_space", "per_unit", "sentences",
                 "text", "units", "visible", "word_counts", "words")  # fmt: skip

    def __init__(self, text: str, language: str) -> None:
        self.text = text
        self.language = language
        self.lists = _EN_LISTS if language == "en" else _ZH_LISTS
        self.words = tokenize(text, language)
        self.word_counts = Counter(self.words)
        self.n_words = len(self.words)
        self.units = length_units(text)
        self.per_unit = 1.0 / max(self.units, 1)
        self.sentences = _count_sentences(text)
        self.n_punct = len(_PUNCT.findall(text))
        self.visible = "".join(text.split())
        self.non_space = len(self.visible)
        self.non_ascii = self.non_space - len(self.visible.encode("ascii", "ignore"))


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # count: events | rate: events per length unit | share: a fraction in [0, 1] | length: a size
    definition: str
    why: str
    value: Callable[[Context], float]  # the feature of one text, from its shared context
    floor: float = 1.0  # scale floor for `share` and `length` kinds (count: 1, rate: 1 / median units)
    languages: tuple[str, ...] = MARKER_LANGUAGES  # languages it is defined for

    def describe(self) -> dict[str, Any]:
        """The documented fields (everything but the function), as stored beside a reference."""
        return {"name": self.name, "kind": self.kind, "definition": self.definition, "why": self.why,
                "floor": self.floor, "languages": list(self.languages)}  # fmt: skip


def _registry(*features: Feature) -> tuple[Feature, ...]:
    names = [f.name for f in features]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"feature names registered twice: {duplicates}")
    if any(f.kind not in KINDS for f in features):
        raise ValueError(f"feature kinds must be one of {KINDS}")
    unknown = sorted({lang for f in features for lang in f.languages} - set(MARKER_LANGUAGES))
    if unknown:
        raise ValueError(
            f"features declare languages {unknown} without word lists; known: {MARKER_LANGUAGES}"
        )
    return features


FEATURES = _registry(
    Feature(
        "length_units",
        "length",
        "script-aware length: Latin words, digit runs, CJK characters, punctuation",
        "the primary axis along which assistant style departs from human answers",
        lambda c: float(c.units),
    ),
    Feature(
        "sentences",
        "count",
        "sentences (ended by . ! ? 。 ！ ？ or a line break)",
        "one-line answers versus multi-sentence explanations",
        lambda c: float(c.sentences),
    ),
    Feature(
        "mean_sentence_units",
        "length",
        "length units per sentence",
        "terse versus elaborate syntax",
        lambda c: c.units / max(c.sentences, 1),
        floor=2.0,
    ),
    Feature(
        "paragraphs",
        "count",
        "blocks separated by a blank line",
        "visual structuring of longer answers",
        lambda c: float(sum(1 for block in c.text.split("\n\n") if block.strip())),
    ),
    Feature(
        "newlines",
        "count",
        "line breaks",
        "lists and layout, rare in conversational replies",
        lambda c: float(c.text.count("\n")),
    ),
    Feature(
        "type_token_ratio",
        "share",
        "distinct words / words (English words; Chinese segmented words)",
        "lexical variety inside the response",
        lambda c: len(c.word_counts) / c.n_words if c.n_words else 0.0,
        floor=0.05,
    ),
    Feature(
        "distinct_2",
        "share",
        "distinct word bigrams / word bigrams",
        "phrase-level variety",
        lambda c: _distinct_share(c.words, 2),
        floor=0.05,
    ),
    Feature(
        "word_entropy",
        "length",
        "entropy (bits) of the word distribution",
        "vocabulary spread",
        lambda c: _entropy(c.word_counts, c.n_words),
        floor=0.25,
    ),
    Feature(
        "mean_word_chars",
        "length",
        "characters per word (English words; Chinese segmented words)",
        "register: plain versus technical vocabulary",
        lambda c: sum(map(len, c.words)) / c.n_words if c.n_words else 0.0,
        floor=0.25,
    ),
    Feature(
        "repeated_trigram_share",
        "share",
        "1 - distinct word trigrams / word trigrams",
        "degenerate repetition, a typical model failure",
        lambda c: 1.0 - _distinct_share(c.words, 3) if c.n_words >= 3 else 0.0,
        floor=0.05,
    ),
    Feature(
        "questions",
        "count",
        "question marks (? and ？)",
        "dialogue replies ask back; answers rarely do",
        lambda c: float(c.text.count("?") + c.text.count("？")),
    ),
    Feature(
        "exclamations",
        "count",
        "exclamation marks (! and ！)",
        "emotional, conversational tone",
        lambda c: float(c.text.count("!") + c.text.count("！")),
    ),
    Feature(
        "ellipses",
        "count",
        "ellipses (..., …, ……)",
        "hesitation and trailing speech in chat",
        lambda c: float(len(_ELLIPSIS.findall(c.text))),
    ),
    Feature(
        "commas_per_unit",
        "rate",
        "commas (, ， 、) per length unit",
        "clause density and rhythm",
        lambda c: (c.text.count(",") + c.text.count("，") + c.text.count("、")) * c.per_unit,
    ),
    Feature(
        "fullwidth_punct_share",
        "share",
        "full-width punctuation marks / all punctuation marks",
        "typographic convention: Chinese text uses full-width marks, English half-width",
        lambda c: len(_FULLWIDTH.findall(c.text)) / c.n_punct if c.n_punct else 0.0,
        floor=0.1,
    ),
    Feature(
        "bullets",
        "count",
        "lines starting with a bullet (- * • ·)",
        "the list template of assistants",
        lambda c: float(len(_BULLET.findall(c.text))),
    ),
    Feature(
        "numbered_items",
        "count",
        "lines starting with a number or Chinese ordinal (1. 2) 一、 （一） 第一)",
        "enumerated steps, an assistant habit",
        lambda c: float(len(_NUMBERED.findall(c.text))),
    ),
    Feature(
        "markdown_marks",
        "count",
        "markdown headers, bold, links and table rules",
        "chat-interface formatting that human corpora rarely contain",
        lambda c: float(len(_MARKDOWN.findall(c.text))),
    ),
    Feature(
        "code_marks",
        "count",
        "code fences and inline code spans",
        "technical answers; formatting habit",
        lambda c: float(len(_CODE.findall(c.text))),
    ),
    Feature(
        "first_person_per_unit",
        "rate",
        "first-person pronouns per unit (EN: I, me, we...; ZH: 我, 我们...)",
        "personal stance, common in human chat and forums",
        lambda c: _marker_count(c.word_counts, c.lists["first"]) * c.per_unit,
    ),
    Feature(
        "second_person_per_unit",
        "rate",
        "second-person pronouns per unit (EN: you...; ZH: 你, 您...)",
        "addressing the reader",
        lambda c: _marker_count(c.word_counts, c.lists["second"]) * c.per_unit,
    ),
    Feature(
        "hedges_per_unit",
        "rate",
        "hedges per unit (EN: maybe, probably...; ZH: 可能, 也许...)",
        "epistemic caution, distributed very differently in human and model text",
        lambda c: _marker_count(c.word_counts, c.lists["hedge"]) * c.per_unit,
    ),
    Feature(
        "discourse_markers_per_unit",
        "rate",
        "discourse markers per unit (EN: however, so...; ZH: 但是, 所以...)",
        "how explicitly the response signposts its structure",
        lambda c: _marker_count(c.word_counts, c.lists["discourse"]) * c.per_unit,
    ),
    Feature(
        "assistant_formulae",
        "count",
        "stock assistant phrases (EN: 'here are', 'I hope this helps'...; ZH: 以下是, 希望对你有帮助...)",
        "the global assistant style PolyAlign moves away from",
        lambda c: float(len(_FORMULAE[c.language].findall(c.text))),
    ),
    Feature(
        "digit_share",
        "share",
        "digits / non-space characters",
        "numbers, dates and prices in answers",
        lambda c: len(_DIGIT.findall(c.visible)) / c.non_space if c.non_space else 0.0,
        floor=0.02,
    ),
    Feature(
        "non_ascii_share",
        "share",
        "non-ASCII characters / non-space characters",
        "script mix: English with symbols, Chinese with embedded Latin or code",
        lambda c: c.non_ascii / c.non_space if c.non_space else 0.0,
        floor=0.05,
    ),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}

_EN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
_ZH_WORD = re.compile(rf"[\w{HAN}]")  # a segmenter token that is a word, not punctuation
_SENTENCE_END = re.compile(r"[.!?。！？]+[\"'”’）)]*(?=\s|$)|[。！？]+|\n+")
_PUNCT = re.compile(r"[^\w\s]")
_FULLWIDTH = re.compile(r"[\u3001-\u303f\uff01-\uff65]")  # CJK punctuation and full-width forms
_DIGIT = re.compile(r"\d")
_ELLIPSIS = re.compile(r"\.{3,}|…+")
_BULLET = re.compile(r"^[ \t]*[-*•·][ \t]+\S", re.M)
_NUMBERED = re.compile(
    r"^[ \t]*(?:\d{1,3}[.)、．]|[（(][一二三四五六七八九十\d]+[)）]"
    r"|[一二三四五六七八九十]+、|第[一二三四五六七八九十]+)",
    re.M,
)
_MARKDOWN = re.compile(r"^#{1,6}[ \t]|\*\*[^*\n]+\*\*|\]\([^)\s]+\)|^\s*\|?[ \t]*:?-{3,}", re.M)
_CODE = re.compile(r"```|`[^`\n]+`")

_EN_LISTS = {
    "first": {"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "i'm", "i've", "i'd", "i'll"},
    "second": {"you", "your", "yours", "yourself", "yourselves", "you're", "you've", "you'd", "you'll"},
    "hedge": {
        "maybe",
        "perhaps",
        "probably",
        "possibly",
        "might",
        "likely",
        "seems",
        "seem",
        "apparently",
        "guess",
        "suppose",
        "somewhat",
        "usually",
        "generally",
        "arguably",
        "roughly",
    },
    "discourse": {
        "however",
        "therefore",
        "so",
        "because",
        "but",
        "although",
        "though",
        "thus",
        "also",
        "first",
        "firstly",
        "second",
        "secondly",
        "finally",
        "moreover",
        "furthermore",
        "besides",
        "overall",
        "anyway",
        "instead",
        "otherwise",
        "hence",
        "meanwhile",
    },
}
_ZH_LISTS = {
    "first": {"我", "我们", "咱", "咱们", "本人", "俺", "我的", "我们的"},
    "second": {"你", "您", "你们", "你的", "您的", "你们的"},
    "hedge": {"可能", "也许", "大概", "似乎", "好像", "或许", "估计", "应该", "一般", "通常", "大约", "恐怕"},
    "discourse": {
        "但是",
        "但",
        "所以",
        "因为",
        "而且",
        "然后",
        "首先",
        "其次",
        "最后",
        "另外",
        "因此",
        "不过",
        "然而",
        "此外",
        "总之",
        "例如",
        "比如",
        "于是",
        "同时",
        "其实",
    },
}
_FORMULAE = {
    "en": re.compile(
        r"\b(?:sure[,!]|certainly[,!]|of course[,!]|here (?:is|are) (?:a|an|some|the)\b"
        r"|hope (?:this|that) helps"
        r"|as an ai\b|let me know if|in summary\b|in conclusion\b|great question|happy to help"
        r"|i'd be happy to|feel free to)",
        re.I,
    ),
    "zh": re.compile(
        r"以下是|希望(?:这|以上|我的回答)?(?:对你|对您)?有(?:所)?帮助|总而言之|综上所述|作为一个?(?:AI|人工智能)"
        r"|如果(?:你|您)有(?:任何|其他)(?:问题|疑问)|当然[，,!！]|好的[，,!！]"
    ),
}


def extract(
    texts: Sequence[str],
    languages: Sequence[str] | str,
    *,
    progress: bool = False,
    words: list[list[str]] | None = None,
) -> np.ndarray:
    """Feature matrix of shape (len(texts), len(FEATURES)), columns in registry order; `languages` is one
    per text or one for all. A `words` list receives each text's tokens, so later terms need not
    re-segment."""
    langs = [languages] * len(texts) if isinstance(languages, str) else list(languages)
    if len(langs) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(langs)} languages")
    features = FEATURES  # read once: the columns of this matrix
    for language in sorted(set(langs)):
        _check_language(language, features)
    out = np.empty((len(texts), len(features)), dtype=np.float64)
    rows = zip(texts, langs, strict=True)
    for i, (text, language) in enumerate(tqdm(rows, total=len(texts), desc="features", disable=not progress)):
        context = Context(text, language)
        out[i] = [f.value(context) for f in features]
        if words is not None:
            words.append(context.words)
    return out


def extract_one(text: str, language: str) -> dict[str, float]:
    """The features of one text, by name."""
    _check_language(language, FEATURES)
    context = Context(text, language)
    return {f.name: f.value(context) for f in FEATURES}


def _check_language(language: str, features: Sequence[Feature]) -> None:
    lacking = [f.name for f in features if language not in f.languages]
    if lacking:
        supported = [lang for lang in MARKER_LANGUAGES if all(lang in f.languages for f in features)]
        raise ValueError(
            f"no feature definitions for language {language!r} (lacking: {', '.join(lacking)}); "
            f"supported: {supported}"
        )


def tokenize(text: str, language: str) -> list[str]:
    """The words every word feature reads (lower-cased Latin words; Chinese segmented words), also the
    tokens of the neighbour and style terms of the support distance, so all read a response alike."""
    if language == "en":
        return [w.lower() for w in _EN_WORD.findall(text)]
    return [w for w in rjieba.cut(text) if _ZH_WORD.match(w)]


def _count_sentences(text: str) -> int:
    pieces = _SENTENCE_END.split(text)
    return sum(1 for piece in pieces if any(c.isalnum() for c in piece))


def _distinct_share(words: list[str], n: int) -> float:
    grams = list(zip(*(words[i:] for i in range(n)), strict=False))
    return len(set(grams)) / len(grams) if grams else 0.0


def _entropy(counts: Counter[str], total: int) -> float:
    """H = log2(N) - Σ c·log2(c) / N, which is exactly 0 for a single repeated word."""
    if total == 0:
        return 0.0
    return math.log2(total) - sum(c * math.log2(c) for c in counts.values()) / total


def _marker_count(word_counts: Counter[str], markers: set[str]) -> int:
    if len(word_counts) < len(markers):
        return sum(n for w, n in word_counts.items() if w in markers)
    return sum(word_counts.get(m, 0) for m in markers)
