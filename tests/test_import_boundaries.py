"""The parts of paddock keep to their side of the boundaries the design draws.

- ``paddock.training`` never imports Django (nor Celery), and of the other parts of paddock
  only the kernel: it is plain torch + transformers, run on GPU workers, under torchrun or
  in a notebook.
- The web process (``paddock.platform``, ``paddock.annotation``, ``paddock.curation``,
  ``paddock.console``) never imports torch or transformers: checked statically over
  module-level imports, and at run time by loading every URL's view in a fresh
  interpreter; nor ``paddock.training`` at all, not even inside a function. The console
  and curation do not import torch even inside a function.
- ``paddock.kernel`` (what every part shares) imports none of the parts and no framework.
- The curation core (``paddock.curation.core``) is plain Python: importing it in a fresh
  interpreter loads no Django, Celery, kombu or torch.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.import_graph import ImportGraph

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "paddock"
HEAVY = {"torch", "transformers", "peft", "accelerate", "safetensors", "datasets", "vllm"}
FRAMEWORKS = {"django", "rest_framework", "celery", "kombu"}
PARTS = sorted(
    f"paddock.{path.parent.name}" for path in PACKAGE.glob("*/__init__.py")
)
WEB_PARTS = ["paddock.platform", "paddock.annotation", "paddock.curation", "paddock.console"]
CURATION_CORE = [
    "paddock.curation.core.readers", "paddock.curation.core.near_dedup",
    "paddock.curation.core.export", "paddock.curation.core.sites", "paddock.curation.core.pii",
    "paddock.curation.core.store", "paddock.curation.core.file_bands",
]


def format_chains(chains: list[list[str]]) -> str:
    return "\n".join(" -> ".join(chain) for chain in chains)


def test_the_parts_are_the_ones_these_rules_name():
    """A new part must be placed on one side of the boundaries before it is added."""
    assert PARTS == sorted([*WEB_PARTS, "paddock.kernel", "paddock.training", "paddock.workers"])


def test_training_imports_only_the_kernel_and_no_web_framework():
    graph = ImportGraph(PACKAGE, module_level_only=False)
    others = set(PARTS) - {"paddock.training", "paddock.kernel"}
    chains = graph.forbidden_paths("paddock.training", FRAMEWORKS | others)
    assert not chains, "paddock.training reaches another part:\n" + format_chains(chains)


@pytest.mark.parametrize("part", WEB_PARTS)
def test_web_modules_do_not_import_torch_at_module_level(part):
    graph = ImportGraph(PACKAGE, module_level_only=True)
    chains = graph.forbidden_paths(part, HEAVY | {"paddock.training"})
    assert not chains, f"{part} loads heavy ML code at import:\n" + format_chains(chains)


@pytest.mark.parametrize("part", WEB_PARTS)
def test_web_modules_never_reach_paddock_training_even_inside_a_function(part):
    """What both sides need lives in paddock.kernel; a function-level import of
    paddock.training in a web module would only hide the dependency from the test above."""
    graph = ImportGraph(PACKAGE, module_level_only=False)
    chains = graph.forbidden_paths(part, {"paddock.training"})
    assert not chains, f"{part} reaches paddock.training:\n" + format_chains(chains)


@pytest.mark.parametrize("part", ["paddock.console", "paddock.curation"])
def test_console_and_curation_never_import_torch_even_inside_a_function(part):
    """The manager's pages and the curation runs have no GPU work of their own: what they
    show of a model comes from the registry (paddock.kernel) and the workers' records.
    Only their own imports count here: the Celery task modules they enqueue with hold GPU
    tasks whose bodies import torch on a GPU worker, and the run-time test below checks
    that enqueueing them loads none of it."""
    graph = ImportGraph(PACKAGE, module_level_only=False)
    found = [
        f"{module}:{edge.line} -> {edge.target}"
        for module, edges in sorted(graph.edges.items())
        if module == part or module.startswith(f"{part}.")
        for edge in edges
        if edge.target.split(".")[0] in HEAVY
    ]
    assert not found, f"{part} imports heavy ML code:\n" + "\n".join(found)


def test_the_kernel_imports_no_other_part_and_no_framework():
    graph = ImportGraph(PACKAGE, module_level_only=False)
    forbidden = HEAVY | FRAMEWORKS | (set(PARTS) - {"paddock.kernel"})
    chains = graph.forbidden_paths("paddock.kernel", forbidden)
    assert not chains, "paddock.kernel depends on a part:\n" + format_chains(chains)


def test_web_process_loads_no_ml_library_at_run_time():
    script = textwrap.dedent(
        """
        import json, sys
        import django
        django.setup()
        from django.urls import get_resolver
        from django.urls.resolvers import URLResolver

        def walk(patterns):
            for pattern in patterns:
                if isinstance(pattern, URLResolver):
                    walk(pattern.url_patterns)
                else:
                    pattern.callback

        walk(get_resolver().url_patterns)
        import paddock.platform.wsgi, paddock.platform.asgi
        from paddock.platform.celery import app
        app.loader.import_default_modules()  # the task modules the web enqueues with
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
        print(json.dumps(heavy))
        """
    ).replace("HEAVY", repr(HEAVY))
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_curation_core_loads_no_framework_at_run_time():
    """A curation run in a notebook or a plain worker process pays for no web stack: the
    part's package __init__ files and the core's imports must stay free of Django and
    Celery (which, until the curation part left paddock.platform, came with it)."""
    script = textwrap.dedent(
        """
        import json, sys
        import MODULES
        loaded = sorted(m for m in sys.modules if m.split(".")[0].startswith(FORBIDDEN))
        print(json.dumps(loaded))
        """
    ).replace("MODULES", ", ".join(CURATION_CORE)).replace(
        "FORBIDDEN", repr(("django", "celery", "kombu", "torch"))
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def write(root: Path, name: str, body: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))


def test_checker_finds_indirect_and_relative_violations(tmp_path):
    package = tmp_path / "pkg"
    write(package, "__init__.py", "")
    write(package, "training/__init__.py", "from . import model\n")
    write(package, "training/model.py", "from ..helpers import util\n")
    write(package, "helpers/__init__.py", "")
    write(package, "helpers/util.py", "def f():\n    import django.db\n")
    write(package, "web/__init__.py", "")
    write(package, "web/views.py", "def view():\n    import torch\n")
    write(package, "web/tasks.py", "try:\n    import transformers\nexcept ImportError:\n    pass\n")

    everything = ImportGraph(package, module_level_only=False)
    chains = everything.forbidden_paths("pkg.training", {"django"})
    assert ["pkg.training.model:1", "pkg.helpers.util:2", "django.db"] in chains

    module_level = ImportGraph(package, module_level_only=True)
    assert module_level.forbidden_paths("pkg.training", {"django"}) == []
    web_chains = module_level.forbidden_paths("pkg.web", {"torch", "transformers"})
    assert web_chains == [["pkg.web.tasks:2", "transformers"]]
