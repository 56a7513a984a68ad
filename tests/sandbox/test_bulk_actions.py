"""Bulk actions over real HTTP: jobs advance one step per GET, edit/delete really apply to the
leads matched at creation, email/sequence enrolment are recorded and never sent, pause/resume."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio
LEADS = {"type": "object_type", "object_type": "lead"}


def only(*lead_ids: str) -> dict[str, Any]:
    return {"type": "and", "queries": [LEADS, {"type": "id", "values": list(lead_ids)}]}


async def run(http: Any, path: str, job_id: str) -> list[str]:
    return [(await http.get(f"{path}{job_id}/")).json()["status"] for _ in range(3)]


async def test_bulk_edit_sets_the_status_of_exactly_the_matched_leads(http, sandbox):
    store = sandbox.sandbox.store()
    picked = list(store.leads)[:3]
    target = next(s for s in store.lead_statuses if s != store.leads[picked[0]]["status_id"])
    body = {"type": "set_lead_status", "lead_status_id": target, "s_query": only(*picked)}
    r = await http.post("/bulk_action/edit/", json=body)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["id"].startswith("bulk_") and job["status"] == "created" and job["n_leads"] == 3
    assert "_lead_ids" not in job
    assert store.leads[picked[0]]["status_id"] != target  # nothing applied before the job runs
    assert await run(http, "/bulk_action/edit/", job["id"]) == ["processing", "done", "done"]
    assert {store.leads[i]["status_id"] for i in picked} == {target}
    events = [e for e in store.events if (e.get("meta") or {}).get("bulk_action_id") == job["id"]]
    assert {e["object_id"] for e in events} <= set(picked) and events


async def test_bulk_edit_sets_a_custom_field(http, sandbox):
    store = sandbox.sandbox.store()
    field = next(f for f in store.custom_fields["lead"].values() if f["type"] == "choices")
    lead_id = next(
        i for i, lead in store.leads.items() if lead.get(f"custom.{field['id']}") != field["choices"][0]
    )
    value = field["choices"][0]
    body = {"type": "set_custom_field", "custom_field_name": field["name"], "custom_field_value": value}
    job = (await http.post("/bulk_action/edit/", json={**body, "s_query": only(lead_id)})).json()
    await run(http, "/bulk_action/edit/", job["id"])
    assert store.leads[lead_id][f"custom.{field['id']}"] == value


async def test_bulk_delete_honours_sort_results_limit_and_pause(http, sandbox):
    store = sandbox.sandbox.store()
    sort = [
        {"field": {"type": "regular_field", "object_type": "lead", "field_name": "name"}, "direction": "asc"}
    ]
    r = await http.post("/bulk_action/delete/", json={"s_query": LEADS, "sort": sort, "results_limit": 2})
    job = r.json()
    assert job["n_leads"] == 2 and job["bulk_object_type"] == "lead", r.text
    first_two = [
        lead["id"] for lead in sorted(store.leads.values(), key=lambda lead: lead["name"].lower())[:2]
    ]
    paused = await http.put(f"/bulk_action/delete/{job['id']}/", json={"status": "paused"})
    assert paused.json()["status"] == "paused"
    assert await run(http, "/bulk_action/delete/", job["id"]) == ["paused"] * 3
    assert all(i in store.leads for i in first_two)
    await http.put(f"/bulk_action/delete/{job['id']}/", json={"status": "processing"})
    assert (await http.get(f"/bulk_action/delete/{job['id']}/")).json()["status"] == "done"
    assert all(i not in store.leads for i in first_two)
    assert (await http.put(f"/bulk_action/delete/{job['id']}/", json={"status": "paused"})).status_code == 400


async def test_bulk_email_and_sequence_enrolment_are_recorded_not_sent(http, sandbox):
    store = sandbox.sandbox.store()
    lead_id = next(i for i in store.leads if any(c.get("emails") for c in store.children_of(i)["contacts"]))
    activities_before = len(store.activities)
    job = (
        await http.post(
            "/bulk_action/email/",
            json={"s_query": only(lead_id), "template_id": next(iter(store.collection("email_templates")))},
        )
    ).json()
    assert job["n_leads"] == 1 and job["contact_preference"] == "lead"
    await run(http, "/bulk_action/email/", job["id"])
    outbox = [e for e in store.collection("sandbox_outbox").values() if e["bulk_action_id"] == job["id"]]
    assert [e["lead_id"] for e in outbox] == [lead_id] and len(store.activities) == activities_before
    sequence = next(iter(store.collection("sequences")))  # seeded by the sequences area
    body = {"s_query": only(lead_id), "sequence_id": sequence, "sender_account_id": "emailacct_x"}
    body.update(sender_name="Sandbox", sender_email="me@example.com")
    job = (await http.post("/bulk_action/sequence_subscription/", json=body)).json()
    await run(http, "/bulk_action/sequence_subscription/", job["id"])
    enrolled = store.collection("sandbox_sequence_enrolments").values()
    with_emails = [c for c in store.children_of(lead_id)["contacts"] if c.get("emails")]
    assert sorted(e["contact_id"] for e in enrolled) == sorted(c["id"] for c in with_emails)


async def test_bulk_errors_are_closes_400s_and_404s(http):
    r = await http.post("/bulk_action/edit/", json={"type": "set_lead_status", "lead_status_id": "stat_nope"})
    assert r.status_code == 400
    assert r.json()["field-errors"] == {
        "s_query": "This field is required.",
        "lead_status": "Object does not exist.",
    }
    r = await http.post("/bulk_action/sequence_subscription/", json={"s_query": LEADS})
    assert r.status_code == 400 and r.json()["field-errors"]["sequence_id"] == "This field is required."
    r = await http.post("/bulk_action/delete/", json={"s_query": {"type": "nonsense"}})
    assert r.status_code == 400 and "query" in r.json()["field-errors"], r.text
    r = await http.get("/bulk_action/email/bulk_nope/")
    assert r.status_code == 404
    assert r.json() == {"error": "Empty query: BulkEmailAction matching query does not exist."}
