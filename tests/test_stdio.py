"""`close-mcp --sandbox` as a real stdio subprocess, driven by the SDK's stdio client."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import SPECS, payload, text_of
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio


async def test_stdio_subprocess_sandbox():
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "close_mcp", "--sandbox"],
        env={"PATH": os.environ.get("PATH", "")},
    )
    async with Client(params, mode="legacy") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        # the default toolset: the daily tools, plus the discovery tools that reach the rest
        assert set(tools) == {s.name for s in SPECS if s.default} | {
            "find_tools",
            "enable_tools",
            "call_tool",
        }
        assert tools["list_leads"].annotations.read_only_hint is True
        assert tools["call_tool"].annotations.destructive_hint is True
        assert not tools["create_lead"].annotations.read_only_hint  # absent: false, the MCP default
        assert all(  # absent: true, the MCP default
            t.annotations.open_world_hint is not False
            for n, t in tools.items()
            if n not in ("find_tools", "enable_tools")
        )
        read = await client.call_tool("list_leads", {"query": "Logistics", "limit": 2})
        assert not read.is_error and payload(read)["count"] == 2
        write = await client.call_tool(
            "create_note", {"lead_id": payload(read)["items"][0]["id"], "note": "from stdio"}
        )
        assert not write.is_error and payload(write)["id"].startswith("acti_")
        bad = await client.call_tool("get_lead", {"lead_id": "../x"})
        assert bad.is_error and "lead_id" in text_of(bad)


def test_missing_credentials_is_one_line_not_a_traceback():
    env = {"PATH": os.environ.get("PATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "close_mcp"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        proc.stderr.strip().count("\n") == 0
        and "CLOSE_API_KEY" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def test_tools_command_prints_the_table():
    proc = subprocess.run(
        [sys.executable, "-m", "close_mcp", "tools"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    assert all(s.name in proc.stdout for s in SPECS)


def test_sandbox_cli_prints_its_url_and_configured_keys():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "close_mcp",
            "sandbox",
            "--port",
            "0",
            "--leads",
            "5",
            "--api-key",
            "key_alpha_0001",
            "--api-key",
            "key_beta_0002",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = proc.stdout.readline().split()[-1]
        keys = proc.stdout.readline()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v1")
        assert "key_alpha_0001" in keys and "key_beta_0002" in keys
        import httpx2

        for key in ("key_alpha_0001", "key_beta_0002"):
            assert httpx2.get(f"{url}/me/", auth=(key, "")).status_code == 200
        assert httpx2.get(f"{url}/me/", auth=("sandbox_demo_api_key", "")).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
