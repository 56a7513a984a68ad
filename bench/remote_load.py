"""Load on the remote server: N concurrent SDK clients (streamable HTTP) calling a read and a write
in a loop for a bounded time, on loopback. Afterwards every write that succeeded must exist exactly
once in the sandbox, and none may exist that was not acknowledged twice."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import anyio
import httpx2
import mcp.types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from close_mcp.sandbox import SandboxConfig, run_sandbox
from close_mcp.uvicorn_runner import bind, wait_until_serving


def text_of(result: Any) -> str:
    """The text content of a tool result."""
    first = result.content[0]
    return first.text if isinstance(first, types.TextContent) else ""


async def remote_load(clients: int, seconds: float) -> dict[str, Any]:
    async with run_sandbox(SandboxConfig(leads=50)) as sb:
        sock = bind()
        port = sock.getsockname()[1]
        sock.close()
        env = {"PATH": os.environ["PATH"], "CLOSE_API_KEY": sb.api_key, "CLOSE_API_BASE_URL": sb.base_url}
        proc = subprocess.Popen(
            [sys.executable, "-m", "close_mcp", "serve", "--port", str(port)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_until_serving(f"{base}/healthz")
            lead_id = next(iter(sb.sandbox.store().leads))
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
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        notes = Counter(a.get("note") for a in sb.sandbox.store().activities.values() if a["_type"] == "Note")
        doubled = sum(1 for t in acked if notes[t] != 1)
        unacked = sum(1 for t, c in notes.items() if t and t.startswith("load ") and t not in set(acked))
        latencies.sort()
        return {
            "clients": clients,
            "seconds": round(elapsed, 1),
            "calls": len(latencies),
            "calls_per_s": round(len(latencies) / elapsed, 1),
            "failed": len(failures),
            "writes_acked": len(acked),
            "writes_lost_or_doubled": doubled,
            "writes_unacked_but_made": unacked,
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
            "first_failures": failures[:3],
        }


if __name__ == "__main__":
    print(
        anyio.run(
            remote_load,
            int(sys.argv[1]) if len(sys.argv) > 1 else 50,
            float(sys.argv[2]) if len(sys.argv) > 2 else 30,
        )
    )
