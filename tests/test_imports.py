"""The package's import graph: no cycles, and packages import only forward along the pipeline.

Every import counts: module level, inside functions and under `TYPE_CHECKING`, because a lazy import
hides a cycle without removing it. `from polyalign.x import y` is an edge to `polyalign.x.y` when `y` is a
submodule, else to `polyalign.x`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import polyalign

PACKAGE_DIR = Path(polyalign.__file__).parent

# Data flows down this list and never back; packages on one rank do not import each other.
LAYERS = (
    ("data",),
    ("reference",),
    ("generate",),  # below train: the HDPO pair builder (`train.pairs`) samples through its backends
    ("train",),
    ("evaluate",),
    ("report",),
    ("pipeline",),
    ("cli",),
)
# Anyone may import these; `config` assembles every package's `config` module into the run config.
FOUNDATIONS = ("errors", "artifacts", "config", "__init__", "__main__")
# Known backward imports, each to be removed by the package that owns it (the list only shrinks).
ALLOWED_BACKWARD: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """Every polyalign module that `name` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: set(_imports(name, path, modules)) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as one closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_closed_path(graph, set(c)) for c in components]


def _closed_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module, as `a, b, ..., a`."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & component):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"{sorted(component)} is not strongly connected")


def _layer(module: str) -> int | None:
    top = module.split(".")[1] if "." in module else "__init__"
    if top in FOUNDATIONS:
        return None
    return next(rank for rank, names in enumerate(LAYERS) if top in names)


def test_the_walker_sees_lazy_type_checking_and_submodule_imports() -> None:
    graph = _graph()
    assert "polyalign.data.corpora.items" in graph["polyalign.data.corpora"]  # from .x import y (package)
    assert "polyalign.data.records" in graph["polyalign.data.prompts"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycles() -> None:
    cycles = [" -> ".join(cycle) for cycle in _cycles(_graph())]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_packages_import_only_forward() -> None:
    backward = []
    for module, targets in sorted(_graph().items()):
        for target in sorted(targets):
            source_rank, target_rank = _layer(module), _layer(target)
            if source_rank is None or target_rank is None:
                continue
            same_top = module.split(".")[1] == target.split(".")[1]
            if not same_top and target_rank >= source_rank and (module, target) not in ALLOWED_BACKWARD:
                backward.append(f"{module} -> {target}")
    assert not backward, "imports against the pipeline order:\n" + "\n".join(backward)


def test_allowed_backward_imports_still_exist() -> None:
    """An allow-list entry whose import is gone must be deleted, so the list only shrinks."""
    graph = _graph()
    stale = [f"{a} -> {b}" for a, b in ALLOWED_BACKWARD if b not in graph.get(a, set())]
    assert not stale, "remove from ALLOWED_BACKWARD:\n" + "\n".join(stale)
