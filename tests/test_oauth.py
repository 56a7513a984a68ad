"""Sign in with Close, end to end on loopback: the MCP SDK's OAuth client registers, a person
(a real HTTP client) allows both consent pages (close-mcp's and the sandbox's Close page), and tool
calls run with the user's Close token, which close-mcp keeps alive without the client noticing."""

from __future__ import annotations

from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from conftest import payload, text_of
from mcp.shared.exceptions import MCPError
from oauth_helpers import HandClient, MemoryTokens, Person, mcp_status, oauth_server, signed_in_client
from remote_helpers import remote_client

from close_mcp.access import scope_allows
from close_mcp.sandbox.faults import FaultRule
from close_mcp.shared_store import MemoryStore

pytestmark = pytest.mark.anyio


def close_tokens(sandbox) -> set[str]:
    return {k for k, c in sandbox.sandbox.credentials.items() if c.expires_at is not None}


async def test_sdk_client_signs_in_with_close_and_calls_tools(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        person, storage = Person(), MemoryTokens()
        async with signed_in_client(remote.config.base_url, person, storage) as client:
            result = await client.call_tool("list_leads", {"limit": 2})
            assert not result.is_error, text_of(result)
            assert payload(result) and payload(result)["items"]
        assert [urlsplit(p).path for p in person.pages] == ["/oauth/consent", "/oauth2/authorize/"]
        assert sandbox.sandbox.oauth.grants["authorization_code"] == 1
        # The data came with the Close token close-mcp got; the MCP client only holds its own token.
        last = sandbox.sandbox.stats.requests[-1]
        assert last["path"].startswith("/lead/") and last["status"] == 200
        assert storage.tokens is not None and storage.tokens.access_token.startswith("cmcp_at_")
        assert storage.tokens.access_token not in sandbox.sandbox.credentials
        assert storage.tokens.refresh_token not in sandbox.sandbox.oauth.refresh_tokens
        assert len(close_tokens(sandbox)) == 1


async def test_close_token_expiring_mid_session_is_refreshed_once_for_racing_calls(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        async with signed_in_client(remote.config.base_url) as client:
            assert not (await client.call_tool("list_leads", {"limit": 1})).is_error
            old = close_tokens(sandbox)
            sandbox.sandbox.oauth.expire_now()  # Close's hour is over: its data routes answer 401
            results: list = []

            async def call() -> None:
                results.append(await client.call_tool("list_leads", {"limit": 1}))

            async with anyio.create_task_group() as tg:
                for _ in range(6):
                    tg.start_soon(call)
        assert [r.is_error for r in results] == [False] * 6, [text_of(r) for r in results if r.is_error]
        assert sandbox.sandbox.oauth.grants["refresh_token"] == 1  # one refresh for six calls
        assert remote.config.oauth.tokens.refreshes == 1
        assert close_tokens(sandbox) - old  # a new Close token was issued and used


async def test_close_token_is_refreshed_before_it_expires(sandbox, tmp_path):
    sandbox.sandbox.oauth.token_lifetime = 4  # Close tokens live four seconds
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        storage = MemoryTokens()
        async with signed_in_client(remote.config.base_url, storage=storage) as client:
            assert not (await client.call_tool("list_leads", {"limit": 1})).is_error
            assert storage.tokens is not None
            grant_id = await grant_of(remote, storage.tokens.access_token)
            with anyio.fail_after(10):  # until the token is in its last second: due for a refresh
                while not await due(remote, grant_id):
                    await anyio.sleep(0.05)
            assert not (await client.call_tool("list_leads", {"limit": 1})).is_error
        assert sandbox.sandbox.oauth.grants["refresh_token"] == 1
        assert sandbox.sandbox.stats.statuses[401] == 0  # refreshed ahead: Close never refused it


async def grant_of(remote, token: str) -> str:
    access = await remote.config.oauth.provider.load_access_token(token)
    assert access is not None and access.claims
    return str(access.claims["grant"])


async def due(remote, grant_id: str) -> bool:
    from close_mcp.oauth.close_app import CloseTokenSet

    grant = await remote.config.oauth.tokens.grant(grant_id)
    return CloseTokenSet(**grant["close"]).due()


async def test_a_refresh_close_refuses_ends_the_session_with_sign_in_again(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        base = remote.config.base_url
        storage = MemoryTokens()
        person = Person()
        async with signed_in_client(base, person, storage) as client:
            assert not (await client.call_tool("list_leads", {"limit": 1})).is_error
            assert storage.tokens is not None
            ended = storage.tokens.access_token
            sandbox.sandbox.oauth.refresh_tokens.clear()  # the user revoked the app in Close
            sandbox.sandbox.oauth.expire_now()
            result = await client.call_tool("list_leads", {"limit": 1})
            assert result.is_error and "sign in again" in text_of(result)
            response = await mcp_status(base, ended)
            assert (
                response.status_code == 401 and "resource_metadata=" in response.headers["www-authenticate"]
            )
            # The SDK's client, answered 401, signs in again (the person allows it) and goes on.
            assert not (await client.call_tool("list_leads", {"limit": 1})).is_error
        assert storage.tokens.access_token != ended
        assert len(person.pages) == 4  # both consent pages, twice


async def test_a_read_grant_lists_only_read_tools_and_refuses_a_write(sandbox, tmp_path):
    # The SDK's client asks for every scope the metadata lists; the person grants only read.
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        person = Person(scope="read")
        async with signed_in_client(remote.config.base_url, person) as client:
            tools = (await client.list_tools()).tools
            assert tools and all(t.annotations and t.annotations.read_only_hint for t in tools)
            specs = {s.name: s for s in remote.app.specs}
            assert {t.name for t in tools} == {n for n, s in specs.items() if scope_allows("read", s.access)}
            before = len(sandbox.sandbox.stats.requests)
            # 403 insufficient_scope: the client steps up once, the person grants read again, refused.
            with pytest.raises(MCPError):
                await client.call_tool("create_task", {"lead_id": "lead_x", "text": "call back"})
            assert len(person.pages) == 4
            assert len(sandbox.sandbox.stats.requests) == before


async def test_a_write_beyond_the_grant_is_a_403_scope_challenge(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        base = remote.config.base_url
        token = await (await HandClient.register(base)).access_token(scope="read")
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "delete_task", "arguments": {}},
        }
        async with httpx2.AsyncClient() as http:
            response = await http.post(
                f"{base}/mcp",
                json=call,
                headers={"authorization": f"Bearer {token}", "accept": "application/json, text/event-stream"},
            )
        assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
        challenge = response.headers["www-authenticate"]
        assert (
            'error="insufficient_scope"' in challenge
            and 'scope="read write_safe write_destructive"' in challenge
        )
        assert f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"' in challenge


async def test_the_person_can_grant_more_when_the_client_steps_up(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        person, storage = Person(scope="read"), MemoryTokens()
        async with signed_in_client(remote.config.base_url, person, storage) as client:
            lead = payload(await client.call_tool("list_leads", {"limit": 1}))["items"][0]["id"]
            person.scope = "write_safe"
            result = await client.call_tool("create_task", {"lead_id": lead, "text": "call back"})
            assert not result.is_error, text_of(result)
        assert storage.tokens is not None and storage.tokens.scope == "read write_safe"
        assert sandbox.sandbox.stats.count("POST", "/task/") == 1


async def test_over_sse_a_write_beyond_the_grant_is_an_error_result_saying_what_to_do(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        base = remote.config.base_url
        token = await (await HandClient.register(base)).access_token(scope="read")
        async with remote_client(base, "sse", headers={"authorization": f"Bearer {token}"}) as client:
            assert not (await client.call_tool("list_leads", {"limit": 1})).is_error
            before = len(sandbox.sandbox.stats.requests)
            result = await client.call_tool("create_task", {"lead_id": "lead_x", "text": "call back"})
        text = text_of(result)
        assert (
            result.is_error
            and "needs scope write_safe" in text
            and "Sign in again granting write_safe" in text
        )
        assert len(sandbox.sandbox.stats.requests) == before


async def test_revoking_the_token_signs_out_and_revokes_close_s_refresh_token(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        base = remote.config.base_url
        client = await HandClient.register(base)
        token = await client.access_token()
        assert (await mcp_status(base, token)).status_code == 200
        async with httpx2.AsyncClient() as http:
            # client_secret="": the SDK's revocation form requires the field even for a public client
            form = {"client_id": client.client_id, "client_secret": "", "token": token}
            revoked = await http.post(f"{base}/revoke", data=form)
        assert revoked.status_code == 200
        assert (await mcp_status(base, token)).status_code == 401
        assert sandbox.sandbox.oauth.revoked == 1 and not sandbox.sandbox.oauth.refresh_tokens


async def test_grants_survive_a_restart_encrypted_in_an_owner_only_file(sandbox, tmp_path):
    store = tmp_path / "grants.json"
    async with oauth_server(sandbox, store) as remote:
        port, base = remote.config.port, remote.config.base_url
        token = await (await HandClient.register(base)).access_token()
    assert store.stat().st_mode & 0o777 == 0o600
    assert store.with_suffix(".key").stat().st_mode & 0o777 == 0o600
    text = store.read_text()
    assert token not in text and not any(t in text for t in close_tokens(sandbox))
    assert "oa2rt_" not in text and "cmcp_" not in text
    async with oauth_server(sandbox, store, port=port) as again:
        assert again.config.base_url == base
        assert (await mcp_status(base, token)).status_code == 200


async def test_nothing_secret_reaches_the_logs(sandbox, tmp_path, caplog):
    caplog.set_level("DEBUG")
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        storage = MemoryTokens()
        async with signed_in_client(remote.config.base_url, storage=storage) as client:
            sandbox.sandbox.oauth.expire_now()
            assert not (await client.call_tool("list_leads", {"limit": 1})).is_error
    secrets = close_tokens(sandbox) | set(sandbox.sandbox.oauth.refresh_tokens)
    assert storage.tokens is not None
    secrets |= {storage.tokens.access_token, storage.tokens.refresh_token or "-"}
    logged = caplog.text
    assert "Initializing server 'close-mcp'" in logged  # DEBUG logging was on for the whole flow
    assert not [s for s in secrets if s in logged]


async def test_the_client_refreshes_its_own_token_with_rotation_until_sign_out(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        base = remote.config.base_url
        client = await HandClient.register(base)
        code, verifier = await client.code(scope="read write_safe")
        first = (await client.exchange(code, verifier)).json()
        narrower = await client.token(
            grant_type="refresh_token", refresh_token=first["refresh_token"], scope="read"
        )
        assert narrower.status_code == 200 and narrower.json()["scope"] == "read"
        assert (await mcp_status(base, narrower.json()["access_token"])).status_code == 200
        reused = await client.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        async with httpx2.AsyncClient() as http:  # sign out by revoking the refresh token
            form = {
                "client_id": client.client_id,
                "client_secret": "",
                "token": narrower.json()["refresh_token"],
            }
            assert (await http.post(f"{base}/revoke", data=form)).status_code == 200
        assert (await mcp_status(base, narrower.json()["access_token"])).status_code == 401
        assert sandbox.sandbox.oauth.revoked == 1


async def test_replicas_sharing_a_store_refresh_a_grant_once(sandbox, tmp_path):
    store, key = MemoryStore(), "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE="
    async with oauth_server(sandbox, tmp_path / "a.json", shared=store, oauth_key=key) as one:
        public = one.config.base_url  # both replicas are this one URL to their clients
        async with oauth_server(
            sandbox, tmp_path / "b.json", shared=store, oauth_key=key, public_url=public
        ) as two:
            token = await (await HandClient.register(public)).access_token(scope="read")
            sandbox.sandbox.oauth.expire_now()
            headers = {"authorization": f"Bearer {token}"}
            results: list = []

            async def calls(base: str) -> None:
                async with (
                    remote_client(base, "sse", headers=headers) as client,
                    anyio.create_task_group() as tg,
                ):
                    for _ in range(3):
                        tg.start_soon(call_into, client, results)

            async with anyio.create_task_group() as tg:
                tg.start_soon(calls, public)
                tg.start_soon(calls, f"http://127.0.0.1:{two.config.port}")
    assert [r.is_error for r in results] == [False] * 6, [text_of(r) for r in results if r.is_error]
    assert sandbox.sandbox.oauth.grants["refresh_token"] == 1
    assert one.config.oauth.tokens.refreshes + two.config.oauth.tokens.refreshes == 1


async def call_into(client, results: list) -> None:
    results.append(await client.call_tool("list_leads", {"limit": 1}))


async def test_a_fresh_close_token_refused_too_ends_the_grant(sandbox, tmp_path):
    async with oauth_server(sandbox, tmp_path / "grants.json") as remote:
        base = remote.config.base_url
        token = await (await HandClient.register(base)).access_token()
        # Close refuses the call, and again after the refresh (the user was removed from the org).
        sandbox.sandbox.faults.add(FaultRule(kind="status", path="/lead/", method="GET", status=401, times=2))
        async with remote_client(base, "sse", headers={"authorization": f"Bearer {token}"}) as client:
            result = await client.call_tool("list_leads", {"limit": 1})
        assert result.is_error and "sign in again" in text_of(result)
        assert sandbox.sandbox.oauth.grants["refresh_token"] == 1 and sandbox.sandbox.oauth.revoked == 1
        assert (await mcp_status(base, token)).status_code == 401
