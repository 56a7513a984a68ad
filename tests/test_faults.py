"""The fault suite: many concurrent MCP sessions through the real HTTP server (uvicorn on loopback,
streamable HTTP) against the sandbox, one run per fault kind, every write carrying a unique marker,
then checked in the sandbox's store: 0 lost, 0 doubled, 0 hung, 0 "maybe" outcomes.

Also: a 429 that says "reset in 0 s" does not become a request loop and the call ends within its
deadline; abandoned sessions are capped, the longest idle closed first; a draining server refuses new
calls while the one in flight finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from conftest import SPECS, settings_for_tests, text_of
from remote_helpers import remote_client

from bench.remote_load import ACCEPT, INIT, INITIALIZED, open_raw_session, start_server, tool_call
from close_mcp.app import RemoteApp, Upstream, open_remote_app
from close_mcp.client import MAX_REQUESTS_PER_CALL, MIN_429_PAUSE
from close_mcp.credentials import Credential
from close_mcp.http_app import RemoteConfig
from close_mcp.sandbox import FaultRule, RunningSandbox
from close_mcp.tool_handlers import OUTCOME_META
from close_mcp.uvicorn_runner import bind, serve_app_on, wait_until_serving

pytestmark = pytest.mark.anyio

SESSIONS = 8
WRITES_PER_SESSION = 3
FAULTED = 10  # of the 24 writes of a run, this many meet the fault
HTTP_TIMEOUT = 0.5  # the server's Close timeout in these runs: a 1.2 s stall outlasts it
DONE = {"ok", "ok:reconciled"}


@asynccontextmanager
async def serving(
    sandbox: RunningSandbox, config: RemoteConfig | None = None, **settings: Any
) -> AsyncIterator[tuple[str, RemoteApp]]:
    """The real remote server on a free loopback port, with these settings."""
    config = config or RemoteConfig()
    sock = bind(config.host, 0)
    config.port = sock.getsockname()[1]
    upstream = Upstream(sandbox.base_url, Credential(sandbox.api_key))
    try:
        async with (
            open_remote_app(
                settings_for_tests(sandbox=True, **settings), upstream, config, specs=SPECS
            ) as remote,
            serve_app_on(remote.asgi, sock),
        ):
            yield f"http://127.0.0.1:{config.port}", remote
    finally:
        sock.close()


def outcome(result: Any) -> str:
    return str((result.meta or {}).get(OUTCOME_META))


FAULTS = {
    "status_500": FaultRule("status", status=500),
    "status_502": FaultRule("status", status=502),
    "status_503": FaultRule("status", status=503),
    "status_504": FaultRule("status", status=504),
    "stall_2x_timeout": FaultRule("latency", delay=1.2),
    "stall_under_timeout": FaultRule("latency", delay=0.1),
    "drop_before": FaultRule("drop_before"),
    "drop_after": FaultRule("drop_after"),
}


@pytest.mark.parametrize("kind", sorted(FAULTS))
async def test_every_write_exactly_once_under(kind: str, sandbox: RunningSandbox) -> None:
    template = FAULTS[kind]
    sandbox.sandbox.faults.add(
        FaultRule(
            template.kind,
            path="/activity/note/",
            method="POST",
            status=template.status,
            delay=template.delay,
            times=FAULTED,
        )
    )
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    outcomes: dict[str, list[str]] = {}
    texts: dict[str, str] = {}

    async def agent(base: str, n: int) -> None:
        async with remote_client(base, "mcp") as client:
            for i in range(WRITES_PER_SESSION):
                marker = f"fault {kind} {n}-{i}"
                outcomes[marker] = []
                while not outcomes[marker] or outcomes[marker][-1] == "error:WriteNotDone":
                    assert len(outcomes[marker]) <= FAULTED  # "safe to retry": the agent retries
                    result = await client.call_tool("create_note", {"lead_id": lead_id, "note": marker})
                    outcomes[marker].append(outcome(result))
                    texts[marker] = text_of(result)

    async with serving(sandbox, http_timeout=HTTP_TIMEOUT, wait_budget=5) as (base, _remote):
        with anyio.fail_after(40):  # 0 hung: every call of every session ends
            async with anyio.create_task_group() as tg:
                for n in range(SESSIONS):
                    tg.start_soon(agent, base, n)

    written = Counter(a.get("note") for a in store.activities.values() if a.get("lead_id") == lead_id)
    calls = Counter(o for seen in outcomes.values() for o in seen)
    assert len(outcomes) == SESSIONS * WRITES_PER_SESSION
    maybe = {m: texts[m] for m, seen in outcomes.items() if seen[-1] not in DONE}
    assert not maybe, f"'maybe' or failed outcomes: {maybe}"
    assert {m: written[m] for m in outcomes} == dict.fromkeys(outcomes, 1)  # 0 lost, 0 doubled
    assert sandbox.sandbox.faults.rules[0].fired == FAULTED  # the fault really met that many writes
    if kind in ("drop_after", "stall_2x_timeout"):  # written, answer lost: found out, not repeated
        assert calls == {"ok:reconciled": FAULTED, "ok": SESSIONS * WRITES_PER_SESSION - FAULTED}
    elif kind != "stall_under_timeout":  # refused before the write: "not done", and the retry wrote
        assert calls == {"error:WriteNotDone": FAULTED, "ok": SESSIONS * WRITES_PER_SESSION}
    else:  # slow but within the timeout, unless the machine is slower still: then found out
        assert set(calls) <= DONE


async def test_a_429_with_reset_0_is_no_request_loop(sandbox: RunningSandbox) -> None:
    """Close answers 429 with ``rate_reset: 0`` forever: the call pauses at least the floor between
    requests, sends at most the per-call cap, and ends (an error) within its deadline."""
    sandbox.sandbox.faults.add(FaultRule("rate_limit", path="/me/", reset=0, times=None))
    wait_budget = 3.0
    async with (
        serving(sandbox, wait_budget=wait_budget, http_timeout=2) as (base, _remote),
        remote_client(base, "mcp") as client,
    ):
        with anyio.fail_after(wait_budget + 2 + 5):
            result = await client.call_tool("get_current_user", {})
    sent = sandbox.sandbox.stats.count("GET", "/me/")
    assert result.is_error and "429" in text_of(result)
    # every pause is at least MIN_429_PAUSE, so the wait budget holds at most budget/floor + 1 requests
    assert 2 <= sent <= min(MAX_REQUESTS_PER_CALL, int(wait_budget / MIN_429_PAUSE) + 1)


async def test_abandoned_sessions_are_capped_longest_idle_first(sandbox: RunningSandbox) -> None:
    cap, opened = 40, 200
    config = RemoteConfig(max_sessions=cap)
    async with serving(sandbox, config) as (base, remote), httpx2.AsyncClient(base_url=base) as http:
        sessions = []
        with anyio.fail_after(60):
            for _ in range(opened):  # initialize, then walk away (no DELETE)
                response = await http.post("/mcp", json=INIT, headers=ACCEPT)
                assert response.status_code == 200
                sessions.append(response.headers["mcp-session-id"])
        manager = remote.app.server.session_manager
        assert len(manager._server_instances) == cap
        assert set(manager._server_instances) == set(sessions[-cap:])  # the newest are the ones kept
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}

        async def status(session: str) -> int:
            headers = {**ACCEPT, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
            return (await http.post("/mcp", json=ping, headers=headers)).status_code

        assert await status(sessions[0]) == 404 and await status(sessions[-1]) == 200


async def test_a_draining_server_refuses_new_calls_and_finishes_the_one_in_flight(
    sandbox: RunningSandbox,
) -> None:
    sandbox.sandbox.faults.add(FaultRule("latency", path="/me/", delay=2.0))
    proc, base = start_server(sandbox, stderr=subprocess.PIPE)
    slow: list[Any] = []
    refused: list[Any] = []
    try:
        await wait_until_serving(f"{base}/healthz")
        try:
            async with remote_client(base, "mcp") as client:

                async def slow_call() -> None:
                    slow.append(await client.call_tool("get_current_user", {}))

                async with anyio.create_task_group() as tg:
                    tg.start_soon(slow_call)
                    with anyio.fail_after(10):
                        while not sandbox.sandbox.stats.count("GET", "/me/"):
                            await anyio.sleep(0.01)
                        proc.send_signal(signal.SIGTERM)
                        while not refused:  # the signal is handled asynchronously: poll until it is
                            result = await client.call_tool("list_pipelines", {})
                            if result.is_error:
                                refused.append(result)
                            else:
                                await anyio.sleep(0.05)
        except BaseExceptionGroup:
            pass  # the client's teardown cannot reach the server that has now stopped
        assert slow and not slow[0].is_error  # the call in flight finished
        assert outcome(refused[0]) == "refused:draining"
        assert "shutting down" in text_of(refused[0]) and "nothing changed" in text_of(refused[0])
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=20)
        proc.stderr.close()


# ----- bad input never becomes a bug -------------------------------------------------------------
async def test_an_oversized_chunked_body_is_413_not_a_traceback(sandbox: RunningSandbox, caplog) -> None:
    async with (
        serving(sandbox, RemoteConfig(max_body_bytes=2000)) as (base, _remote),
        httpx2.AsyncClient(base_url=base) as http,
    ):

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
            yield b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}}'

        response = await http.post(
            "/mcp", content=chunks(), headers={**ACCEPT, "content-type": "application/json"}
        )
        assert response.status_code == 413
        small = await http.post(
            "/mcp", content=_one(INIT), headers={**ACCEPT, "content-type": "application/json"}
        )
        assert small.status_code == 200  # a chunked body within the limit still reaches the server
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelname == "ERROR"]


async def _one(message: dict[str, Any]) -> AsyncIterator[bytes]:
    yield json.dumps(message).encode()


def _stdio(lines: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "close_mcp", "--sandbox", "--toolsets", "all"],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"]},
    )


STDIO_INIT = json.dumps(INIT)


def test_malformed_stdio_lines_are_answered_and_logged() -> None:
    done = _stdio(["this is not json", "[1, 2]", STDIO_INIT])
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r.get("error", {}).get("code") for r in replies[:2]] == [-32700, -32600]
    assert replies[0]["id"] is None and replies[2]["id"] == 1 and "result" in replies[2]
    assert done.stderr.count("answered a malformed line") == 2


def test_stdin_closed_during_calls_ends_cleanly() -> None:
    calls = [json.dumps(tool_call(n, "list_activities", {"max_items": 1000})) for n in range(2, 6)]
    done = _stdio([STDIO_INIT, json.dumps(INITIALIZED), *calls])
    assert done.returncode == 0
    assert "Traceback" not in done.stderr and "CancelledError" not in done.stderr


# ----- a client that goes away mid-call ---------------------------------------------------------
async def _call_and_walk_away(base: str, name: str, arguments: dict[str, Any]) -> None:
    """Open a session, send one tools/call over streamable HTTP and disconnect before its answer."""
    async with httpx2.AsyncClient(base_url=base) as http:
        headers = await open_raw_session(http)
        call = tool_call(5, name, arguments)
        with pytest.raises(httpx2.ReadTimeout):
            await http.post("/mcp", json=call, headers=headers, timeout=0.5)


async def test_a_read_whose_client_went_away_is_cancelled(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.faults.add(FaultRule("latency", path="/me/", delay=20.0))  # far longer than we wait
    async with serving(sandbox) as (base, remote):
        await _call_and_walk_away(base, "get_current_user", {})
        with anyio.fail_after(10):  # the call ends long before Close would have answered
            while remote.app.tracker.active:
                await anyio.sleep(0.05)
    sandbox.sandbox.faults.clear()


async def test_a_write_whose_client_went_away_still_finishes(sandbox: RunningSandbox) -> None:
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    sandbox.sandbox.faults.add(FaultRule("latency", path="/activity/note/", method="POST", delay=1.5))
    async with serving(sandbox) as (base, remote):
        await _call_and_walk_away(base, "create_note", {"lead_id": lead_id, "note": "marker-walked-away"})
        assert remote.app.tracker.active == 1  # still running without its client
        with anyio.fail_after(10):
            while remote.app.tracker.active:
                await anyio.sleep(0.05)
    assert [a["note"] for a in store.activities.values() if a.get("note") == "marker-walked-away"] == [
        "marker-walked-away"
    ]
