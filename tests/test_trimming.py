"""Agent-sized results: budgets, cursors that never lose or double a record, tampering refused."""

from __future__ import annotations

import json
import math

import anyio
import pytest
from conftest import connect, payload, text_of

from close_mcp.executor import FIRST_PAGE
from close_mcp.sandbox import SandboxConfig, run_sandbox
from close_mcp.trim import render

pytestmark = pytest.mark.anyio


async def _walk(client, tool: str, args: dict, guard: int = 400) -> list[dict]:
    items, cursor = [], None
    for _ in range(guard):
        result = await client.call_tool(tool, {**args, **({"cursor": cursor} if cursor else {})})
        assert not result.is_error, text_of(result)
        body = payload(result)
        assert body["count"] == len(body["items"]) and body["has_more"] == (body["next_cursor"] is not None)
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("no end")


@pytest.mark.parametrize("budget", [1500, 20_000, 1_000_000])
async def test_walking_every_page_returns_each_lead_once(sandbox, budget):
    async with connect(sandbox, output_budget=budget) as client:
        sizes = []
        items, cursor = [], None
        while True:
            result = await client.call_tool(
                "list_leads", {"limit": 60, **({"cursor": cursor} if cursor else {})}
            )
            sizes.append(len(text_of(result)))
            items += payload(result)["items"]
            cursor = payload(result)["next_cursor"]
            if not cursor:
                break
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 260 == len(sandbox.sandbox.store().leads)
    assert max(sizes) <= budget
    assert all("display_name" in i for i in items)


async def test_event_cursor_walk_with_a_tiny_budget(sandbox):
    store = sandbox.sandbox.store()
    async with connect(sandbox) as client:
        for i in range(70):
            await client.call_tool(
                "create_note", {"lead_id": next(iter(store.leads)), "note": f"n{i} " + "x" * 200}
            )
    async with connect(sandbox, output_budget=1200) as client:
        events = await _walk(client, "list_events", {"limit": 50})
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)) == len(store.live_events())


async def test_budget_shortens_long_text_with_a_marker_and_full_fields_gets_it(sandbox):
    store = sandbox.sandbox.store()
    email = next(a for a in store.activities.values() if a["_type"] == "Email")
    async with connect(sandbox) as client:
        result = await client.call_tool(
            "list_activities", {"lead_id": email["lead_id"], "type": ["Email"], "fields": ["id", "body_text"]}
        )
        item = next(i for i in payload(result)["items"] if i["id"] == email["id"])
        assert f"excerpt of {len(email['body_text'])} chars" in item["body_text"]
        assert "full_fields" in payload(result)["notice"]
        full = await client.call_tool(
            "list_activities",
            {
                "lead_id": email["lead_id"],
                "type": ["Email"],
                "fields": ["id", "body_text"],
                "full_fields": ["body_text"],
            },
        )
        item = next(i for i in payload(full)["items"] if i["id"] == email["id"])
        assert item["body_text"] == email["body_text"]


async def test_huge_object_still_fits_the_budget():
    async with run_sandbox(SandboxConfig(leads=3)) as sb, connect(sb, output_budget=1000) as client:
        lead = next(iter(sb.sandbox.store().leads.values()))
        lead["description"] = "y" * 50_000
        for n in range(40):
            await client.call_tool(
                "create_contact", {"lead_id": lead["id"], "name": f"Person {n} " + "z" * 100}
            )
        got = await client.call_tool("get_lead", {"lead_id": lead["id"]})
        assert not got.is_error and len(text_of(got)) <= 1000 and payload(got)["id"] == lead["id"]
        page = await client.call_tool("list_leads", {"fields": ["_all"], "limit": 3})
        assert len(text_of(page)) <= 1000 and payload(page)["count"] >= 1
        walked = await _walk(client, "list_leads", {"fields": ["_all"]})
        assert {i["id"] for i in walked} == set(sb.sandbox.store().leads)


async def test_fields_reach_close_as__fields(sandbox, mcp):
    await mcp.call_tool("list_leads", {"fields": ["id", "name", "custom"], "limit": 2})
    assert sandbox.sandbox.stats.requests[-1]["query"]["_fields"] == "id,name,custom"
    await mcp.call_tool("list_leads", {"limit": 2})
    assert sandbox.sandbox.stats.requests[-1]["query"]["_fields"].startswith("id,display_name")
    await mcp.call_tool("list_leads", {"fields": ["_all"], "limit": 2})
    assert "_fields" not in sandbox.sandbox.stats.requests[-1]["query"]
    got = await mcp.call_tool(
        "get_lead", {"lead_id": next(iter(sandbox.sandbox.store().leads)), "fields": ["name"]}
    )
    assert set(payload(got)) == {"name"}


