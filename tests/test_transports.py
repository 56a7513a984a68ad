"""The core behaviour, proven alike on every transport: in memory, stdio (a real ``close-mcp``
process), streamable HTTP and SSE (the real remote server). One test body, four sessions."""

from __future__ import annotations

import pytest
from conftest import SPECS, TRANSPORTS, payload, session_on, text_of

from close_mcp.sandbox import RunningSandbox

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("transport", TRANSPORTS)]


def _requests(sandbox: RunningSandbox) -> int:
    return len(sandbox.sandbox.stats.requests)


async def test_tools_are_listed_with_hints_from_access(transport, sandbox):
    async with session_on(transport, sandbox) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {s.name for s in SPECS}
    for spec in SPECS:  # as the MCP spec reads hints: readOnlyHint defaults to false, destructiveHint to
        hints = tools[spec.name].annotations  # true and means something only when readOnlyHint is false
        read_only = hints.read_only_hint is True
        assert read_only == (spec.access == "read"), spec.name
        if not read_only:
            assert (hints.destructive_hint is not False) == (spec.access == "destructive"), spec.name


async def test_pages_follow_cursors_without_repeats(transport, sandbox):
    async with session_on(transport, sandbox) as client:
        first = await client.call_tool("list_leads", {"limit": 3})
        cursor = payload(first)["next_cursor"]
        second = await client.call_tool("list_leads", {"limit": 3, "cursor": cursor})
    ids = [i["id"] for r in (first, second) for i in payload(r)["items"]]
    assert len(ids) == len(set(ids)) == 6
    newest = sorted(sandbox.sandbox.store().leads.values(), key=lambda x: x["date_created"], reverse=True)
    assert ids == [lead["id"] for lead in newest[:6]]


async def test_bad_arguments_are_refused_before_any_request(transport, sandbox):
    async with session_on(transport, sandbox) as client:
        before = _requests(sandbox)
        bad = await client.call_tool("get_lead", {"lead_id": "../etc", "colour": "red"})
        assert _requests(sandbox) == before
    assert bad.is_error
    assert "`lead_id` must be a Close ID starting with lead_" in text_of(bad)
    assert "unknown argument(s) `colour`" in text_of(bad) and "Nothing was sent to Close" in text_of(bad)


async def test_writes_land_and_close_errors_say_what_to_do(transport, sandbox):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    async with session_on(transport, sandbox) as client:
        note = await client.call_tool("create_note", {"lead_id": lead_id, "note": f"via {transport}"})
        missing = await client.call_tool("get_lead", {"lead_id": "lead_doesnotexist0000"})
    assert not note.is_error and store.activities[payload(note)["id"]]["note"] == f"via {transport}"
    assert missing.is_error and "Not found (404)" in text_of(missing)
    assert "lead_id=lead_doesnotexist0000" in text_of(missing)


async def test_destructive_calls_need_confirmation_and_dry_runs_send_nothing(transport, sandbox):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    name = store.leads[lead_id]["name"]
    async with session_on(transport, sandbox) as client:
        unconfirmed = await client.call_tool("delete_lead", {"lead_id": lead_id})
        assert (
            unconfirmed.is_error and "confirm: true" in text_of(unconfirmed) and name in text_of(unconfirmed)
        )
        assert lead_id in store.leads
        before = _requests(sandbox)
        dry = await client.call_tool("delete_lead", {"lead_id": lead_id, "dry_run": True})
        assert _requests(sandbox) == before and lead_id in store.leads
        assert payload(dry)["request"]["method"] == "DELETE"
        assert payload(dry)["request"]["url"].endswith(f"/lead/{lead_id}/")
        confirmed = await client.call_tool("delete_lead", {"lead_id": lead_id, "confirm": True})
    assert not confirmed.is_error and lead_id not in store.leads
