"""Load on the remote server: N concurrent SDK clients (streamable HTTP) calling reads and a write
in a loop for a bounded time, on loopback, optionally against a rate-limited sandbox (``--rate-limit``).
Afterwards every write that succeeded must exist exactly once in the sandbox, and none may exist that
was not acknowledged. Printed: calls, p50/p95/p99, 429s the sandbox served, the server's RSS before
and after.

``abandoned_sessions``: N streamable-HTTP sessions opened and never closed (no DELETE), the server's
RSS before, with them open, and after their idle timeout; the memory of one session follows.
``--allocator pymalloc|malloc`` runs the server with ``PYTHONMALLOC`` set (``default``: the server's own
choice, close_mcp/allocator.py: pymalloc unless ``CLOSE_MCP_SYSTEM_MALLOC=1``): CPython's own small-object
allocator (pymalloc) returns a 1 MiB arena to the OS only once every object in it is gone, so a few
dozen long-lived objects allocated while the sessions were open keep ~10 MB of emptied arenas;
glibc's malloc gives those pages back on ``malloc_trim``."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.sandbox_process import SandboxProcess
from close_mcp.sandbox import SandboxConfig, run_sandbox
from close_mcp.uvicorn_runner import bind, wait_until_serving


def text_of(result: Any) -> str:
    """The text content of a tool result."""
    first = result.content[0]
    return first.text if isinstance(first, types.TextContent) else ""


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(
    sb: Any, *flags: str, stderr: int = subprocess.DEVNULL, env_extra: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``close-mcp serve [flags]`` on a free loopback port against the sandbox ``sb``, with its key, no
    audit log and ``env_extra``; returns the process and its base URL (the tests start servers with it too)."""
    sock = bind()
    port = sock.getsockname()[1]
    sock.close()
    env = {
        "PATH": os.environ["PATH"],
        "CLOSE_API_KEY": sb.api_key,
        "CLOSE_API_BASE_URL": sb.base_url,
        "CLOSE_MCP_AUDIT_LOG": "off",
        **(env_extra or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "close_mcp", "serve", "--port", str(port), *flags],
        env=env,
        stderr=stderr,
        text=True,
    )
    return proc, f"http://127.0.0.1:{port}"


