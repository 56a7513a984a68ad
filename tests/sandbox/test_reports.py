"""Reports over real HTTP: every figure is counted from the store; ``{org_id}`` must be the
caller's organization."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio


def org(sandbox: Any) -> str:
    return str(sandbox.sandbox.store().org["id"])


async def test_activity_report_counts_the_stored_activities(http, sandbox):
    store = sandbox.sandbox.store()
    metrics = (await http.get("/report/activity/metrics/")).json()["data"]
    assert {"calls.all.count", "emails.sent.count", "leads.created.count"} <= {m["key"] for m in metrics}
    body = {
        "type": "comparison",
        "relative_range": "all-time",
        "metrics": ["calls.all.count", "leads.created.count"],
    }
    report = (await http.post("/report/activity/", json=body)).json()
    calls = [a for a in store.activities.values() if a["_type"] == "Call"]
    assert report["totals"] == {"calls.all.count": len(calls), "leads.created.count": len(store.leads)}
    per_user = {row["user_id"]: row["calls.all.count"] for row in report["data"]}
    assert per_user == {u: sum(1 for a in calls if a["user_id"] == u) for u in store.users}
    r = await http.post("/report/activity/", json={"type": "overview", "relative_range": "today"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"metrics": "This field is required."}
    r = await http.post(
        "/report/activity/", json={"type": "overview", "metrics": ["nope"], "relative_range": "today"}
    )
    assert r.status_code == 400 and "metrics" in r.json()["field-errors"]


async def test_funnel_counts_the_pipelines_opportunities(http, sandbox):
    store = sandbox.sandbox.store()
    pipeline = next(iter(store.pipelines.values()))
    ids = {s["id"]: s["type"] for s in pipeline["statuses"]}
    opps = [o for o in store.opportunities.values() if o["status_id"] in ids]
    body = {"pipeline": pipeline["id"], "type": "created-cohort", "report_relative_range": "all-time"}
    totals = (await http.post("/report/funnel/opportunity/totals/", json=body)).json()["data"]
    assert totals["cohort_size"] == len(opps)
    assert totals["won_count"] == sum(1 for o in opps if ids[o["status_id"]] == "won")
    stages = (await http.post("/report/funnel/opportunity/stages/", json=body)).json()["data"]
    assert stages[0]["entered"] >= stages[-1]["entered"]
    assert sum(s["in_stage"] for s in stages) == sum(1 for o in opps if ids[o["status_id"]] != "lost")
    r = await http.post("/report/funnel/opportunity/stages/", json={**body, "pipeline": "pipe_nope"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"pipeline": "Object does not exist."}


async def test_lead_status_report_follows_a_status_change(http, sandbox):
    store = sandbox.sandbox.store()
    overall = (await http.get(f"/report/statuses/lead/{org(sandbox)}/")).json()["status_overview"]
    assert {r["status_id"]: r["ended"] for r in overall} == {
        s: sum(1 for lead in store.leads.values() if lead["status_id"] == s) for s in store.lead_statuses
    }
    opp = next(iter(store.opportunities.values()))
    new = next(s for s in store.opportunity_statuses() if s != opp["status_id"])
    old = opp["status_id"]
    params = {"date_start": "2000-01-01", "date_end": "2100-01-01"}
    url = f"/report/statuses/opportunity/{org(sandbox)}/"

    def moves(report: dict) -> int:  # the seed already holds status changes (activities area)
        pair = (old, new)
        return sum(
            t["count"]
            for t in report["status_transitions"]
            if (t["from_status_id"], t["to_status_id"]) == pair
        )

    before = (await http.get(url, params=params)).json()
    assert (await http.put(f"/opportunity/{opp['id']}/", json={"status_id": new})).status_code == 200
    report = (await http.get(url, params=params)).json()
    rows = {r["status_id"]: r for r in report["status_overview"]}
    assert rows[new]["entered"] >= 1 and rows[old]["left"] >= 1
    assert moves(report) == moves(before) + 1


async def test_sent_emails_and_custom_reports(http, sandbox):
    store = sandbox.sandbox.store()
    sent = [
        a
        for a in store.activities.values()
        if a["_type"] == "Email" and a["direction"] == "outgoing" and a["status"] == "sent"
    ]
    report = (await http.get(f"/report/sent_emails/{org(sandbox)}/")).json()
    assert report["total_sent"] == len(sent) > 0
    fields = {f["id"] for f in (await http.get("/report/custom/fields/")).json()["data"]}
    assert {"lead.date_created", "lead.count", "opportunity.value"} <= fields
    params = {"x": "opportunity.status_id", "y": "opportunity.value", "transform_y": "sum"}
    rows = (await http.get(f"/report/custom/{org(sandbox)}/", params=params)).json()["data"]
    expect: dict[str, int] = {}
    for o in store.opportunities.values():
        if o.get("value") is not None:
            expect[o["status_id"]] = expect.get(o["status_id"], 0) + o["value"]
    assert {r["x"]: r["y"] for r in rows} == expect
    r = await http.get(f"/report/custom/{org(sandbox)}/", params={"x": "lead.nope", "y": "lead.count"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"x": "Unknown field."}


@pytest.mark.parametrize("path", ["statuses/lead", "statuses/opportunity", "sent_emails", "custom"])
async def test_another_org_id_is_a_404(http, path):
    r = await http.get(
        f"/report/{path}/orga_someoneElse/", params={"x": "lead.date_created", "y": "lead.count"}
    )
    assert r.status_code == 404 and r.json() == {
        "error": "Empty query: Organization matching query does not exist."
    }
