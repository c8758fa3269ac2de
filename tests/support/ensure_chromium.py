"""``make test``'s browser step: Debian's Chromium for the browser tests.

Present: nothing to do. Missing: Debian's ``chromium`` package is installed with apt-get
when that is allowed (root or password-less sudo, and PADDOCK_INSTALL_SYSTEM_PACKAGES is
not 0), as ``make run`` installs redis-server; otherwise one line says what to install and
the browser tests skip (or fail under PADDOCK_STRICT_SKIPS=1, as in CI). It never stops
``make test`` itself: the rest of the suite runs either way.
"""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks._chromium import CHROMIUM
from paddock.platform.ensure_redis import may_install_packages


def main() -> None:
    if CHROMIUM.is_file():
        return
    if not may_install_packages():
        print(f"paddock: {CHROMIUM} is missing, so the browser tests will skip: run "
              "'sudo apt-get install chromium' (Debian/Ubuntu).", file=sys.stderr)
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("paddock: installing Debian's chromium package for the browser tests (apt-get)...",
          flush=True)
    try:
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "chromium"], check=True,
                       env=env)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"paddock: could not install chromium ({exc}); the browser tests will skip.",
              file=sys.stderr)


if __name__ == "__main__":
    main()
