"""Every manifest tool, end to end: a real MCP client session → server → sandbox over loopback,
then the sandbox's state is checked (a create is readable, an update changed, a delete is gone)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SPECS, text_of

from close_mcp.sandbox.store import OrgStore

pytestmark = pytest.mark.anyio


def _example(spec_name: str, arg: str) -> Any:
    spec = next(s for s in SPECS if s.name == spec_name)
    return spec.input_schema["properties"][arg]["examples"][0]


async def test_every_tool_end_to_end(mcp, sandbox):
    store: OrgStore = sandbox.sandbox.store()
    lead_id, other_lead = list(store.leads)[:2]
    contact_id = store.children_of(lead_id)["contacts"][0]["id"]
    opp_id = next(iter(store.opportunities))
    task_id = next(t for t in store.tasks if store.tasks[t]["_type"] == "lead")
    user_id = list(store.users)[1]
    org_id = store.org["id"]
    won = next(s for p in store.pipelines.values() for s in p["statuses"] if s["type"] == "won")
    cf_industry = next(cid for cid, cf in store.custom_fields["lead"].items() if cf["name"] == "Industry")
    called: set[str] = set()

    destructive = {s.name for s in SPECS if s.access == "destructive"}

    async def call(name: str, args: dict[str, Any]) -> Any:
        result = await mcp.call_tool(name, {**args, **({"confirm": True} if name in destructive else {})})
        assert not result.is_error, f"{name}: {text_of(result)}"
        called.add(name)
        return result.structured_content

    # --- reads
    assert (await call("list_leads", {"query": 'status:"Customer"', "limit": 5}))["count"] > 0
    assert (await call("get_lead", {"lead_id": lead_id}))["id"] == lead_id
    assert (await call("list_contacts", {"lead_id": lead_id}))["items"][0]["lead_id"] == lead_id
    assert (await call("get_contact", {"contact_id": contact_id}))["id"] == contact_id
    assert (await call("list_opportunities", {"status_type": "active"}))["summary"]["count_by_value_period"]
    assert (await call("get_opportunity", {"opportunity_id": opp_id}))["id"] == opp_id
    acts = await call("list_activities", {"lead_id": lead_id, "type": ["Note", "Call", "Email"]})
    assert all(a["_type"] in ("Note", "Call", "Email") for a in acts["items"])
    assert (await call("list_tasks", {"view": "inbox"}))["count"] >= 0
    assert (await call("get_task", {"task_id": task_id}))["id"] == task_id
    assert {f["name"] for f in (await call("list_lead_custom_fields", {}))["items"]} >= {"Industry"}
    assert (await call("list_contact_custom_fields", {}))["count"] >= 1
    assert (await call("list_opportunity_custom_fields", {}))["count"] >= 1
    me = await call("get_current_user", {})
    assert me["organizations"][0]["id"] == org_id
    assert (await call("list_users", {"order_by": "last_name,first_name"}))["count"] == 4
    assert (await call("get_user", {"user_id": user_id}))["id"] == user_id
    assert (await call("get_organization", {"organization_id": org_id}))["pipelines"]
    assert (await call("list_lead_statuses", {}))["count"] == 5
    assert (await call("list_pipelines", {}))["count"] == 2
    assert (await call("list_events", {"limit": 5}))["count"] == 5

    # --- lead writes
    created = await call(
        "create_lead",
        {
            "name": _example("create_lead", "name"),
            "status": "Qualified",
            "contacts": [{"name": "Bruce", "emails": [{"email": "bruce@wayne.example"}]}],
            "custom": {cf_industry: "Software"},
        },
    )
    new_lead = created["id"]
    assert store.leads[new_lead]["name"] == "Wayne Enterprises"
    assert store.leads[new_lead][f"custom.{cf_industry}"] == "Software"
    await call("update_lead", {"lead_id": new_lead, "description": "Gotham"})
    assert store.leads[new_lead]["description"] == "Gotham"

    # --- contacts
    contact = await call(
        "create_contact",
        {
            "lead_id": new_lead,
            "name": _example("create_contact", "name"),
            "phones": [{"phone": "+15125550100"}],
        },
    )
    assert store.contacts[contact["id"]]["lead_id"] == new_lead
    await call("update_contact", {"contact_id": contact["id"], "title": "CEO"})
    assert store.contacts[contact["id"]]["title"] == "CEO"
    await call("delete_contact", {"contact_id": contact["id"]})
    assert contact["id"] not in store.contacts

    # --- opportunities
    opp = await call(
        "create_opportunity",
        {"lead_id": new_lead, "value": _example("create_opportunity", "value"), "confidence": 50},
    )
    assert store.opportunities[opp["id"]]["value"] == 250000
    await call("update_opportunity", {"opportunity_id": opp["id"], "status_id": won["id"]})
    assert (
        store.opportunities[opp["id"]]["status_id"] == won["id"]
        and store.opportunities[opp["id"]]["date_won"]
    )
    await call("delete_opportunity", {"opportunity_id": opp["id"]})
    assert opp["id"] not in store.opportunities

    # --- activities
    note = await call("create_note", {"lead_id": new_lead, "note": _example("create_note", "note")})
    assert store.activities[note["id"]]["_type"] == "Note"
    call_act = await call("log_call", {"lead_id": new_lead, "duration": 300, "direction": "outbound"})
    assert store.activities[call_act["id"]]["duration"] == 300
    email = await call(
        "create_email", {"lead_id": new_lead, "status": "draft", "subject": "Hi", "to": ["a@b.example"]}
    )
    assert store.activities[email["id"]]["status"] == "draft"

    # --- tasks
    task = await call(
        "create_task", {"lead_id": new_lead, "text": _example("create_task", "text"), "date": "2030-01-01"}
    )
    assert store.tasks[task["id"]]["text"] == "Send the proposal"
    await call("update_task", {"task_id": task["id"], "is_complete": True})
    assert store.tasks[task["id"]]["is_complete"]
    await call(
        "bulk_update_tasks", {"filter_lead_id": new_lead, "filter_is_complete": True, "is_complete": False}
    )
    assert not store.tasks[task["id"]]["is_complete"]
    await call("delete_task", {"task_id": task["id"]})
    assert task["id"] not in store.tasks

    # --- custom fields, organization
    cf = await call("create_lead_custom_field", {"name": "Renewal date", "type": "date"})
    assert store.custom_fields["lead"][cf["id"]]["type"] == "date"
    await call("update_organization", {"organization_id": org_id, "name": "Acme Renamed"})
    assert store.org["name"] == "Acme Renamed"

    # --- webhooks
    hook = await call(
        "create_webhook",
        {"url": "https://example.com/hook", "events": [{"object_type": "lead", "action": "created"}]},
    )
    assert hook["id"] in store.webhooks and len(hook["signature_key"]) == 64
    assert (await call("list_webhooks", {}))["count"] == 1
    assert (await call("get_webhook", {"webhook_id": hook["id"]}))["url"] == "https://example.com/hook"
    await call("update_webhook", {"webhook_id": hook["id"], "status": "paused"})
    assert store.webhooks[hook["id"]]["status"] == "paused"
    await call("delete_webhook", {"webhook_id": hook["id"]})
    assert hook["id"] not in store.webhooks

    # --- lead merge and delete (last: they cascade)
    moved = [c["id"] for c in store.children_of(other_lead)["contacts"]]
    await call("merge_leads", {"source": other_lead, "destination": new_lead})
    assert other_lead not in store.leads and all(store.contacts[c]["lead_id"] == new_lead for c in moved)
    await call("delete_lead", {"lead_id": new_lead})
    assert new_lead not in store.leads and not any(c["lead_id"] == new_lead for c in store.contacts.values())
    merged_events = [e for e in (await call("list_events", {"lead_id": new_lead, "limit": 50}))["items"]]
    assert {"merged", "deleted"} <= {e["action"] for e in merged_events}

    assert called == {s.name for s in SPECS}, f"not exercised: {sorted({s.name for s in SPECS} - called)}"
