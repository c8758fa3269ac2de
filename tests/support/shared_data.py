"""The real public data in ../shared/data, which a user's clone may not have.

Tests that need it call :func:`shared_data` and skip with the reason when it is absent;
CI (PADDOCK_STRICT_SKIPS=1) fails instead, because it always has it. Never copy these
files into the project.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.skips import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    return Path(os.environ.get("PADDOCK_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_data(*parts: str) -> Path:
    path = shared_data_dir().joinpath(*parts)
    if not path.exists():
        skip_or_fail(f"{path} is missing: the real test data lives in ../shared/data")
    return path
