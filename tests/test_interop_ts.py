"""Interoperability with an MCP client written by others: the official TypeScript SDK (tests/interop),
over stdio, streamable HTTP and SSE. It reads results in the default form (JSON text) as a TS host would."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import anyio
import pytest
from conftest import SPECS
from npm_helpers import npm_ci_once
from remote_helpers import remote_server

from close_mcp.http_app import RemoteConfig

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        shutil.which("node") is None or shutil.which("npm") is None,
        reason="Node.js is needed for the TypeScript client",
    ),
]
INTEROP = Path(__file__).parent / "interop"


@pytest.fixture(scope="session")
def ts_client() -> Path:
    npm_ci_once(INTEROP, INTEROP / "node_modules" / "@modelcontextprotocol" / "sdk")
    return INTEROP / "client.mjs"


def _check(summary: dict, sandbox) -> None:
    assert summary["server"]["name"] == "close-mcp" and summary["tools"] == len(SPECS)
    assert summary["readOnly"] is True and summary["destructive"] is True
    assert summary["pageCount"] == 3 and not set(summary["firstIds"]) & set(summary["nextIds"])
    assert not summary["noteError"] and summary["noteId"] in sandbox.sandbox.store().activities
    assert summary["badError"] and "lead_id" in summary["badText"]
    _check_protocol(summary, sandbox)


def _check_protocol(summary: dict, sandbox) -> None:
    """Resources, prompts, completions and logging as the TypeScript SDK sees them."""
    store = sandbox.sandbox.store()
    assert {"completions", "logging", "prompts", "resources", "tools"} <= set(summary["capabilities"])
    assert "close://schema/pipelines" in summary["resourceUris"] and summary["templateCount"] >= 1
    assert all(p["name"] in summary["pipelinesText"] for p in store.pipelines.values())
    assert "find_leads" in summary["promptNames"] and "search_leads" in summary["promptText"]
    assert summary["statusValues"] == ["Qualified"] and summary["fieldValues"] == ["Industry"]
    industry = next(cf for cf in store.custom_fields["lead"].values() if cf["name"] == "Industry")
    assert summary["choiceValues"] == [c for c in industry["choices"] if c.lower().startswith("s")]
    assert summary["userValues"] == ["Dana Whitfield"] and summary["loggingSet"]


async def test_typescript_client_over_stdio(ts_client, sandbox):
    env = {
        **os.environ,
        "CLOSE_API_KEY": sandbox.api_key,
        "CLOSE_API_BASE_URL": sandbox.base_url,
        "CLOSE_MCP_SCOPE": "write_destructive",
        "CLOSE_MCP_TOOLSETS": "all",
    }
    result = await anyio.run_process(
        ["node", str(ts_client), "stdio", sys.executable, "-m", "close_mcp"], env=env, check=False
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    _check(json.loads(result.stdout.decode().strip().splitlines()[-1]), sandbox)


@pytest.mark.parametrize(
    "kind,path,stateless", [("http", "/mcp", False), ("http", "/mcp", True), ("sse", "/sse", False)]
)
async def test_typescript_client_over_http(ts_client, sandbox, kind, path, stateless):
    async with remote_server(sandbox, RemoteConfig(stateless=stateless)) as base:
        result = await anyio.run_process(["node", str(ts_client), kind, base + path], check=False)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    _check(json.loads(result.stdout.decode().strip().splitlines()[-1]), sandbox)
