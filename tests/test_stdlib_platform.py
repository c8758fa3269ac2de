"""``import platform`` must always mean Python's standard library module.

paddock keeps its Django project at ``paddock/platform``; a root-level ``platform`` package
would shadow the standard library for Django, Celery and torch, which import it.
"""

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


def resolved_platform(cwd: Path, *prelude: str) -> Path:
    code = "; ".join([*prelude, "import platform", "print(platform.__file__)"])
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    )
    return Path(result.stdout.strip()).resolve()


def test_no_root_level_platform_module_exists():
    assert not (ROOT / "platform").exists()
    assert not (ROOT / "platform.py").exists()


@pytest.mark.parametrize(
    "prelude",
    [(), ("import paddock.platform",), ("import django", "import celery")],
    ids=["bare", "after-paddock", "after-django-celery"],
)
def test_import_platform_is_the_standard_library_from_the_checkout(prelude):
    assert resolved_platform(ROOT, *prelude) == STDLIB / "platform.py"


def test_import_platform_in_this_test_process_is_the_standard_library():
    import platform

    assert Path(platform.__file__).resolve() == STDLIB / "platform.py"
    assert platform.python_version().startswith("3.")
