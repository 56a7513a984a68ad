"""Writes that say what they did: updates report changes (and changes not asked for), bulk changes list
what they matched, and previews of destructive calls name every object they touch."""

from __future__ import annotations

import pytest
from conftest import connect, payload, text_of

pytestmark = pytest.mark.anyio


async def test_an_update_reports_what_it_changed_and_what_it_was_not_asked_to(sandbox):
    """Moving an opportunity to another pipeline's status changes its pipeline too: the answer says so."""
    store = sandbox.sandbox.store()
    statuses = store.opportunity_statuses()
    opp_id, opp = next(
        (oid, o) for oid, o in store.opportunities.items() if statuses[o["status_id"]]["type"] == "active"
    )
    old_status = opp["status_id"]  # the stored dict changes with the update
    here = statuses[old_status]["pipeline_id"]
    other_won = next(s for s in statuses.values() if s["pipeline_id"] != here and s["type"] == "won")
    async with connect(sandbox) as client:
        moved = await client.call_tool(
            "update_opportunity", {"opportunity_id": opp_id, "status_id": other_won["id"]}
        )
        noted = await client.call_tool("update_opportunity", {"opportunity_id": opp_id, "note": "checked"})
    changes = payload(moved)["changes"]
    assert changes["fields"]["status_id"] == [old_status, other_won["id"]]
    assert {"pipeline_id", "pipeline_name"} <= set(changes["also"])
    assert "pipeline_name" in payload(moved)["notice"]
    assert payload(noted)["changes"]["fields"]["note"][1] == "checked"
    assert "also" not in payload(noted)["changes"]


async def test_a_merge_preview_names_both_leads(sandbox):
    store = sandbox.sandbox.store()
    source, destination = list(store.leads)[:2]
    async with connect(sandbox) as client:
        result = await client.call_tool("merge_leads", {"source": source, "destination": destination})
    text = text_of(result)
    assert result.is_error and "confirm: true" in text
    assert (
        f"{store.leads[source]['name']} ({source}) into {store.leads[destination]['name']} ({destination})"
        in text
    )
    assert source in store.leads  # nothing was merged


async def test_a_bulk_update_lists_what_it_changed(sandbox):
    store = sandbox.sandbox.store()
    lead_id = next(t["lead_id"] for t in store.tasks.values() if not t["is_complete"])
    open_ = sorted(t["id"] for t in store.children_of(lead_id)["tasks"] if not t["is_complete"])
    async with connect(sandbox) as client:
        result = await client.call_tool(
            "bulk_update_tasks",
            {"filter_lead_id": lead_id, "filter_is_complete": False, "is_complete": True, "confirm": True},
        )
    body = payload(result)
    assert not result.is_error and body["matched"] == len(open_) and sorted(body["ids"]) == open_
    assert all(store.tasks[t]["is_complete"] for t in open_)
