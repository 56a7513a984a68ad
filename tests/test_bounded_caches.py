"""The per-credential caches (named lists, the caller's ID, custom field definitions) hold at most
``max_entries`` credentials' worth: a server seeing a new credential per user does not grow with them.
Real clients against a sandbox with one organization (and key) per credential."""

from __future__ import annotations

import pytest

from close_mcp.client import CloseClient
from close_mcp.credentials import Credential
from close_mcp.names import NameCache
from close_mcp.org_schema import OrgSchema
from close_mcp.sandbox import RunningSandbox, SandboxConfig, run_sandbox

pytestmark = pytest.mark.anyio
KEYS = ["key_one", "key_two", "key_three", "key_four"]


async def test_caches_keep_the_latest_credentials_only() -> None:
    names, schema = NameCache(max_entries=2), OrgSchema(max_entries=2)
    async with run_sandbox(SandboxConfig(organizations=len(KEYS), api_keys=KEYS, leads=1)) as sb:
        for key in KEYS:
            async with CloseClient(Credential(key), sb.base_url) as client:
                assert await names.items(client, "/status/lead/")  # each organization has statuses
                assert (await names.me(client, "/me/")).startswith("user_")
                await schema.fields(client, "/custom_field/lead/")
    latest = {Credential(key).fingerprint for key in KEYS[-2:]}
    for cache in (names._lists, names._me, schema._sets):
        assert len(cache) == 2
        assert {fingerprint for fingerprint, _ in cache} == latest


async def test_nothing_is_kept_past_its_time_to_live(sandbox: RunningSandbox) -> None:
    names, schema = NameCache(ttl=0.0), OrgSchema(ttl=0.0)
    async with CloseClient(Credential(sandbox.api_key), sandbox.base_url) as client:
        assert await names.items(client, "/status/lead/")
        await schema.fields(client, "/custom_field/lead/")
    assert not names._lists and not schema._sets
