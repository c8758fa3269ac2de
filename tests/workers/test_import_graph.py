"""``paddock.workers`` has no import circles, and no part outside training hides imports
inside functions.

An import inside a function that exists only to get past a circle (or past the boundary
test) hides the dependency from the reader and from the test (it runs later, from whatever
imported first). The only function-level imports of paddock code left outside training are
listed below, each for a
reason that is not a circle: heavy training code a web process must never load, and the
worker launcher, which sets Django's environment before Django is imported.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.import_graph import ImportGraph

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "paddock"
WORKERS = "paddock.workers"

# (module, imported module): function-level imports of paddock code kept on purpose.
LAZY_ALLOWED = {
    # torch and transformers load only in the GPU worker that samples or trains
    ("paddock.workers.generation", "paddock.training.policy.generation"),
    ("paddock.workers.management.commands.paddock_bootstrap_models", "paddock.training.bases"),
    ("paddock.workers.management.commands.paddock_bootstrap_models", "paddock.training.tiny"),
    # the launcher sets DJANGO_SETTINGS_MODULE (and the GPU environment) before Django loads
    ("paddock.workers.launch", "paddock.platform.config"),
    ("paddock.workers.launch", "paddock.platform.health.checks"),
    # Django's way to connect signal receivers: imported in AppConfig.ready()
    ("paddock.platform.accounts.apps", "paddock.platform.accounts"),
    ("paddock.platform.accounts.apps", "paddock.platform.accounts.revocation"),
}


def _in_workers(name: str) -> bool:
    return name == WORKERS or name.startswith(f"{WORKERS}.")


def _with_parents(target: str) -> list[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ first."""
    parts = target.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _cycles(graph: ImportGraph) -> list[list[str]]:
    """Import circles among the modules of paddock.workers (each found once)."""
    edges = {
        module: sorted({name for e in graph.edges[module] for name in _with_parents(e.target)
                        if name in graph.modules and _in_workers(name) and name != module
                        and not module.startswith(f"{name}.")})
        for module in graph.modules if _in_workers(module)
    }
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in edges.get(module, []):
            if state.get(target) == 1:
                found.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return found


def test_workers_have_no_import_circle_at_module_level():
    cycles = _cycles(ImportGraph(PACKAGE, module_level_only=True))
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_workers_have_no_import_circle_even_through_function_level_imports():
    cycles = _cycles(ImportGraph(PACKAGE, module_level_only=False))
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_function_level_paddock_imports_outside_training_are_only_the_allowed_lazy_loads():
    """In workers and in the web parts (platform, annotation, curation, console) and the
    kernel alike; training's CLIs import their heavy modules lazily so ``--help`` is fast,
    and training is walked by the boundary test with function-level imports included."""
    everything = ImportGraph(PACKAGE, module_level_only=False)
    module_level = ImportGraph(PACKAGE, module_level_only=True)
    lazy = set()
    for module in everything.modules:
        if module.startswith("paddock.training"):
            continue
        at_import = {(e.target, e.line) for e in module_level.edges[module]}
        for edge in everything.edges[module]:
            if edge.target.startswith("paddock.") and (edge.target, edge.line) not in at_import:
                if edge.target in everything.modules:  # not `from package import name`
                    lazy.add((module, edge.target))
    assert lazy <= LAZY_ALLOWED, f"function-level imports: {sorted(lazy - LAZY_ALLOWED)}"
