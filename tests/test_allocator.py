"""With ``CLOSE_MCP_SYSTEM_MALLOC=1``, ``close-mcp serve`` re-runs itself once under ``PYTHONMALLOC=malloc``
(close_mcp/allocator.py), so the memory of ended sessions goes back to the OS; a ``PYTHONMALLOC``
already set, or the default, keeps the process as started. Real ``close-mcp serve`` processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.remote_load import start_server
from close_mcp.allocator import malloc_trim, wants_system_malloc
from close_mcp.sandbox import RunningSandbox
from close_mcp.uvicorn_runner import wait_until_serving

pytestmark = pytest.mark.anyio
NOTICE = "re-executing under the C allocator"


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode().partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


async def _serve(sandbox: RunningSandbox, **env: str) -> tuple[dict[str, str], str]:
    """Start ``close-mcp serve``, wait until it answers, then stop it: its environment as the running
    server sees it (the same process ID across ``exec``) and what it logged."""
    proc, base = start_server(
        sandbox, stderr=subprocess.PIPE, env_extra={"CLOSE_MCP_LOG_LEVEL": "INFO", **env}
    )
    try:
        await wait_until_serving(f"{base}/healthz")
        environ = _environ(proc.pid)
    finally:
        proc.terminate()
        _, log = proc.communicate(timeout=15)
    return environ, log


@pytest.mark.skipif(malloc_trim is None, reason="only where glibc's malloc_trim returns the memory")
async def test_serve_reexecutes_once_under_the_system_allocator(sandbox: RunningSandbox) -> None:
    environ, log = await _serve(sandbox, CLOSE_MCP_SYSTEM_MALLOC="1")
    assert environ.get("PYTHONMALLOC") == "malloc"
    assert log.count(NOTICE) == 1  # the re-executed server sees the variable and does not do it again
    assert "close-mcp http server on" in log


@pytest.mark.parametrize(
    ("env", "expected"),
    [({"PYTHONMALLOC": "pymalloc", "CLOSE_MCP_SYSTEM_MALLOC": "1"}, "pymalloc"), ({}, None)],
    ids=["allocator-chosen", "default"],
)
async def test_serve_keeps_the_allocator_it_was_started_with(
    sandbox: RunningSandbox, env: dict[str, str], expected: str | None
) -> None:
    environ, log = await _serve(sandbox, **env)
    assert environ.get("PYTHONMALLOC") == expected
    assert NOTICE not in log
    assert "close-mcp http server on" in log


def test_only_the_remote_server_changes_allocator() -> None:
    assert not wants_system_malloc(True, remote=False, environ={})  # stdio: one client, no session burst
    assert not wants_system_malloc(False, remote=True, environ={})
    assert not wants_system_malloc(True, remote=True, environ={"PYTHONMALLOC": "debug"})
    assert wants_system_malloc(True, remote=True, environ={}) == (malloc_trim is not None)
