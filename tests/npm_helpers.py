"""``npm ci`` once per folder, even when several pytest-xdist workers ask at the same moment."""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path


def npm_ci_once(folder: Path, installed: Path) -> None:
    """Install ``folder``'s locked packages unless ``installed`` exists; an exclusive lock on a file
    in ``folder`` makes concurrent workers wait for the first install instead of racing it."""
    with (folder / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=folder,
                check=True,
                timeout=300,
                capture_output=True,
            )
