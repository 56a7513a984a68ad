"""Run the real ``close-mcp`` command in a subprocess, with an environment the test controls
(never the developer's own CLOSE_* variables), without blocking the event loop the sandbox runs on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio

CLOSE_MCP = [sys.executable, "-m", "close_mcp"]


def cli_env(home: Path, **variables: str) -> dict[str, str]:
    """A clean environment; only coverage's own variables pass, so the child process is measured too."""
    measuring = {k: v for k, v in os.environ.items() if k.startswith("COVERAGE_")}
    return {
        **measuring,
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "PYTHONUTF8": "1",
        **variables,
    }


def sandbox_env(home: Path, sandbox: Any, **variables: str) -> dict[str, str]:
    """close-mcp pointed at a test's sandbox, so the test can see every request it receives."""
    return cli_env(home, CLOSE_API_KEY=sandbox.api_key, CLOSE_API_BASE_URL=sandbox.base_url, **variables)


async def run_cli(*args: str, env: dict[str, str], stdin: bytes | None = None) -> tuple[int, str, str]:
    # no input: /dev/null, never the developer's terminal (a destructive call would ask there)
    result = await anyio.run_process(
        [*CLOSE_MCP, *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        env=env,
        check=False,
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()
