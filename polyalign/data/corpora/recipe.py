"""What a built-in corpus is: where it lives on the hub, what its native rows mean, how they become records.

A `CorpusRecipe` is data. The only code a recipe names is its row shape (`shape`, by name: an adapter in
`polyalign.data.corpora.adapters`, which never sees the recipe itself, only its `RecipeFields`), shared by
every corpus with the same native layout. Owns: the recipe and
hub-part types and the rules they must satisfy. Reads and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from polyalign.data.buckets import FAMILIES, TRACKS, BucketKey
from polyalign.data.config import SPLITS

# Every drop code becomes the prepare rejection reason `dropped_<code>`, so the ledger counts each rule apart.
DROP_PREFIX = "dropped_"


@dataclass(frozen=True)
class HubPart:
    """One loadable piece of a corpus on the Hugging Face hub (a config, or a folder of a converted repo).

    `folder` is where the part's files sit in the repository: online it is passed as `data_dir` when no
    `config` is named (the `refs/convert/parquet` branch of script-based datasets has no configs, only
    `<folder>/<split>/*.parquet`); with `--from-dir` it is the subfolder holding the part's files.
    """

    repo: str
    config: str | None = None
    revision: str | None = None  # None: the hub's main branch (not pinned; pin it to reproduce exactly)
    folder: str | None = None
    family: str | None = None  # overrides the recipe's family for this part (COIG-CQIA's zhihu answers)

    @property
    def label(self) -> str:
        """`repo:config@revision`, as shown by `polyalign data show` and in error messages."""
        config = f":{self.config or self.folder}" if (self.config or self.folder) else ""
        revision = f"@{self.revision}" if self.revision else ""
        return f"{self.repo}{config}{revision}"

    def download_command(self, corpus: str) -> str:
        """How to fetch this part into `DIR/<corpus>`, the layout `--from-dir DIR` expects."""
        revision = f" --revision {self.revision}" if self.revision else ""
        return f"huggingface-cli download --repo-type dataset {self.repo}{revision} --local-dir DIR/{corpus}"


@dataclass(frozen=True)
class CorpusRecipe:
    """A registered corpus: hub parts, licence, cell, field roles, dialogue cutting, drops and splits.

    `splits` maps each official split the recipe loads to our split; `None` leaves the split to prepare's
    seeded group split (corpora published as one `train` split have no official evaluation split to keep).
    `ignored_splits` names official splits that are not loaded and why (e.g. withheld test answers); any
    other split in the data is an error, so a changed hub layout cannot slip in unnoticed.
    """

    name: str
    title: str
    language: str
    track: str
    family: str
    licence: str
    parts: tuple[HubPart, ...]
    shape: str  # a key of `adapters.SHAPES`
    fields: dict[str, str]  # role (prompt, context, history, response, id, ...) -> native field ("a.b" nests)
    splits: dict[str, str | None]
    drops: dict[str, str]  # drop code -> why such items are not references
    assumptions: str  # what was assumed about the native rows, and how it was checked
    ignored_splits: dict[str, str] = field(default_factory=dict)
    dialogue: str = ""  # multi-turn only: how a dialogue is cut into (history, target turn) records
    responder: str = ""  # multi-turn only: whose turns are the targets (the native speaker label)
    subset: str = ""  # a selection that defines the corpus (OASST2: Chinese trees only); not a drop
    keep: tuple[str, ...] = ()  # native fields copied into `meta`
    version: int = 1  # bump when the records a recipe yields change meaning (it is part of prepare's key)

    def __post_init__(self) -> None:
        problems = []
        if self.track not in TRACKS:
            problems.append(f"track {self.track!r} is not one of {list(TRACKS)}")
        for family in {self.family} | {p.family for p in self.parts if p.family}:
            if family not in FAMILIES:
                problems.append(f"family {family!r} is not one of {list(FAMILIES)}")
        for hub_split, ours in self.splits.items():
            if ours is not None and ours not in SPLITS:
                problems.append(f"split {hub_split!r} maps to {ours!r}, not one of {list(SPLITS)} or None")
        if set(self.splits) & set(self.ignored_splits):
            problems.append("a split cannot be both loaded and ignored")
        if not self.parts:
            problems.append("a recipe needs at least one hub part")
        if self.track == "multi" and not (self.dialogue and self.responder):
            problems.append("a multi-turn recipe must say how dialogues are cut and who responds")
        if problems:
            raise ValueError(f"corpus recipe {self.name!r}: " + "; ".join(problems))

    @property
    def hub_ids(self) -> list[str]:
        return sorted({part.repo for part in self.parts})

    @property
    def families(self) -> str:
        """The family, with per-part overrides: `assistant_like (zhihu: longform_qa)`."""
        overrides = [f"{p.config or p.folder}: {p.family}" for p in self.parts if p.family]
        return f"{self.family} ({', '.join(overrides)})" if overrides else self.family

    @property
    def cell(self) -> str:
        """The context cell, per-part family overrides spelled out (for display, not a bucket to parse)."""
        return str(BucketKey(self.language, self.track, self.families))

    def describe(self, shape_summary: str) -> list[tuple[str, str]]:
        """Everything in the recipe as (label, text) rows, for `polyalign data show`.

        `shape_summary` says what the recipe's row shape does; the registry, which knows the shapes, passes
        it in (`registry.describe_recipe`), so a recipe stays data and never imports its adapters.
        """
        split_map = ", ".join(f"{k} → {v or 'seeded group split'}" for k, v in self.splits.items())
        rows = [
            ("corpus", f"{self.name}: {self.title}"),
            ("hub", "\n".join(part.label for part in self.parts)),
            ("licence", self.licence),
            ("cell", self.cell),
            ("shape", f"{self.shape}: {shape_summary}"),
            ("fields", "\n".join(f"{role}: {column}" for role, column in self.fields.items())),
            ("splits", split_map),
        ]
        rows += [("ignored split", f"{k}: {why}") for k, why in self.ignored_splits.items()]
        if self.dialogue:
            rows += [("dialogue cutting", self.dialogue), ("responder", self.responder)]
        if self.subset:
            rows.append(("subset", self.subset))
        rows += [(f"drop {DROP_PREFIX}{code}", why) for code, why in self.drops.items()]
        if self.keep:
            rows.append(("kept in meta", ", ".join(self.keep)))
        rows += [
            ("assumed native shape", self.assumptions),
            ("local copy", "\n".join(sorted({p.download_command(self.name) for p in self.parts}))),
            ("recipe version", str(self.version)),
        ]
        return rows
