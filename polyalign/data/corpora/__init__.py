"""Built-in recipes for the paper's fourteen corpora (English and Chinese), online or from local copies.

`polyalign prepare --corpus paper-en|paper-zh|paper|NAME[,NAME...] [--from-dir DIR]` turns each corpus's
native rows into project records that enter the ordinary prepare path (accounting, quarantine, dedup,
group splits). Modules: `recipe` (what a corpus is), `registry` (the fourteen recipes and the groups),
`adapters` (one pure function per native row shape), `load` (hub or local files; the offline check) and
`items` (records and accounted drops). Importing this package loads no data and no `datasets`.
"""

from polyalign.data.config import SourceConfig
from polyalign.data.corpora.items import adapt_rows, corpus_sources, iter_corpus
from polyalign.data.corpora.load import corpus_identity as _identity
from polyalign.data.corpora.recipe import CorpusRecipe, HubPart
from polyalign.data.corpora.registry import (
    GROUPS,
    describe_recipe,
    expand_corpus_names,
    get_recipe,
    list_recipes,
)


def corpus_identity(source: SourceConfig) -> dict[str, str]:
    """The part of prepare's input identity that a corpus source contributes."""
    return _identity(get_recipe(str(source.corpus)), source.from_dir)


__all__ = [
    "GROUPS",
    "CorpusRecipe",
    "HubPart",
    "adapt_rows",
    "corpus_identity",
    "corpus_sources",
    "describe_recipe",
    "expand_corpus_names",
    "get_recipe",
    "iter_corpus",
    "list_recipes",
]
