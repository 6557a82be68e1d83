"""The Chromium every browser test drives: ``CHROMIUM_PATH``, else Debian's ``/usr/bin/chromium``.

``scripts/ci-install.sh`` finds one that runs headless (the machine's own, Debian's package, or Playwright's build
where only a snap wrapper exists) and exports its path. Not found is a test failure naming the fix, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEFAULT = "/usr/bin/chromium"


def chromium_path() -> str:
    """The Chromium executable to hand to Playwright's ``executable_path``."""
    path = os.environ.get("CHROMIUM_PATH") or DEFAULT
    if not Path(path).is_file():
        pytest.fail(f"Chromium not found at {path}: run scripts/ci-install.sh (it exports CHROMIUM_PATH), "
                    "apt-get install chromium, or set CHROMIUM_PATH")
    return path
