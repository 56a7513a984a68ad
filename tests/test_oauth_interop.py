"""Sign in with Close from a client written by others: the official TypeScript SDK's OAuth client
(tests/interop/oauth_client.mjs) discovers, registers, authorizes with PKCE, and calls tools."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import anyio
import pytest
from npm_helpers import npm_ci_once
from oauth_helpers import oauth_server

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None, reason="needs Node.js"),
]
INTEROP = Path(__file__).parent / "interop"


@pytest.fixture(scope="module")
def ts_oauth_client() -> Path:
    npm_ci_once(INTEROP, INTEROP / "node_modules" / "@modelcontextprotocol" / "sdk")
    return INTEROP / "oauth_client.mjs"


async def test_typescript_sdk_signs_in_with_close(ts_oauth_client, sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        result = await anyio.run_process(
            ["node", str(ts_oauth_client), remote.config.resource_url, "read"], check=False
        )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    summary = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert summary["unauthorized"] is True  # it started from the 401 and its resource_metadata
    assert summary["pages"] == ["/oauth/consent", "/oauth2/authorize/"]
    assert summary["scope"] == "read" and summary["tokenPrefix"] == "cmcp_at_"
    assert summary["allReadOnly"] is True and summary["tools"] > 0
    assert summary["leads"] == 2 and summary["leadError"] is False
    assert sandbox.sandbox.oauth.grants["authorization_code"] == 1