async def remote_load(
    clients: int,
    seconds: float,
    rate_limit: int | None = None,
    allocator: str = "default",
    env_extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    with SandboxProcess(leads=50, rate_limit=rate_limit) as sb:  # its own process: not the clients' CPU
        proc, base = start_server(sb, env_extra={**_allocator_env(allocator), **(env_extra or {})})
        try:
            await wait_until_serving(f"{base}/healthz")
            rss_before = rss_mb(proc.pid)
            cpu_before = cpu_seconds(proc.pid)
            lead_id = sb.lead_ids(1)[0]
            latencies: list[float] = []
            acked: list[str] = []
            failures: list[str] = []
            deadline = time.monotonic() + seconds

            async def agent(n: int) -> None:
                async with (
                    httpx2.AsyncClient(timeout=60) as http,
                    Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client,
                ):
                    i = 0
                    while time.monotonic() < deadline:
                        i += 1
                        text = f"load {n}-{i}"
                        for name, args in (
                            ("list_leads", {"limit": 5}),
                            ("get_lead", {"lead_id": lead_id}),
                            ("create_note", {"lead_id": lead_id, "note": text}),
                        ):
                            started = time.perf_counter()
                            result = await client.call_tool(name, args)
                            latencies.append(time.perf_counter() - started)
                            if result.is_error:
                                failures.append(f"{name}: {text_of(result)[:120]}")
                            elif name == "create_note":
                                acked.append(text)

            started = time.monotonic()
            async with anyio.create_task_group() as tg:
                for n in range(clients):
                    tg.start_soon(agent, n)
            elapsed = time.monotonic() - started
            rss_after = rss_mb(proc.pid)
            server_cpu = cpu_seconds(proc.pid) - cpu_before
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        notes = Counter(sb.note_texts(lead_id))
        stats = sb.stats()
        served_429 = stats["served_429"]
        doubled = sum(1 for t in acked if notes[t] != 1)
        unacked = sum(1 for t, c in notes.items() if t and t.startswith("load ") and t not in set(acked))
        latencies.sort()
        return {
            "clients": clients,
            "allocator": allocator,
            "rate_limit": rate_limit,
            "seconds": round(elapsed, 1),
            "calls": len(latencies),
            "calls_per_s": round(len(latencies) / elapsed, 1),
            "failed": len(failures),
            "writes_acked": len(acked),
            "writes_lost_or_doubled": doubled,
            "writes_unacked_but_made": unacked,
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
            "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 1),
            "served_429": served_429,
            "windows_with_429": stats["windows_with_429"],
            "most_429_in_one_window": stats["most_429_in_one_window"],
            "by_window": stats["429_by_window"],
            "server_cpu_ms_per_call": round(server_cpu * 1000 / max(1, len(latencies)), 2),
            "rss_before_mb": rss_before,
            "rss_after_mb": rss_after,
            "first_failures": failures[:3],
        }


# Raw MCP messages, for whatever speaks the protocol by hand (the bench, and tests over stdio and HTTP).
# 2025-11-25: the first protocol version whose streamable-HTTP streams open with a priming event.
PROTOCOL_VERSION = "2025-11-25"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "b", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
ACCEPT = {"accept": "application/json, text/event-stream"}


async def open_raw_session(http: httpx2.AsyncClient, base: str = "") -> dict[str, str]:
    """``initialize`` + ``notifications/initialized`` by hand on ``{base}/mcp``; the headers of that
    session's later requests."""
    opened = await http.post(f"{base}/mcp", json=INIT, headers=ACCEPT)
    opened.raise_for_status()
    headers = {
        **ACCEPT,
        "mcp-session-id": opened.headers["mcp-session-id"],
        "mcp-protocol-version": PROTOCOL_VERSION,
    }
    (await http.post(f"{base}/mcp", json=INITIALIZED, headers=headers)).raise_for_status()
    return headers


def tool_call(request_id: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A raw ``tools/call`` request."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def _allocator_env(allocator: str) -> dict[str, str]:
    """``default``: what ``close-mcp serve`` chooses by itself (close_mcp/allocator.py); otherwise
    ``PYTHONMALLOC`` set to that allocator, which the server then keeps."""
    return {} if allocator == "default" else {"PYTHONMALLOC": allocator}


async def abandoned_sessions(
    sessions: int, idle_timeout: float = 5.0, allocator: str = "default"
) -> dict[str, Any]:
    """Open ``sessions`` streamable-HTTP sessions and abandon them; RSS before, open, after expiry."""
    async with run_sandbox(SandboxConfig(leads=5)) as sb:
        proc, base = start_server(
            sb,
            env_extra={
                "CLOSE_MCP_SESSION_TIMEOUT": str(idle_timeout),
                "CLOSE_MCP_MAX_SESSIONS": str(sessions * 2),
                **_allocator_env(allocator),
            },
        )
        try:
            await wait_until_serving(f"{base}/healthz")
            # Every request on a connection of its own, closed before RSS is read: the abandoned
            # clients are gone, and neither are the bench's own connection's objects part of the server.
            await _open_session(base)  # warm up: first-session imports
            with anyio.fail_after(idle_timeout * 4 + 10):
                probe = await _open_session(base)
                while await _alive(base, probe):  # the warm-up sessions expire first
                    await anyio.sleep(idle_timeout + 0.5)  # a probe resets the countdown
            rss_before = rss_mb(proc.pid)
            rounds = []
            for _ in range(2):  # twice: memory kept by the allocator shows as no growth in round 2
                ids = []
                async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
                    for _ in range(sessions):  # initialize, then walk away (no DELETE)
                        opened = await http.post("/mcp", json=INIT, headers=ACCEPT)
                        ids.append(opened.headers["mcp-session-id"])
                rss_open = rss_mb(proc.pid)
                with anyio.fail_after(idle_timeout * 4 + 10):
                    await anyio.sleep(idle_timeout)
                    while await _alive(base, ids[-1]):  # the last one opened expires last
                        await anyio.sleep(idle_timeout + 0.5)
                await anyio.sleep(1.0)  # let the ended sessions' tasks unwind
                rounds.append((rss_open, rss_mb(proc.pid)))
            (rss_open, rss_expired), (rss_open_2, rss_expired_2) = rounds
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    return {
        "sessions": sessions,
        "allocator": allocator,
        "idle_timeout_s": idle_timeout,
        "rss_before_mb": rss_before,
        "rss_open_mb": rss_open,
        "rss_after_idle_timeout_mb": rss_expired,
        "mb_per_session": round((rss_open - rss_before) / sessions, 3),
        "rss_left_after_expiry_mb": round(rss_expired - rss_before, 1),
        "second_round_open_mb": rss_open_2,
        "second_round_after_idle_timeout_mb": rss_expired_2,
    }


async def _open_session(base: str) -> str:
    async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
        return (await http.post("/mcp", json=INIT, headers=ACCEPT)).headers["mcp-session-id"]


async def _alive(base: str, session: str) -> bool:
    headers = {**ACCEPT, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
        return (await http.post("/mcp", json=ping, headers=headers)).status_code != 404


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clients", type=int, nargs="?", default=50)
    parser.add_argument("seconds", type=float, nargs="?", default=30.0)
    parser.add_argument("--rate-limit", type=int, default=None, help="sandbox requests/s per key and group")
    parser.add_argument("--abandoned", type=int, default=0, help="instead: N abandoned sessions, RSS")
    parser.add_argument("--idle-timeout", type=float, default=5.0)
    parser.add_argument(
        "--allocator",
        choices=("default", "pymalloc", "malloc"),
        default="default",
        help="the server's allocator: its own choice (CPython's unless CLOSE_MCP_SYSTEM_MALLOC=1), or "
        "PYTHONMALLOC=pymalloc / malloc (glibc's)",
    )
    args = parser.parse_args()
    if args.abandoned:
        print(anyio.run(abandoned_sessions, args.abandoned, args.idle_timeout, args.allocator))
    else:
        print(anyio.run(remote_load, args.clients, args.seconds, args.rate_limit, args.allocator))


if __name__ == "__main__":
    main()
