"""End-to-end cases for the composite daily answers (tool_manifests/daily.json, close_mcp/compose.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from e2e_cases.registry import Call, case, revoked_key


@case("get_lead_overview", writes=False)
async def _(call: Call) -> None:
    lead_id = call.lead_with_contacts(2)
    lead = call.store.leads[lead_id]
    children = call.store.children_of(lead_id)
    found = await call("get_lead_overview", {"lead": lead["name"]})
    assert found["id"] == lead_id and found["display_name"] == lead["name"]
    assert [c["id"] for c in found["contacts"]] == [c["id"] for c in children["contacts"]]
    assert all(set(c) <= {"id", "name", "title", "emails", "phones"} for c in found["contacts"])
    open_tasks = {t["id"] for t in children["tasks"] if not t.get("is_complete")}
    assert {t["id"] for t in found.get("open_tasks", [])} == open_tasks
    assert not any(k.startswith("custom.cf_") for k in found)


@case("get_my_work_today", writes=False)
async def _(call: Call) -> None:
    me = next(iter(call.store.users))
    today = datetime.now(UTC).date().isoformat()
    mine = [t for t in call.store.tasks.values() if t.get("assigned_to") == me and not t.get("is_complete")]
    overdue = {t["id"] for t in mine if t.get("date") and str(t["date"])[:10] < today}
    found = await call("get_my_work_today", {})
    assert {t["id"] for t in found.get("overdue", [])} == overdue and overdue


@case("list_recent_changes", writes=False)
async def _(call: Call) -> None:
    since = (datetime.now(UTC) - timedelta(days=30)).isoformat(timespec="seconds")
    found = await call("list_recent_changes", {"since": since})
    assert found["count"] > 0 and found["by_lead"]
    users = {f"{u['first_name']} {u['last_name']}" for u in call.store.users.values()}
    lines = [line for group in found["by_lead"].values() for line in group]
    assert all(any(name in line for name in users) or "user_" not in line for line in lines)
    leads = {lead["name"] for lead in call.store.leads.values()}
    assert any(key.split(" (")[0] in leads for key in found["by_lead"])


@case("get_pipeline_figures", writes=False)
async def _(call: Call) -> None:
    found = await call("get_pipeline_figures", {})
    labels = {s["label"] for s in call.store.opportunity_statuses().values()}
    assert {row["status_label"] for row in found["opportunities"]["status_overview"]} == labels


# ----- one Close error each: the key Close no longer accepts (every argument here is checked locally) ----
revoked_key("get_my_work_today", "get_pipeline_figures", "list_recent_changes")
revoked_key("get_lead_overview", args={"lead": "Acme"})
