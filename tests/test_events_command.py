"""``close-mcp webhooks subscribe|rotate|status`` as a real process on a sandbox: the subscription is
made for this server's public URL, its key lands in an owner-only file and is never printed; a
rotation makes a new key and keeps the old one valid for the overlap; bad setup is one clear line."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
from cli_helpers import run_cli, sandbox_env

from close_mcp.events.keyring import KeyRing
from close_mcp.sandbox import RunningSandbox, SandboxConfig, run_sandbox

pytestmark = pytest.mark.anyio
PUBLIC = "http://127.0.0.1:9"


@pytest.fixture
async def hooked() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig(leads=2, allow_loopback_webhooks=True)) as sb:
        yield sb


async def test_subscribe_rotate_and_status_keep_the_key_secret(hooked, tmp_path):
    keys = tmp_path / "private" / "keys.json"
    env = sandbox_env(tmp_path, hooked, CLOSE_MCP_PUBLIC_URL=PUBLIC, CLOSE_MCP_WEBHOOK_KEYS=str(keys))
    code, out, err = await run_cli("webhooks", "subscribe", "--object-types", "lead,contact", env=env)
    assert code == 0, err
    made = json.loads(out)
    sub_id = made["subscription"]["id"]
    stored = hooked.sandbox.store().webhooks[sub_id]
    assert stored["url"] == PUBLIC + "/webhooks/close" and len(stored["events"]) == 6
    assert KeyRing.load(keys).accepted_keys() == [stored["signature_key"]]
    assert keys.stat().st_mode & 0o777 == 0o600
    assert stored["signature_key"] not in out + err

    code, out, err = await run_cli("webhooks", "subscribe", "--actions", "updated", env=env)
    assert code == 0 and json.loads(out)["action"] == "updated"  # the same subscription, updated
    assert len(hooked.sandbox.store().webhooks) == 1

    code, out, err = await run_cli("webhooks", "rotate", "--overlap", "3600", env=env)
    rotated = json.loads(out)
    assert code == 0 and rotated["action"] == "rotated" and rotated["retiring"]["subscription_id"] == sub_id
    new_key = hooked.sandbox.store().webhooks[rotated["subscription"]["id"]]["signature_key"]
    assert set(KeyRing.load(keys).accepted_keys()) == {stored["signature_key"], new_key}  # the overlap
    assert KeyRing.load(keys).accepted_keys(now=time.time() + 7200) == [new_key]
    assert new_key not in out + err

    code, out, err = await run_cli("webhooks", "rotate", "--overlap", "0.001", env=env)
    assert code == 0 and json.loads(out)["pruned"] == []  # the first rotation's overlap is still on
    code, out, err = await run_cli("webhooks", "subscribe", env=env)
    pruned = json.loads(out)["pruned"]
    assert code == 0 and pruned == [rotated["subscription"]["id"]]  # its short overlap ended: deleted
    assert pruned[0] not in hooked.sandbox.store().webhooks

    code, out, err = await run_cli("webhooks", "status", env=env)
    listed = json.loads(out)["subscriptions"]
    assert code == 0 and sub_id in {s["subscription_id"] for s in listed} and len(listed) == 2
    assert stored["signature_key"] not in out and new_key not in out


async def test_subscribe_without_a_public_url_says_what_to_set(hooked, tmp_path):
    env = sandbox_env(tmp_path, hooked, CLOSE_MCP_WEBHOOK_KEYS=str(tmp_path / "k.json"))
    code, _out, err = await run_cli("webhooks", "subscribe", env=env)
    assert code == 2 and "CLOSE_MCP_PUBLIC_URL" in err and "Traceback" not in err
    assert hooked.sandbox.store().webhooks == {}


async def test_an_unknown_events_mode_is_one_line(tmp_path):
    from cli_helpers import cli_env

    code, _out, err = await run_cli("--sandbox", "tools", env=cli_env(tmp_path, CLOSE_MCP_EVENTS="always"))
    assert code == 2 and "unknown events mode 'always'" in err and "push, follow, off" in err


async def test_push_over_stdio_is_refused_with_what_to_use(tmp_path):
    from cli_helpers import cli_env

    code, _out, err = await run_cli("--sandbox", "--events", "push", env=cli_env(tmp_path))
    assert code == 2 and "--events follow" in err and "Traceback" not in err
