"""A refused credential (401) is answered with what to fix *for where it came from*: the server's own
CLOSE_API_KEY / CLOSE_ACCESS_TOKEN (fix the configuration, restart close-mcp) or a remote client's
Close-API-Key / Close-Access-Token header (fix the client; the server needs no change)."""

from __future__ import annotations

import pytest
from conftest import SPECS, connect, settings_for_tests, text_of
from mcp import Client
from remote_helpers import remote_client, remote_server

from close_mcp.app import Upstream, open_local_app
from close_mcp.credentials import Credential

pytestmark = pytest.mark.anyio
WRONG = "api_wrong_0123456789abcdef"


@pytest.mark.parametrize(
    "header,says",
    [
        ("Close-API-Key", "Close API key this MCP client sent in its Close-API-Key header"),
        ("Close-Access-Token", "OAuth access token this MCP client sent in its Close-Access-Token header"),
    ],
)
async def test_a_clients_wrong_header_is_the_clients_to_fix(sandbox, header, says):
    async with (
        remote_server(sandbox, server_key=False) as base,
        remote_client(base, "mcp", {header: WRONG}) as client,
    ):
        result = await client.call_tool("list_leads", {"limit": 1})
    text = text_of(result)
    assert result.is_error and "401" in text and says in text and header in text
    assert "needs no change" in text and "restart" not in text and WRONG not in text


async def test_a_client_header_wins_over_the_servers_key_and_is_named(sandbox):
    """The server has a good key, the client sends a bad one: the client is told about its header."""
    async with remote_server(sandbox) as base, remote_client(base, "sse", {"Close-API-Key": WRONG}) as client:
        result = await client.call_tool("list_leads", {"limit": 1})
    assert result.is_error and "Close-API-Key header" in text_of(result)


async def test_the_servers_wrong_key_is_the_operators_to_fix(sandbox):
    async with connect(sandbox, key=WRONG) as client:
        result = await client.call_tool("list_leads", {"limit": 1})
    text = text_of(result)
    assert result.is_error and "API key close-mcp was started with" in text
    assert "CLOSE_API_KEY" in text and "restart close-mcp" in text and "header" not in text


async def test_the_servers_wrong_oauth_token_says_refresh_it(sandbox):
    settings = settings_for_tests(sandbox=True)
    upstream = Upstream(sandbox.base_url, Credential(WRONG, "oauth"))
    async with (
        open_local_app(settings, upstream, specs=SPECS) as app,
        Client(app.server, mode="legacy") as client,
    ):
        result = await client.call_tool("list_leads", {"limit": 1})
    text = text_of(result)
    assert (
        result.is_error
        and "CLOSE_ACCESS_TOKEN" in text
        and "OAuth access token close-mcp was started with" in text
    )


async def test_results_name_their_outcome_in_meta(sandbox):
    async with connect(sandbox) as client:
        ok = await client.call_tool("list_leads", {"limit": 1})
        bad = await client.call_tool("list_leads", {"limit": 0})
    assert ok.meta == {"close-mcp/outcome": "ok"} and bad.meta == {"close-mcp/outcome": "invalid"}
