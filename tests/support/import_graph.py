"""A static import graph of a package, read from the source with ``ast``.

Two views of the same code: *every* import (including those inside functions, which run
sooner or later) and *module-level* imports only (what importing a module executes at
once). The second is what decides whether a web process that imports a task module also
loads torch.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImportEdge:
    target: str
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover(package_dir: Path) -> dict[str, Path]:
    """Every module of the package at ``package_dir``, keyed by dotted name."""
    root = package_dir.parent
    return {module_name(path, root): path for path in sorted(package_dir.rglob("*.py"))}


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, target] if target else base)


def imports_of(
    name: str, path: Path, known: set[str], *, module_level_only: bool
) -> list[ImportEdge]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    if module_level_only:
        # Imports under module-level if/try/with blocks still run at import time.
        nodes = [n for top in nodes for n in _walk_without_functions(top)]
    edges = []
    for node in nodes:
        if isinstance(node, ast.Import):
            edges.extend(ImportEdge(alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(name, path.name == "__init__.py", node.level, node.module)
                if node.level
                else node.module or ""
            )
            edges.append(ImportEdge(base, node.lineno))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if candidate in known:  # `from package import submodule`
                    edges.append(ImportEdge(candidate, node.lineno))
    return edges


def _walk_without_functions(node: ast.AST):
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        return
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _walk_without_functions(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class ImportGraph:
    def __init__(self, package_dir: Path, *, module_level_only: bool) -> None:
        self.modules = discover(package_dir)
        known = set(self.modules)
        self.edges = {
            name: imports_of(name, path, known, module_level_only=module_level_only)
            for name, path in self.modules.items()
        }

    def _parents(self, module: str) -> list[str]:
        """Importing a.b.c runs a/__init__ and a/b/__init__ first."""
        parts = module.split(".")
        return [".".join(parts[:i]) for i in range(1, len(parts))]

    def forbidden_paths(self, start: str, forbidden: set[str]) -> list[list[str]]:
        """Import chains from modules under ``start`` to a forbidden top-level name.

        A forbidden name matches itself and its submodules (``django`` matches
        ``django.db``). Each chain is a list of ``module:line -> ...`` hops.
        """
        def is_forbidden(target: str) -> bool:
            return any(target == f or target.startswith(f"{f}.") for f in forbidden)

        found = []
        for origin in sorted(m for m in self.modules if m == start or m.startswith(f"{start}.")):
            seen = {origin}
            queue = deque([(origin, [origin])])
            while queue:
                module, chain = queue.popleft()
                for edge in self.edges.get(module, []):
                    hop = [*chain[:-1], f"{chain[-1]}:{edge.line}", edge.target]
                    if is_forbidden(edge.target):
                        found.append(hop)
                        continue
                    for nxt in [*self._parents(edge.target), edge.target]:
                        if nxt in self.modules and nxt not in seen:
                            seen.add(nxt)
                            queue.append((nxt, hop if nxt == edge.target else [*hop, nxt]))
        return found
