"""The remote server for real: uvicorn on loopback, SDK streamable-HTTP and SSE clients, against the sandbox."""

from __future__ import annotations

import logging
import subprocess
import sys

import httpx2
import pytest
from conftest import SPECS, payload, text_of
from remote_helpers import remote_client, remote_server

from bench.remote_load import ACCEPT, INIT, start_server
from close_mcp.http_app import RemoteConfig, hash_token, parse_tokens
from close_mcp.sandbox import SandboxConfig, run_sandbox
from close_mcp.settings_error import SettingsError

pytestmark = pytest.mark.anyio
TOKEN = "agent-token-0123456789abcdef"


@pytest.mark.parametrize("transport,stateless", [("mcp", False), ("mcp", True), ("sse", False)])
async def test_list_read_and_write_on_each_transport(sandbox, transport, stateless):
    config = RemoteConfig(stateless=stateless, tokens=parse_tokens(f"alice:{TOKEN}", None))
    async with (
        remote_server(sandbox, config) as base,
        remote_client(base, transport, {"Authorization": f"Bearer {TOKEN}"}) as client,
    ):
        tools = (await client.list_tools()).tools
        assert len(tools) == len(SPECS)
        read = await client.call_tool("list_leads", {"limit": 2})
        assert not read.is_error and payload(read)["count"] == 2
        lead_id = payload(read)["items"][0]["id"]
        write = await client.call_tool("create_task", {"lead_id": lead_id, "text": f"via {transport}"})
        assert not write.is_error
        assert sandbox.sandbox.store().tasks[payload(write)["id"]]["text"] == f"via {transport}"


async def test_missing_or_wrong_token_is_401_and_nothing_reaches_close(sandbox):
    config = RemoteConfig(tokens=parse_tokens(f"alice:{TOKEN}", None))
    async with remote_server(sandbox, config) as base, httpx2.AsyncClient(base_url=base) as http:
        before = len(sandbox.sandbox.stats.requests)
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-0000000000"},
            {"Authorization": f"Basic {TOKEN}"},
        ):
            for method, path in (("POST", "/mcp"), ("GET", "/sse"), ("POST", "/messages/?session_id=x")):
                r = await http.request(method, path, json=INIT, headers={**ACCEPT, **headers})
                assert r.status_code == 401, (method, path, headers)
                assert r.headers["www-authenticate"].startswith("Bearer")
        assert (await http.get("/healthz")).json()["status"] == "ok"  # no auth, no upstream call
        assert len(sandbox.sandbox.stats.requests) == before


async def test_bad_host_or_origin_is_refused(sandbox):
    async with remote_server(sandbox) as base, httpx2.AsyncClient(base_url=base) as http:
        r = await http.post("/mcp", json=INIT, headers={**ACCEPT, "Host": "evil.example"})
        assert r.status_code == 421
        r = await http.post("/mcp", json=INIT, headers={**ACCEPT, "Origin": "http://evil.example"})
        assert r.status_code == 403
        r = await http.post("/mcp", json=INIT, headers={**ACCEPT, "Origin": "http://localhost:3000"})
        assert r.status_code == 200


async def test_allowed_hosts_extend_the_allow_list(sandbox):
    config = RemoteConfig(allowed_hosts=["mcp.example.com"])
    async with remote_server(sandbox, config) as base, httpx2.AsyncClient(base_url=base) as http:
        r = await http.post("/mcp", json=INIT, headers={**ACCEPT, "Host": "mcp.example.com"})
        assert r.status_code == 200


