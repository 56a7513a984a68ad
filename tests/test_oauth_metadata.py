"""What an MCP host discovers: Protected Resource Metadata (RFC 9728) and the 401 that names it, in
the bearer-token mode and with ``--oauth``; the authorization server's metadata (RFC 8414) and its
registration (RFC 7591) rules."""

from __future__ import annotations

import httpx2
import pytest
from oauth_helpers import HandClient, oauth_server, pkce, query_of
from remote_helpers import remote_server

from close_mcp.access import SCOPES
from close_mcp.http_app import RemoteConfig, parse_tokens

pytestmark = pytest.mark.anyio
TOKEN = "t" * 32


async def test_bearer_mode_publishes_resource_metadata_and_names_it_in_every_401(sandbox):
    config = RemoteConfig(tokens=parse_tokens(f"alice:{TOKEN}", None))
    async with remote_server(sandbox, config) as base, httpx2.AsyncClient(base_url=base) as http:
        for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
            metadata = (await http.get(path)).json()
            assert metadata["resource"] == f"{base}/mcp" and metadata["bearer_methods_supported"] == [
                "header"
            ]
        for method, path in (("POST", "/mcp"), ("GET", "/sse"), ("POST", "/messages/?session_id=x")):
            response = await http.request(method, path, json={})
            assert response.status_code == 401, path
            challenge = response.headers["www-authenticate"]
            assert f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"' in challenge, path


async def test_oauth_mode_metadata_names_the_scopes_pkce_s256_registration_and_revocation(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "g.json") as remote, httpx2.AsyncClient() as http:
        base = remote.config.base_url
        prm = (await http.get(f"{base}/.well-known/oauth-protected-resource/mcp")).json()
        assert prm["authorization_servers"] == [base] and prm["scopes_supported"] == list(SCOPES)
        asm = (await http.get(f"{base}/.well-known/oauth-authorization-server")).json()
        assert asm["issuer"] == base
        assert asm["code_challenge_methods_supported"] == ["S256"]
        assert asm["scopes_supported"] == list(SCOPES)
        assert asm["response_types_supported"] == ["code"]
        for endpoint in ("authorization", "token", "registration", "revocation"):
            assert asm[f"{endpoint}_endpoint"].startswith(base)
        for path in ("/sse", "/mcp"):
            challenge = (await http.request("GET" if path == "/sse" else "POST", base + path)).headers
            assert "resource_metadata=" in challenge["www-authenticate"]


async def test_registration_refuses_unknown_scopes(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "g.json") as remote, httpx2.AsyncClient() as http:
        response = await http.post(
            f"{remote.config.base_url}/register",
            json={"redirect_uris": ["http://127.0.0.1:9/cb"], "scope": "read admin"},
        )
        assert response.status_code == 400 and response.json()["error"] == "invalid_client_metadata"
        assert "admin" in response.json()["error_description"]


async def test_a_token_asked_for_another_resource_is_invalid_target(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "g.json") as remote, httpx2.AsyncClient() as http:
        client = await HandClient.register(remote.config.base_url)
        _verifier, challenge = pkce()
        url = client.authorize_url(challenge).replace("%2Fmcp", "%2Fother")
        response = await http.get(url)
        assert response.status_code == 302
        assert query_of(response.headers["location"])["error"] == "invalid_target"
        assert query_of(response.headers["location"])["state"] == "st-1"


async def test_consent_and_callback_without_a_live_sign_in_say_start_again(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "g.json") as remote, httpx2.AsyncClient() as http:
        base = remote.config.base_url
        for response in (
            await http.get(f"{base}/oauth/consent?flow=nope"),
            await http.post(f"{base}/oauth/consent", data={"flow": "nope", "decision": "allow"}),
            await http.get(f"{base}/oauth/callback?code=x&state=nope"),
        ):
            assert response.status_code == 400 and "Start again from your MCP host" in response.text
