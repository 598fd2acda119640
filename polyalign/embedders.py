"""Pluggable text embedders: a name resolves to an object with `name` and `encode(texts) -> (n, d) array`.

`hashing` is built in: character 1-3-gram hashing (scikit-learn), L2-normalised, deterministic and
offline; it works for any script but is lexical, not semantic. Any other embedder is given as
`module:factory`, where `factory()` returns an object with the same two members (e.g. a wrapper around a
multilingual sentence encoder that ships its model).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from polyalign.errors import ConfigError


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class HashingEmbedder:
    """Character n-gram hashing: offline and deterministic, a lexical stand-in for a sentence encoder."""

    def __init__(self, dimensions: int = 512) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.name = f"hashing-char1-3-{dimensions}"
        self._vectorizer = HashingVectorizer(analyzer="char_wb", ngram_range=(1, 3), n_features=dimensions)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._vectorizer.transform(list(texts)).toarray().astype(np.float32)


def load_embedder(spec: str) -> Embedder:
    """`hashing` or `module:factory`; an unknown spec is an error that says what is available."""
    if spec == "hashing":
        return HashingEmbedder()
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ConfigError(f"unknown embedder {spec!r}: use 'hashing' or 'module:factory' for your own")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"cannot load embedder {spec!r}: {error}") from error
    return factory()
