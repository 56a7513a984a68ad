"""Every manifest tool, end to end, one case per tool: a real MCP client session → server → sandbox
over loopback, then the sandbox's state is checked (a create is readable, an update changed, a delete
is gone). Reads share one sandbox; every write gets a fresh one. A tool without a case fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from conftest import SPECS, connect, text_of

from close_mcp.sandbox import RunningSandbox

pytestmark = pytest.mark.anyio
DESTRUCTIVE = {s.name for s in SPECS if s.access == "destructive"}


class Call:
    """Calls tools on one session; asserts each succeeded."""

    def __init__(self, client: Any, sandbox: RunningSandbox) -> None:
        self.client, self.sandbox, self.store = client, sandbox, sandbox.sandbox.store()

    async def __call__(self, name: str, args: dict[str, Any]) -> Any:
        confirm = {"confirm": True} if name in DESTRUCTIVE else {}
        result = await self.client.call_tool(name, {**args, **confirm})
        assert not result.is_error, f"{name}: {text_of(result)}"
        return result.structured_content

    # handy seeded objects
    def lead_with_contacts(self, n: int = 1) -> str:
        return next(lid for lid in self.store.leads if len(self.store.children_of(lid)["contacts"]) >= n)

    def lead_with_activities(self, *types: str) -> str:
        return next(
            lid
            for lid in self.store.leads
            if {a["_type"] for a in self.store.children_of(lid)["activities"]} >= set(types)
        )


@dataclass
class Case:
    run: Callable[[Call], Awaitable[None]]
    writes: bool


CASES: dict[str, Case] = {}


def case(tool: str, *, writes: bool = True) -> Callable[[Callable[[Call], Awaitable[None]]], Any]:
    def register(fn: Callable[[Call], Awaitable[None]]) -> Callable[[Call], Awaitable[None]]:
        assert tool not in CASES, f"two cases for {tool}"
        CASES[tool] = Case(fn, writes)
        return fn

    return register


def example(tool: str, arg: str) -> Any:
    spec = next(s for s in SPECS if s.name == tool)
    return spec.input_schema["properties"][arg]["examples"][0]


# ----- leads ----------------------------------------------------------------------------------
@case("list_leads", writes=False)
async def _(call: Call) -> None:
    customer = next(s["id"] for s in call.store.lead_statuses.values() if s["label"] == "Customer")
    expected = sum(1 for lead in call.store.leads.values() if lead["status_id"] == customer)
    page = await call("list_leads", {"query": 'status:"Customer"', "limit": 5})
    assert expected > 5 and page["count"] == 5 and page["total_results"] == expected and page["has_more"]
    assert all(item["status_label"] == "Customer" for item in page["items"])


@case("get_lead", writes=False)
async def _(call: Call) -> None:
    lead_id = call.lead_with_contacts(2)
    lead = await call("get_lead", {"lead_id": lead_id})
    assert lead["id"] == lead_id and lead["name"] == call.store.leads[lead_id]["name"]
    assert len(lead["contacts"]) == len(call.store.children_of(lead_id)["contacts"])


@case("create_lead")
async def _(call: Call) -> None:
    cf = next(cid for cid, cf in call.store.custom_fields["lead"].items() if cf["name"] == "Industry")
    created = await call(
        "create_lead",
        {
            "name": example("create_lead", "name"),
            "status": "Qualified",
            "contacts": [{"name": "Bruce", "emails": [{"email": "bruce@wayne.example"}]}],
            "custom": {cf: "Software"},
        },
    )
    stored = call.store.leads[created["id"]]
    assert stored["name"] == "Wayne Enterprises" and stored[f"custom.{cf}"] == "Software"
    assert call.store.lead_statuses[stored["status_id"]]["label"] == "Qualified"
    assert [c["name"] for c in call.store.children_of(created["id"])["contacts"]] == ["Bruce"]


@case("update_lead")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    await call("update_lead", {"lead_id": lead_id, "description": "Gotham"})
    assert call.store.leads[lead_id]["description"] == "Gotham"


@case("delete_lead")
async def _(call: Call) -> None:
    lead_id = call.lead_with_contacts(1)
    contacts = [c["id"] for c in call.store.children_of(lead_id)["contacts"]]
    await call("delete_lead", {"lead_id": lead_id})
    assert lead_id not in call.store.leads and not any(c in call.store.contacts for c in contacts)


@case("merge_leads")
async def _(call: Call) -> None:
    source, destination = list(call.store.leads)[:2]
    moved = [c["id"] for c in call.store.children_of(source)["contacts"]]
    await call("merge_leads", {"source": source, "destination": destination})
    assert moved and source not in call.store.leads
    assert all(call.store.contacts[c]["lead_id"] == destination for c in moved)
    events = (await call("list_events", {"lead_id": destination, "limit": 50}))["items"]
    assert "merged" in {e["action"] for e in events}


# ----- contacts -------------------------------------------------------------------------------
@case("list_contacts", writes=False)
async def _(call: Call) -> None:
    lead_id = call.lead_with_contacts(2)
    page = await call("list_contacts", {"lead_id": lead_id})
    assert {c["id"] for c in page["items"]} == {c["id"] for c in call.store.children_of(lead_id)["contacts"]}


@case("get_contact", writes=False)
async def _(call: Call) -> None:
    contact_id = next(iter(call.store.contacts))
    assert (await call("get_contact", {"contact_id": contact_id}))["id"] == contact_id


@case("create_contact")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    contact = await call(
        "create_contact",
        {
            "lead_id": lead_id,
            "name": example("create_contact", "name"),
            "phones": [{"phone": "+15125550100"}],
        },
    )
    stored = call.store.contacts[contact["id"]]
    assert stored["lead_id"] == lead_id and stored["phones"][0]["phone"] == "+15125550100"


@case("update_contact")
async def _(call: Call) -> None:
    contact_id = next(iter(call.store.contacts))
    await call("update_contact", {"contact_id": contact_id, "title": "CEO"})
    assert call.store.contacts[contact_id]["title"] == "CEO"


@case("delete_contact")
async def _(call: Call) -> None:
    contact_id = next(iter(call.store.contacts))
    await call("delete_contact", {"contact_id": contact_id})
    assert contact_id not in call.store.contacts


# ----- opportunities --------------------------------------------------------------------------
@case("list_opportunities", writes=False)
async def _(call: Call) -> None:
    statuses = call.store.opportunity_statuses()
    active = sum(1 for o in call.store.opportunities.values() if statuses[o["status_id"]]["type"] == "active")
    page = await call("list_opportunities", {"status_type": "active", "limit": 100})
    assert active > 0 and page["total_results"] == active
    assert page["summary"]["count_by_value_period"]


@case("get_opportunity", writes=False)
async def _(call: Call) -> None:
    opp_id = next(iter(call.store.opportunities))
    assert (await call("get_opportunity", {"opportunity_id": opp_id}))["id"] == opp_id


@case("create_opportunity")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    value = example("create_opportunity", "value")
    opp = await call("create_opportunity", {"lead_id": lead_id, "value": value, "confidence": 50})
    assert call.store.opportunities[opp["id"]]["value"] == value == 250000


@case("update_opportunity")
async def _(call: Call) -> None:
    statuses = call.store.opportunity_statuses()
    opp_id = next(
        o["id"] for o in call.store.opportunities.values() if statuses[o["status_id"]]["type"] == "active"
    )
    status = statuses[call.store.opportunities[opp_id]["status_id"]]
    won = next(s for s in call.store.pipelines[status["pipeline_id"]]["statuses"] if s["type"] == "won")
    await call("update_opportunity", {"opportunity_id": opp_id, "status_id": won["id"]})
    stored = call.store.opportunities[opp_id]
    assert stored["status_id"] == won["id"] and stored["date_won"]


@case("delete_opportunity")
async def _(call: Call) -> None:
    opp_id = next(iter(call.store.opportunities))
    await call("delete_opportunity", {"opportunity_id": opp_id})
    assert opp_id not in call.store.opportunities


# ----- activities -----------------------------------------------------------------------------
@case("list_activities", writes=False)
async def _(call: Call) -> None:
    """Two types at once: Close takes comma lists for ``_type``."""
    lead_id = call.lead_with_activities("Note", "Call")
    expected = {
        a["id"] for a in call.store.children_of(lead_id)["activities"] if a["_type"] in ("Note", "Call")
    }
    page = await call("list_activities", {"lead_id": lead_id, "type": ["Note", "Call"], "limit": 100})
    assert expected and {a["id"] for a in page["items"]} == expected


@case("create_note")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    note = await call("create_note", {"lead_id": lead_id, "note": example("create_note", "note")})
    stored = call.store.activities[note["id"]]
    assert stored["_type"] == "Note" and stored["lead_id"] == lead_id


@case("log_call")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    logged = await call("log_call", {"lead_id": lead_id, "duration": 300, "direction": "outbound"})
    stored = call.store.activities[logged["id"]]
    assert stored["_type"] == "Call" and stored["duration"] == 300 and stored["direction"] == "outbound"


@case("create_email")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    email = await call(
        "create_email", {"lead_id": lead_id, "status": "draft", "subject": "Hi", "to": ["a@b.example"]}
    )
    stored = call.store.activities[email["id"]]
    assert stored["_type"] == "Email" and stored["status"] == "draft" and stored["subject"] == "Hi"


# ----- tasks ----------------------------------------------------------------------------------
@case("list_tasks", writes=False)
async def _(call: Call) -> None:
    today = date.today().isoformat()
    page = await call("list_tasks", {"view": "inbox", "limit": 100})
    stored = [call.store.tasks[t["id"]] for t in page["items"]]
    assert stored and all(not t["is_complete"] and (t.get("date") or "")[:10] <= today for t in stored)


@case("get_task", writes=False)
async def _(call: Call) -> None:
    task_id = next(t for t in call.store.tasks if call.store.tasks[t]["_type"] == "lead")
    assert (await call("get_task", {"task_id": task_id}))["id"] == task_id


@case("create_task")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    text = example("create_task", "text")
    task = await call("create_task", {"lead_id": lead_id, "text": text, "date": "2030-01-01"})
    assert call.store.tasks[task["id"]]["text"] == text == "Send the proposal"


@case("update_task")
async def _(call: Call) -> None:
    task_id = next(t["id"] for t in call.store.tasks.values() if not t["is_complete"])
    await call("update_task", {"task_id": task_id, "is_complete": True})
    assert call.store.tasks[task_id]["is_complete"]


@case("bulk_update_tasks")
async def _(call: Call) -> None:
    lead_id = next(t["lead_id"] for t in call.store.tasks.values() if not t["is_complete"])
    open_ = [t["id"] for t in call.store.children_of(lead_id)["tasks"] if not t["is_complete"]]
    await call(
        "bulk_update_tasks", {"filter_lead_id": lead_id, "filter_is_complete": False, "is_complete": True}
    )
    assert open_ and all(call.store.tasks[t]["is_complete"] for t in open_)


@case("delete_task")
async def _(call: Call) -> None:
    task_id = next(iter(call.store.tasks))
    await call("delete_task", {"task_id": task_id})
    assert task_id not in call.store.tasks


# ----- custom fields --------------------------------------------------------------------------
async def _custom_fields(call: Call, kind: str) -> None:
    page = await call(f"list_{kind}_custom_fields", {})
    assert {f["id"] for f in page["items"]} == set(call.store.custom_fields[kind]) != set()


for _kind in ("lead", "contact", "opportunity"):
    case(f"list_{_kind}_custom_fields", writes=False)(lambda call, kind=_kind: _custom_fields(call, kind))


@case("create_lead_custom_field")
async def _(call: Call) -> None:
    cf = await call("create_lead_custom_field", {"name": "Renewal date", "type": "date"})
    assert call.store.custom_fields["lead"][cf["id"]]["type"] == "date"


# ----- users and the organization ---------------------------------------------------------------
@case("get_current_user", writes=False)
async def _(call: Call) -> None:
    me = await call("get_current_user", {})
    assert me["organizations"][0]["id"] == call.store.org["id"] and me["id"] in call.store.users


@case("list_users", writes=False)
async def _(call: Call) -> None:
    page = await call("list_users", {"order_by": "last_name,first_name"})
    users = sorted(call.store.users.values(), key=lambda u: (u["last_name"], u["first_name"]))
    assert [u["id"] for u in page["items"]] == [u["id"] for u in users] and len(users) == 4


@case("get_user", writes=False)
async def _(call: Call) -> None:
    user_id = list(call.store.users)[1]
    assert (await call("get_user", {"user_id": user_id}))["id"] == user_id


@case("get_organization", writes=False)
async def _(call: Call) -> None:
    org = await call("get_organization", {"organization_id": call.store.org["id"]})
    assert len(org["pipelines"]) == len(call.store.pipelines) == 2


@case("update_organization")
async def _(call: Call) -> None:
    await call("update_organization", {"organization_id": call.store.org["id"], "name": "Acme Renamed"})
    assert call.store.org["name"] == "Acme Renamed"


@case("list_lead_statuses", writes=False)
async def _(call: Call) -> None:
    page = await call("list_lead_statuses", {})
    assert [s["label"] for s in page["items"]] == [s["label"] for s in call.store.lead_statuses.values()]
    assert page["count"] == 5


@case("list_pipelines", writes=False)
async def _(call: Call) -> None:
    page = await call("list_pipelines", {})
    assert {p["id"] for p in page["items"]} == set(call.store.pipelines) and page["count"] == 2


# ----- webhooks and events --------------------------------------------------------------------
async def _hook(call: Call) -> str:
    hook = await call(
        "create_webhook",
        {"url": "https://example.com/hook", "events": [{"object_type": "lead", "action": "created"}]},
    )
    return str(hook["id"])


@case("create_webhook")
async def _(call: Call) -> None:
    hook_id = await _hook(call)
    assert hook_id in call.store.webhooks and len(call.store.webhooks[hook_id]["signature_key"]) == 64


@case("list_webhooks")
async def _(call: Call) -> None:
    hook_id = await _hook(call)
    assert [h["id"] for h in (await call("list_webhooks", {}))["items"]] == [hook_id]


@case("get_webhook")
async def _(call: Call) -> None:
    hook_id = await _hook(call)
    assert (await call("get_webhook", {"webhook_id": hook_id}))["url"] == "https://example.com/hook"


@case("update_webhook")
async def _(call: Call) -> None:
    hook_id = await _hook(call)
    await call("update_webhook", {"webhook_id": hook_id, "status": "paused"})
    assert call.store.webhooks[hook_id]["status"] == "paused"


@case("delete_webhook")
async def _(call: Call) -> None:
    hook_id = await _hook(call)
    await call("delete_webhook", {"webhook_id": hook_id})
    assert hook_id not in call.store.webhooks


@case("list_events", writes=False)
async def _(call: Call) -> None:
    page = await call("list_events", {"limit": 5})
    newest = sorted(reversed(call.store.events), key=lambda e: e["date_updated"], reverse=True)[:5]
    assert page["count"] == 5 and [e["id"] for e in page["items"]] == [e["id"] for e in newest]


# ----- the tests ------------------------------------------------------------------------------
def test_every_tool_has_exactly_one_case():
    assert set(CASES) == {s.name for s in SPECS}, f"missing: {sorted({s.name for s in SPECS} - set(CASES))}"


# Sandbox fidelity bugs these cases found, to be fixed in the sandbox (not worked around here).
KNOWN_SANDBOX_GAPS = {
    "list_activities": "the sandbox ignores comma-separated _type",
    "list_events": "the sandbox orders the Event Log by insertion, not newest date_updated first",
}


@pytest.mark.parametrize(
    "tool",
    [
        pytest.param(t, marks=pytest.mark.xfail(strict=True, reason=KNOWN_SANDBOX_GAPS[t]))
        if t in KNOWN_SANDBOX_GAPS
        else t
        for t in sorted(t for t, c in CASES.items() if not c.writes)
    ],
)
async def test_read_tool(tool: str, shared_sandbox: RunningSandbox) -> None:
    async with connect(shared_sandbox) as client:
        await CASES[tool].run(Call(client, shared_sandbox))


@pytest.mark.parametrize("tool", sorted(t for t, c in CASES.items() if c.writes))
async def test_write_tool(tool: str, sandbox: RunningSandbox) -> None:
    async with connect(sandbox) as client:
        await CASES[tool].run(Call(client, sandbox))
