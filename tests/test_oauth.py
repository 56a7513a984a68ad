"""Sign in with Close, end to end on loopback: the MCP SDK's OAuth client registers, a person
(a real HTTP client) allows both consent pages, and tool calls run with the user's Close token."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from conftest import text_of
from oauth_helpers import Person, oauth_server, signed_in_client

pytestmark = pytest.mark.anyio


async def test_sdk_client_signs_in_with_close_and_calls_tools(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        person = Person()
        async with signed_in_client(remote.config.base_url, person) as client:
            result = await client.call_tool("list_leads", {"limit": 2})
            assert not result.is_error, text_of(result)
        assert [urlsplit(p).path for p in person.pages] == ["/oauth/consent", "/oauth2/authorize/"]
        assert sandbox.sandbox.oauth.grants["authorization_code"] == 1