async def test_tampered_foreign_and_mismatched_cursors_are_refused(sandbox, mcp):
    first = payload(await mcp.call_tool("list_leads", {"limit": 5}))["next_cursor"]
    b64, sig = first.rsplit(".", 1)
    import base64

    body = json.loads(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)))
    body["s"] = 100
    forged = (
        base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
        + "."
        + sig
    )
    before = len(sandbox.sandbox.stats.requests)
    for args, phrase in [
        ({"cursor": forged}, "altered"),
        ({"cursor": "hello"}, "not a cursor"),
        ({"cursor": first, "query": "acme"}, "different filter"),
    ]:
        result = await mcp.call_tool("list_leads", {"limit": 5, **args})
        assert result.is_error and phrase in text_of(result), text_of(result)
    tasks = await mcp.call_tool("list_tasks", {"cursor": first})
    assert tasks.is_error and "belongs to list_leads" in text_of(tasks)
    assert len(sandbox.sandbox.stats.requests) == before
    ok = await mcp.call_tool("list_leads", {"limit": 5, "cursor": first, "fields": ["id"]})
    assert not ok.is_error  # limit and fields may change between pages


async def test_max_items_walks_pages_server_side(sandbox, mcp):
    result = await mcp.call_tool("list_tasks", {"type": "all", "max_items": 150, "fields": ["id", "text"]})
    body = payload(result)
    store_count = len(sandbox.sandbox.store().tasks)
    assert body["count"] == min(150, store_count)
    # a first page of FIRST_PAGE while the item size is unknown, then full pages of /task/'s maximum (100)
    assert sandbox.sandbox.stats.count("GET", "/task/") == 1 + math.ceil((150 - FIRST_PAGE) / 100)
    big = await mcp.call_tool("list_tasks", {"type": "all", "max_items": 150})
    assert payload(big)["count"] < 150 and "output budget" in payload(big)["notice"]
    rest = await _walk(mcp, "list_tasks", {"type": "all", "max_items": 150})
    assert len({t["id"] for t in rest}) == store_count


async def test_default_lead_view_is_compact_and_keeps_id_and_name(sandbox, mcp):
    result = await mcp.call_tool("list_leads", {"limit": 25})
    item = payload(result)["items"][0]
    assert set(item) <= {"id", "display_name", "status_label", "contacts", "date_created", "date_updated"}
    assert set(item["contacts"][0]) <= {"id", "name", "title", "emails", "phones"}
    assert set(item["contacts"][0]["emails"][0]) == {"email"}
    assert payload(result)["total_results"] == 260


async def test_get_tools_shorten_long_text_and_full_fields_returns_it(sandbox, mcp):
    lead = next(iter(sandbox.sandbox.store().leads.values()))
    lead["description"] = "word " * 1000
    got = payload(await mcp.call_tool("get_lead", {"lead_id": lead["id"]}))
    assert "excerpt of 5000 chars" in got["description"] and "full_fields" in got["notice"]
    full = payload(await mcp.call_tool("get_lead", {"lead_id": lead["id"], "full_fields": ["description"]}))
    assert full["description"] == lead["description"] and "notice" not in full


@pytest.mark.parametrize("args", [{}, {"limit": 200}, {"max_items": 260}])
async def test_paging_fetches_what_it_returns(sandbox, mcp, args):
    """All 260 leads through list_leads (default view; no limit, limit 200 or max_items, following
    cursors): every lead exactly once, and at most 1.2 records fetched from Close per record returned."""
    total = len(sandbox.sandbox.store().leads)
    seen: list[str] = []
    given = dict(args)
    with anyio.fail_after(60):
        while True:
            body = payload(await mcp.call_tool("list_leads", args))
            seen += [i["id"] for i in body["items"]]
            if not body["next_cursor"]:
                break
            args = {**given, "cursor": body["next_cursor"]}
    assert len(seen) == len(set(seen)) == total == 260
    fetched = sum(
        max(0, min(int(r["query"]["_limit"]), total - int(r["query"]["_skip"])))
        for r in sandbox.sandbox.stats.requests
        if r["method"] == "GET" and r["path"] == "/lead/"
    )
    assert fetched <= 1.2 * total, fetched


async def test_result_text_is_the_compact_json_of_its_data(sandbox, mcp):
    """What render sends (pydantic-core's serializer) is exactly json.dumps' compact text, escapes,
    non-ASCII and numbers included; a lone surrogate, which that serializer refuses, still renders."""
    lead_id = next(iter(sandbox.sandbox.store().leads))
    note = 'Grüße, "quoted" \\ back\\slash\nnew line\ttab \u2028 😀 ' + "x" * 50
    made = await mcp.call_tool("create_note", {"lead_id": lead_id, "note": note})
    got = await mcp.call_tool("get_note", {"note_id": payload(made)["id"]})
    page = await mcp.call_tool("list_leads", {"limit": 10, "fields": ["_all"]})
    for result in (made, got, page):
        assert not result.is_error, text_of(result)
        assert text_of(result) == json.dumps(payload(result), ensure_ascii=False, separators=(",", ":"))
    assert payload(got)["note"] == note
    assert render({"a": "\ud800", "n": [1.5e16, -0.0, 10**20]}) == json.dumps(
        {"a": "\ud800", "n": [1.5e16, -0.0, 10**20]}, ensure_ascii=False, separators=(",", ":")
    )
