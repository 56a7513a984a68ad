"""Memory of the server with every tool loaded (issue 16: "RSS flat over 10,000 calls and <= 80 MB").

``measure()`` starts a Close sandbox in its own process, then, one after the other:

- the stdio server (``close-mcp --toolsets all``) and one MCP client over its stdin/stdout;
- the remote server (``close-mcp serve --toolsets all``) and one streamable-HTTP session;

and reads the server's RSS (``/proc/<pid>/status``) after ``tools/list`` and every ``every`` calls of
``calls`` mixed calls (``get_lead``, ``list_leads``, ``list_users``, ``create_note`` in turn). Where the
idle figure goes is measured apart, each stage in a fresh interpreter: the bare interpreter, the
modules a server imports, then the manifests loaded. Growth is the RSS after the last call minus the
RSS after the first ``every`` calls (the first thousand fill what is built on first use: validators,
caches, the HTTP connection pool). ``python -m bench.memory [calls] [every]`` prints the dict.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from bench.remote_load import rss_mb, start_server
from close_mcp.uvicorn_runner import bind, wait_until_serving

STAGES = {
    "interpreter": "",
    "imports": "import close_mcp.cli, close_mcp.app, close_mcp.http_app, mcp.server.stdio",
    "manifests": (
        "import close_mcp.cli, close_mcp.app, close_mcp.http_app, mcp.server.stdio\n"
        "from close_mcp.settings import Settings\n"
        "specs = close_mcp.app.load_specs(Settings.load(environ={'CLOSE_MCP_TOOLSETS': 'all'}))"
    ),
}
_PRINT_RSS = (
    "\nfrom pathlib import Path\n"
    "print(next(l.split()[1] for l in Path('/proc/self/status').read_text().splitlines() "
    "if l.startswith('VmRSS:')))"
)


class Sandbox:
    """``close-mcp sandbox`` in its own process: its base URL and API key."""

    def __init__(self) -> None:
        sock = bind()
        port = sock.getsockname()[1]
        sock.close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "close_mcp", "sandbox", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"PATH": os.environ["PATH"]},
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = self.api_key = ""
        for line in self.proc.stdout:
            if found := re.search(r"listening on (\S+)", line):
                self.base_url = found.group(1)
            if found := re.search(r"API key\(s\): (\S+?),?\s", line):
                self.api_key = found.group(1)
                break

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)


def stage_rss_mb() -> dict[str, float]:
    """RSS of a fresh interpreter after each stage of :data:`STAGES` (MB)."""
    out = {}
    for stage, code in STAGES.items():
        kb = subprocess.run(
            [sys.executable, "-c", code + _PRINT_RSS], capture_output=True, text=True, check=True
        ).stdout.split()[-1]
        out[stage] = round(int(kb) / 1024, 1)
    return out


async def _calls(client: Client, calls: int, every: int, rss: Callable[[], float]) -> dict[str, Any]:
    tools = await client.list_tools()
    after_list = rss()
    leads = await client.call_tool("list_leads", {"limit": 5})
    lead_id = _data(leads)["items"][0]["id"]
    mix: list[tuple[str, dict[str, Any]]] = [
        ("get_lead", {"lead_id": lead_id}),
        ("list_leads", {"limit": 5}),
        ("list_users", {}),
        ("create_note", {"lead_id": lead_id, "note": "memory bench"}),
    ]
    series, errors = [], 0
    for n in range(1, calls + 1):
        name, args = mix[n % len(mix)]
        result = await client.call_tool(name, args)
        errors += bool(result.is_error)
        if n % every == 0:
            series.append(rss())
    return {
        "tools": len(tools.tools),
        "rss_after_tools_list_mb": after_list,
        "rss_every_calls_mb": series,
        "growth_after_warmup_mb": round(series[-1] - series[0], 1),
        "peak_mb": max([after_list, *series]),
        "errors": errors,
    }


def _data(result: Any) -> Any:
    """A tool result's data: its structuredContent when sent, else its text as JSON."""
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def _server_pid(parent: int, sandbox: int) -> int:
    """The ``close-mcp`` process the stdio client spawned (a child of this process, not the sandbox)."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        pid = int(status.parent.name)
        mine = re.search(rf"^PPid:\s+{parent}$", text, re.M) and pid != sandbox
        if mine and "close_mcp" in _cmdline(status.parent):
            return pid
    raise RuntimeError("the stdio server process was not found")


def _cmdline(proc_dir: Path) -> str:
    try:
        return (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _env(sb: Sandbox) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "CLOSE_API_KEY": sb.api_key,
        "CLOSE_API_BASE_URL": sb.base_url,
        "CLOSE_MCP_AUDIT_LOG": "off",
        "CLOSE_MCP_TOOLSETS": "all",
    }


async def stdio_memory(sb: Sandbox, calls: int, every: int) -> dict[str, Any]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "close_mcp"], env=_env(sb))
    async with Client(stdio_client(params), mode="legacy") as client:
        pid = _server_pid(os.getpid(), sb.proc.pid)
        return await _calls(client, calls, every, lambda: rss_mb(pid))


@asynccontextmanager
async def _remote(sb: Sandbox, allocator: str) -> AsyncIterator[tuple[int, str]]:
    chosen = {} if allocator == "default" else {"PYTHONMALLOC": allocator}
    proc, base = start_server(sb, env_extra={"CLOSE_MCP_TOOLSETS": "all", **chosen})
    try:
        await wait_until_serving(f"{base}/healthz")
        yield proc.pid, base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


async def http_memory(sb: Sandbox, calls: int, every: int, allocator: str = "default") -> dict[str, Any]:
    """``allocator``: ``default`` (the server's own choice, close_mcp/allocator.py), or ``PYTHONMALLOC``."""
    async with _remote(sb, allocator) as (pid, base):
        rss_started = rss_mb(pid)
        async with (
            httpx2.AsyncClient(timeout=60) as http,
            Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client,
        ):
            figures = await _calls(client, calls, every, lambda: rss_mb(pid))
        return {"rss_started_mb": rss_started, **figures}


async def measure(
    calls: int = 10_000, every: int = 1_000, transports: str = "stdio,http", allocator: str = "default"
) -> dict[str, Any]:
    """Every figure of the module text, as one dict (``transports``: a comma list of stdio, http)."""
    sb = Sandbox()
    try:
        figures: dict[str, Any] = {"calls": calls, "stages_mb": stage_rss_mb()}
        if "stdio" in transports:
            figures["stdio"] = await stdio_memory(sb, calls, every)
        if "http" in transports:
            figures["http"] = {"allocator": allocator, **await http_memory(sb, calls, every, allocator)}
        return figures
    finally:
        sb.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("calls", type=int, nargs="?", default=10_000)
    parser.add_argument("every", type=int, nargs="?", default=1_000)
    parser.add_argument("--transports", default="stdio,http", help="comma list: stdio, http")
    parser.add_argument(
        "--allocator",
        choices=("default", "pymalloc", "malloc"),
        default="default",
        help="the HTTP server's: its own choice, or PYTHONMALLOC",
    )
    args = parser.parse_args()
    figures = anyio.run(measure, args.calls, args.every, args.transports, args.allocator)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