def test_non_loopback_without_tokens_refuses_to_start():
    with pytest.raises(SettingsError, match=r"refusing to listen on 0\.0\.0\.0"):
        RemoteConfig(host="0.0.0.0").validate()
    RemoteConfig(host="0.0.0.0", tokens={"x" * 64: "a"}).validate()
    proc = subprocess.run(
        [sys.executable, "-m", "close_mcp", "serve", "--host", "0.0.0.0", "--sandbox"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "refusing" in proc.stderr


def test_tokens_file_is_validated_with_line_numbers(tmp_path):
    good = tmp_path / "tokens"
    good.write_text(f"# agents\nalice {hash_token(TOKEN)}\n")
    assert list(parse_tokens(None, good).values()) == ["alice"]
    bad = tmp_path / "bad"
    bad.write_text(f"alice {hash_token(TOKEN)}\nbob plaintext-token\n")
    with pytest.raises(SettingsError, match=r"bad:2: expected"):
        parse_tokens(None, bad)
    with pytest.raises(SettingsError, match="at least 16"):
        parse_tokens("short", None)


async def test_per_client_close_keys_see_only_their_own_data(caplog):
    caplog.set_level(logging.DEBUG)
    async with run_sandbox(SandboxConfig(leads=6, organizations=2)) as sb:
        key_a, key_b = sb.sandbox.key_for_org(0), sb.sandbox.key_for_org(1)
        async with (
            remote_server(sb, server_key=False) as base,
            remote_client(base, "mcp", {"Close-API-Key": key_a}) as a,
            remote_client(base, "sse", {"Close-API-Key": key_b}) as b,
        ):
            made = await a.call_tool("create_lead", {"name": "Tenant A Secret Co"})
            assert not made.is_error
            lead_id = payload(made)["id"]
            ids_b = {i["id"] for i in payload(await b.call_tool("list_leads", {"limit": 50}))["items"]}
            assert lead_id not in ids_b
            seen = await b.call_tool("get_lead", {"lead_id": lead_id})
            assert seen.is_error and "404" in text_of(seen)
            me_a = payload(await a.call_tool("get_current_user", {}))["organizations"][0]["id"]
            me_b = payload(await b.call_tool("get_current_user", {}))["organizations"][0]["id"]
            assert me_a != me_b
        async with remote_server(sb, server_key=False) as base, remote_client(base, "mcp") as anon:
            missing = await anon.call_tool("get_current_user", {})
            assert missing.is_error and "Close-API-Key" in text_of(missing)
    assert key_a not in caplog.text and key_b not in caplog.text


async def test_request_body_limit(sandbox):
    async with (
        remote_server(sandbox, RemoteConfig(max_body_bytes=2000)) as base,
        httpx2.AsyncClient(base_url=base) as http,
    ):
        big = {**INIT, "params": {**INIT["params"], "pad": "x" * 5000}}
        assert (await http.post("/mcp", json=big, headers=ACCEPT)).status_code == 413
        assert (await http.post("/messages/?session_id=00", json=big, headers=ACCEPT)).status_code == 413


async def test_modern_protocol_era_over_streamable_http(sandbox):
    import httpx2 as _httpx
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with (
        remote_server(sandbox) as base,
        _httpx.AsyncClient() as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="auto") as client,
    ):
        assert client.protocol_version != "2025-11-25"
        result = await client.call_tool("get_current_user", {})
        assert not result.is_error and payload(result)["id"].startswith("user_")


async def test_idle_sessions_expire(sandbox):
    import anyio

    async with (
        remote_server(sandbox, RemoteConfig(session_idle_timeout=0.5)) as base,
        httpx2.AsyncClient(base_url=base) as http,
    ):
        r = await http.post("/mcp", json=INIT, headers=ACCEPT)
        session = r.headers["mcp-session-id"]
        headers = {**ACCEPT, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        assert (await http.post("/mcp", json=ping, headers=headers)).status_code == 200  # alive while used
        with anyio.fail_after(10):  # then idle (each probe comes after more than the 0.5 s timeout)
            while (await http.post("/mcp", json=ping, headers=headers)).status_code != 404:
                await anyio.sleep(0.6)


async def test_graceful_shutdown_lets_in_flight_calls_finish(sandbox):
    """SIGTERM to `close-mcp serve` while a slow call is in flight: the call completes."""
    import signal

    import anyio

    from close_mcp.sandbox import FaultRule
    from close_mcp.uvicorn_runner import wait_until_serving

    sandbox.sandbox.faults.add(FaultRule("latency", path="/me/", delay=1.5))
    proc, base = start_server(sandbox, stderr=subprocess.PIPE)
    try:
        await wait_until_serving(f"{base}/healthz")
        results = []
        try:
            async with remote_client(base, "mcp") as client:

                async def slow_call() -> None:
                    try:
                        results.append(await client.call_tool("get_current_user", {}))
                    except BaseException as exc:
                        results.append(exc)
                        raise

                async with anyio.create_task_group() as tg:
                    tg.start_soon(slow_call)
                    with anyio.fail_after(10):  # signal only once the call is in flight upstream
                        while not sandbox.sandbox.stats.count("GET", "/me/"):
                            await anyio.sleep(0.01)
                    proc.send_signal(signal.SIGTERM)
        except BaseExceptionGroup as group:
            teardown = group  # the client's session teardown cannot reach the server that has now stopped
        else:
            teardown = None
        assert results and not isinstance(results[0], BaseException), (
            f"the in-flight call was cut: {results!r} {teardown!r}"
        )
        assert not results[0].is_error
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        proc.wait(timeout=20)
        proc.stderr.close()
