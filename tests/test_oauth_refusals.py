"""Each way a sign-in or a token can be wrong is refused with the OAuth error RFC 6749 / the MCP
authorization spec name, and nothing reaches the sandbox's data routes."""

from __future__ import annotations

import time

import anyio
import httpx2
import pytest
from oauth_helpers import REDIRECT_URI, HandClient, Person, mcp_status, oauth_server, pkce, query_of

from close_mcp.shared_store import MemoryStore

pytestmark = pytest.mark.anyio


def data_requests(sandbox) -> int:
    return len(sandbox.sandbox.stats.requests)


@pytest.mark.parametrize("who", ["ours", "close"])
async def test_refused_consent_redirects_access_denied_with_state(sandbox, tmp_path, who):
    async with oauth_server(sandbox, tmp_path / "g.json") as remote:
        before = data_requests(sandbox)
        client = await HandClient.register(remote.config.base_url)
        _verifier, challenge = pkce()
        person = Person(**{who: "deny"})
        landed = query_of(await person.sign_in(client.authorize_url(challenge, state="keep-me")))
        assert landed == {"error": "access_denied", "state": "keep-me"}
        assert sandbox.sandbox.oauth.grants["authorization_code"] == 0
        assert data_requests(sandbox) == before


async def test_wrong_verifier_and_reused_code_are_invalid_grant(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "g.json") as remote:
        before = data_requests(sandbox)
        client = await HandClient.register(remote.config.base_url)
        code, verifier = await client.code()
        wrong = await client.exchange(code, pkce()[0])
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        assert "code_verifier" in wrong.json()["error_description"]
        first = await client.exchange(code, verifier)
        assert first.status_code == 200 and first.json()["access_token"].startswith("cmcp_at_")
        again = await client.exchange(code, verifier)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        assert data_requests(sandbox) == before


async def test_mismatched_redirect_uri_is_refused_at_authorize_and_at_token(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "g.json") as remote:
        before = data_requests(sandbox)
        client = await HandClient.register(remote.config.base_url)
        _verifier, challenge = pkce()
        stranger = HandClient(client.base, client.client_id, REDIRECT_URI + "/evil")
        async with httpx2.AsyncClient() as http:
            refused = await http.get(stranger.authorize_url(challenge))
        # Never redirected to an unregistered URI (RFC 6749 §4.1.2.1): an error to the person instead.
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
        assert "location" not in refused.headers
        code, verifier = await client.code()
        swapped = await client.exchange(code, verifier, redirect_uri=REDIRECT_URI + "/other")
        assert swapped.status_code == 400 and swapped.json()["error"] == "invalid_request"
        assert "redirect_uri" in swapped.json()["error_description"]
        assert data_requests(sandbox) == before


async def test_plain_pkce_and_a_missing_challenge_are_refused(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "g.json") as remote:
        client = await HandClient.register(remote.config.base_url)
        async with httpx2.AsyncClient() as http:
            plain = await http.get(client.authorize_url("x" * 43, code_challenge_method="plain"))
            none = await http.get(client.authorize_url("").replace("code_challenge=&", ""))
        for response in (plain, none):
            assert response.status_code == 302
            assert query_of(response.headers["location"])["error"] == "invalid_request"


async def test_expired_and_foreign_tokens_get_401_naming_the_resource_metadata(sandbox, tmp_path):
    store = MemoryStore()
    key = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE="  # one Fernet key for both servers
    async with (
        oauth_server(sandbox, tmp_path / "a.json", oauth_key=key, shared=store) as remote,
        oauth_server(sandbox, tmp_path / "b.json", oauth_key=key, shared=store) as other,
    ):
        base = remote.config.base_url
        good = await (await HandClient.register(base)).access_token()
        assert (await mcp_status(base, good)).status_code == 200
        before = data_requests(sandbox)
        # Issued by another close-mcp (same store, another resource): not for this server.
        foreign = await (await HandClient.register(other.config.base_url)).access_token()
        assert (await mcp_status(other.config.base_url, foreign)).status_code == 200
        remote.config.oauth.provider.access_seconds = 1  # the next token lives a second
        expires_at = int(time.time()) + 1
        short = await (await HandClient.register(base)).access_token()
        with anyio.fail_after(10):
            while time.time() <= expires_at + 1:  # past its expiry, whole seconds as in the token
                await anyio.sleep(0.05)
        for token in ("cmcp_at_made-up", foreign, short):
            response = await mcp_status(base, token)
            assert response.status_code == 401, token
            challenge = response.headers["www-authenticate"]
            assert 'error="invalid_token"' in challenge
            assert f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"' in challenge
        assert data_requests(sandbox) == before
