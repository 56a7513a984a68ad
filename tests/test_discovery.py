"""The default toolset and discovery: a small list, the rest findable and callable, never beyond the policy."""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp.types as types
import pytest
from conftest import SPECS, connect, payload, settings_for_tests, text_of
from mcp.shared.exceptions import MCPError

from close_mcp.app import build_policy
from close_mcp.manifest import manifest_dir
from close_mcp.policy import GrantFile

pytestmark = pytest.mark.anyio
DISCOVERY = {"find_tools", "enable_tools", "call_tool"}


def _default(**overrides: Any) -> Any:
    return settings_for_tests(sandbox=True, toolsets=["default"], **overrides)


def _requests(sandbox) -> int:
    return len(sandbox.sandbox.stats.requests)


async def test_the_default_toolset_is_small_and_covers_daily_work(shared_sandbox):
    async with connect(shared_sandbox, settings=_default()) as client:
        listed = (await client.list_tools()).tools
    names = {t.name for t in listed}
    assert names == {s.name for s in SPECS if s.default} | DISCOVERY
    assert len(names) <= 40
    text = json.dumps([t.model_dump(by_alias=True, exclude_none=True) for t in listed], separators=(",", ":"))
    assert len(text) <= 40_000
    for daily in ("list_leads", "update_lead", "create_note", "log_call", "update_task", "list_users"):
        assert daily in names
    assert not {"delete_lead", "merge_leads", "create_webhook", "update_organization"} & names


async def test_find_then_enable_lists_the_tool_and_says_the_list_changed(shared_sandbox):
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with connect(shared_sandbox, settings=_default(), message_handler=on_message) as client:
        found = await client.call_tool("find_tools", {"query": "delete contact"})
        first = payload(found)["items"][0]
        assert first["name"] == "delete_contact" and first["access"] == "destructive" and not first["listed"]
        assert "contact_id" in first["input_schema"]["properties"]
        enabled = await client.call_tool("enable_tools", {"names": ["delete_contact", "get_webhook"]})
        assert payload(enabled)["enabled"] == ["delete_contact", "get_webhook"]
        with anyio.fail_after(5):
            await changed.wait()
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"delete_contact", "get_webhook"} <= names
    async with connect(shared_sandbox, settings=_default()) as other:  # another session: its own list
        assert "delete_contact" not in {t.name for t in (await other.list_tools()).tools}


async def test_call_tool_runs_a_found_tool_with_every_check(sandbox):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    async with connect(sandbox, settings=_default()) as client:
        user_id = list(store.users)[1]
        got = await client.call_tool("call_tool", {"name": "get_user", "arguments": {"user_id": user_id}})
        assert not got.is_error and payload(got)["id"] == user_id
        bad = await client.call_tool("call_tool", {"name": "get_user", "arguments": {"user_id": "x"}})
        assert bad.is_error and "`user_id` must be a Close ID" in text_of(bad)
        unconfirmed = await client.call_tool(
            "call_tool", {"name": "delete_lead", "arguments": {"lead_id": lead_id}}
        )
        assert unconfirmed.is_error and "confirm: true" in text_of(unconfirmed) and lead_id in store.leads
        missing = await client.call_tool("call_tool", {"name": "launch_rocket"})
        assert missing.is_error and "find_tools" in text_of(missing)


@pytest.mark.parametrize(
    "overrides,tool,reason",
    [
        ({"scope": "read"}, "delete_lead", "needs scope write_destructive"),
        ({"exclude_tools": ["delete_lead"]}, "delete_lead", "is not served by this server"),
        ({"scope": "write_safe"}, "merge_leads", "needs scope write_destructive"),
    ],
)
async def test_discovery_never_reaches_past_the_policy(sandbox, overrides, tool, reason):
    settings = _default(**overrides)
    lead_id, other = list(sandbox.sandbox.store().leads)[:2]
    args = {"lead_id": lead_id} if tool == "delete_lead" else {"source": lead_id, "destination": other}
    async with connect(sandbox, settings=settings, policy=build_policy(settings, SPECS)) as client:
        found = await client.call_tool("find_tools", {"query": tool.replace("_", " ")})
        assert tool not in {i["name"] for i in payload(found)["items"]}
        enabled = await client.call_tool("enable_tools", {"names": [tool]})
        assert reason in payload(enabled)["refused"][tool]
        before = _requests(sandbox)
        called = await client.call_tool("call_tool", {"name": tool, "arguments": {**args, "confirm": True}})
        direct = await client.call_tool(tool, {**args, "confirm": True})
        assert _requests(sandbox) == before  # nothing reached Close
    assert called.is_error and direct.is_error and reason in text_of(called) and reason in text_of(direct)
    assert lead_id in sandbox.sandbox.store().leads


async def test_grants_limit_discovery_per_agent(sandbox, tmp_path):
    path = tmp_path / "grants.toml"
    path.write_text('[agents.local]\n"*" = "destructive"\nexclude_tools = ["delete_contact"]\n')
    settings = _default(policy=path)
    policy = build_policy(settings, SPECS)
    assert isinstance(policy.grants, GrantFile)
    contact_id = next(iter(sandbox.sandbox.store().contacts))
    async with connect(sandbox, settings=settings, policy=policy) as client:
        found = await client.call_tool("find_tools", {"query": "delete lead contact"})
        names = {i["name"] for i in payload(found)["items"]}
        assert "delete_lead" in names and "delete_contact" not in names
        before = _requests(sandbox)
        refused = await client.call_tool(
            "call_tool", {"name": "delete_contact", "arguments": {"contact_id": contact_id, "confirm": True}}
        )
        assert refused.is_error and "exclude_tools" in text_of(refused) and _requests(sandbox) == before


async def test_explicit_toolsets_offer_no_discovery_and_refuse_the_rest(sandbox):
    settings = settings_for_tests(sandbox=True, toolsets=["leads"], tools=["get_task"])
    async with connect(sandbox, settings=settings, policy=build_policy(settings, SPECS)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {s.name for s in SPECS if s.toolset == "leads"} | {"get_task"}
        contact_id = next(iter(sandbox.sandbox.store().contacts))
        refused = await client.call_tool("get_contact", {"contact_id": contact_id})
        assert refused.is_error and "not served by this server (toolsets: leads)" in text_of(refused)
        with pytest.raises(MCPError, match="Unknown tool: find_tools"):  # no discovery on this server
            await client.call_tool("find_tools", {"query": "contact"})


def test_unknown_tools_in_flags_fail_start_up():
    from close_mcp.settings_error import SettingsError

    with pytest.raises(SettingsError, match=r"unknown tool.*launch_rocket"):
        build_policy(settings_for_tests(exclude_tools=["launch_rocket"]), SPECS)


async def test_a_renamed_tool_keeps_working_by_its_alias(shared_sandbox, tmp_path):
    from close_mcp.app import load_specs

    manifest = json.loads((manifest_dir() / "users_org.json").read_text())
    manifest["toolset"] = "users_renamed"
    manifest["tools"] = [t for t in manifest["tools"] if t["name"] == "get_user"]
    manifest["tools"][0] |= {"name": "fetch_user", "aliases": ["get_teammate"]}
    (tmp_path / "users_renamed.json").write_text(json.dumps(manifest))
    specs = load_specs(settings_for_tests(extra_manifests=[tmp_path]))
    user_id = list(shared_sandbox.sandbox.store().users)[1]
    async with connect(shared_sandbox, specs=specs) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "fetch_user" in names and "get_teammate" not in names
        got = await client.call_tool("get_teammate", {"user_id": user_id})
        assert not got.is_error and payload(got)["id"] == user_id
