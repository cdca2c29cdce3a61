"""Which project files each stage runs: derived from its imports, never listed by hand.

A stage's code is its entry script plus every blockbench module it imports, directly or inside a
function, followed transitively (with the package `__init__.py` files an import loads). Both
engines use this: the Snakefile declares it as each rule's code inputs and keys reruns on its
fingerprint (`blockbench.keys`); tests/test_codedeps.py checks that dvc.yaml's `deps` lists are
exactly these files. Only the standard library here: the engines call this while they build the DAG.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = "blockbench"
SRC = Path("src")
SCRIPTS = Path("workflow/scripts")

# The entry script of each stage (the Snakefile does `configs` itself while it parses).
ENTRY_POINTS = {
    "configs": SCRIPTS / "configs.py",
    "download": SCRIPTS / "download.py",
    "split": SCRIPTS / "split.py",
    "train": SCRIPTS / "train.py",
    "evaluate": SCRIPTS / "evaluate.py",
    "plot": SCRIPTS / "plot.py",
    "benchmark": SCRIPTS / "benchmark.py",
    "aggregate": SCRIPTS / "aggregate.py",
}


def _module_file(module: str, root: Path) -> Path | None:
    """src/blockbench/a/b.py or src/blockbench/a/b/__init__.py for `blockbench.a.b`, if any."""
    base = root / SRC / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(path: Path, root: Path) -> str | None:
    """The dotted package a project file belongs to (`blockbench.stages`), None outside src/."""
    try:
        rel = path.relative_to(root / SRC)
    except ValueError:
        return None
    parts = list(rel.parent.parts)
    return ".".join(parts) if parts else None


def _imported_modules(path: Path, root: Path) -> set[str]:
    """Dotted names of the blockbench modules (and packages) one file imports, anywhere in it."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _package_of(path, root)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                if package is None:
                    continue
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            # `from pkg import name`: name may be a submodule
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def _with_parents(module: str) -> list[str]:
    """Importing a.b.c loads a, a.b and a.b.c."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(entry: Path, root: Path = Path(".")) -> list[str]:
    """The entry file and every project file it imports, transitively, as sorted relative paths."""
    seen: dict[Path, None] = {}
    todo = [root / entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = None
        for module in _imported_modules(path, root):
            for name in _with_parents(module):
                target = _module_file(name, root)
                if target is not None and target not in seen:
                    todo.append(target)
    return sorted(str(p.relative_to(root)) for p in seen)


@functools.cache
def _stage_code(root: Path) -> dict[str, list[str]]:
    return {stage: closure(entry, root) for stage, entry in ENTRY_POINTS.items()}


def stage_code(stage: str, root: Path = Path(".")) -> list[str]:
    """The files a stage runs, as sorted repo-relative paths."""
    return list(_stage_code(root.resolve())[stage])
