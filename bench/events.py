"""Live events: latency from a write in the sandbox to the MCP ``notifications/resources/updated``,
push (the sandbox's signed webhooks to ``close-mcp serve``) vs follow (Event Log polling), and the Event
Log requests follow mode spends per minute when idle.

    python -m bench.events            # 20 writes, one idle minute at the default 30 s ceiling
    python -m bench.events --quick    # 3 writes, a 5 s idle window

Each write is one ``PUT /lead/{id}/`` straight to the sandbox; both servers watch the same lead, so one write
times both paths (no ordering bias between them). The floor is the write's own round trip, measured on the
same writes. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from close_mcp.app import Upstream, open_local_app, open_remote_app
from close_mcp.credentials import Credential
from close_mcp.http_app import RemoteConfig
from close_mcp.manifest import load_manifests
from close_mcp.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from close_mcp.sandbox.webhook_delivery import DeliveryPolicy
from close_mcp.settings import Settings
from close_mcp.uvicorn_runner import bind, serve_app_on

SPECS = load_manifests()
# The legacy (handshake-era) resources/subscribe is what close-mcp serves; the SDK warns it is gone at 2026-07-28.
warnings.filterwarnings("ignore", message="resources/subscribe is removed")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]


class Clock:
    """When each client heard about the watched URI (perf_counter), in arrival order."""

    def __init__(self) -> None:
        self.heard: list[float] = []
        self.event = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            self.heard.append(time.perf_counter())
            self.event.set()

    async def next(self, count: int, timeout: float) -> float:
        with anyio.fail_after(timeout):
            while len(self.heard) < count:
                self.event = anyio.Event()
                await self.event.wait()
        return self.heard[count - 1]


@asynccontextmanager
async def push_server(sb: RunningSandbox, keys: Path) -> AsyncIterator[str]:
    sock = bind("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(sandbox=True, toolsets=["all"], events="push", public_url=base, webhook_keys=keys)
    config = RemoteConfig(port=sock.getsockname()[1])
    upstream = Upstream(sb.base_url, Credential(sb.api_key))
    try:
        async with (
            open_remote_app(settings, upstream, config, specs=SPECS) as remote,
            serve_app_on(remote.asgi, sock),
        ):
            yield base
    finally:
        sock.close()


async def latency(writes: int, keys: Path) -> dict[str, Any]:
    config = SandboxConfig(
        leads=5, allow_loopback_webhooks=True, webhook_policy=DeliveryPolicy(allow_loopback_http=True)
    )
    follow = Settings(sandbox=True, toolsets=["all"], events="follow")
    push_clock, follow_clock = Clock(), Clock()
    async with (
        run_sandbox(config) as sb,
        push_server(sb, keys) as base,
        httpx2.AsyncClient(timeout=30) as http,
        Client(
            streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy", message_handler=push_clock
        ) as pushed,
        open_local_app(follow, Upstream(sb.base_url, Credential(sb.api_key)), specs=SPECS) as app,
        Client(app.server, mode="legacy", message_handler=follow_clock) as followed,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as close,
    ):
        made = await pushed.call_tool(
            "subscribe_webhooks", {"object_types": ["lead"], "actions": ["updated"], "confirm": True}
        )
        assert not made.is_error, made.content
        lead_id = next(iter(sb.sandbox.store().leads))
        uri = f"close://lead/{lead_id}"
        await pushed.subscribe_resource(uri)
        await followed.subscribe_resource(uri)
        push_ms, follow_ms, write_ms = [], [], []
        for n in range(1, writes + 1):
            started = time.perf_counter()
            answer = await close.put(f"/lead/{lead_id}/", json={"name": f"Bench {n}"})
            write_ms.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
            push_ms.append((await push_clock.next(n, 30) - started) * 1000)
            follow_ms.append((await follow_clock.next(n, 60) - started) * 1000)
    summary: dict[str, Any] = {"writes": writes}
    for name, xs in (("push", push_ms), ("follow", follow_ms), ("write (floor)", write_ms)):
        summary[name] = {"p50_ms": round(pct(xs, 50), 1), "p95_ms": round(pct(xs, 95), 1)}
    floor = summary["write (floor)"]["p50_ms"]
    summary["push"]["ratio_to_floor_p50"] = round(summary["push"]["p50_ms"] / floor, 1)
    summary["follow"]["ratio_to_floor_p50"] = round(summary["follow"]["p50_ms"] / floor, 1)
    return summary


async def idle_requests(window: float, max_interval: float) -> dict[str, Any]:
    """Event Log requests of an idle follow-mode server over ``window`` seconds, per minute."""
    settings = replace(
        Settings(sandbox=True, toolsets=["all"], events="follow"), follow_max_interval=max_interval
    )
    async with run_sandbox(SandboxConfig(leads=5)) as sb:
        upstream = Upstream(sb.base_url, Credential(sb.api_key))
        async with open_local_app(settings, upstream, specs=SPECS):
            before = sb.sandbox.stats.count("GET", "/event/")
            await anyio.sleep(window)  # a bench measures what happens while nothing happens
            made = sb.sandbox.stats.count("GET", "/event/") - before
    return {
        "window_s": window,
        "max_interval_s": max_interval,
        "event_log_requests": made,
        "per_minute": round(made * 60 / window, 1),
        "steady_state_per_minute": round(60 / max_interval, 1),
    }


async def main(quick: bool, keys: Path) -> dict[str, Any]:
    return {
        "latency": await latency(3 if quick else 20, keys),
        "idle follow": await idle_requests(5.0, 1.0) if quick else await idle_requests(60.0, 30.0),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keys", type=Path, default=Path("/tmp/close-mcp-bench-webhook-keys.json"))
    args = parser.parse_args()
    args.keys.unlink(missing_ok=True)
    print(json.dumps(anyio.run(main, args.quick, args.keys), indent=1))
