"""Lead statuses, pipelines, opportunity statuses and outcomes over real HTTP (areas/pipelines.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


def _labels(store) -> list[str]:
    return [s["label"] for s in store.lead_statuses.values()]


async def test_the_seed_did_not_move_with_the_code(http, sandbox):
    """Statuses and pipelines are still seeded on the core stream, before the leads use them."""
    store = sandbox.sandbox.store()
    assert _labels(store) == ["Potential", "Qualified", "Bad Fit", "Customer", "Churned"]
    assert [p["name"] for p in store.pipelines.values()] == ["Sales", "Renewals"]
    assert {lead["status_id"] for lead in store.leads.values()} <= set(store.lead_statuses)
    org = (await http.get(f"/organization/{store.org['id']}/")).json()
    assert [s["label"] for s in org["lead_statuses"]] == _labels(store)


async def test_lead_status_create_rename_delete(http, sandbox):
    store = sandbox.sandbox.store()
    r = await http.post("/status/lead/", json={"label": "Nurturing"})
    assert r.status_code == 200 and r.json() == {"id": r.json()["id"], "label": "Nurturing"}
    sid = r.json()["id"]
    assert sid.startswith("stat_") and (await http.get(f"/status/lead/{sid}/")).json()["label"] == "Nurturing"
    lead = (await http.post("/lead/", json={"name": "Status Test", "status": "Nurturing"})).json()
    assert lead["status_id"] == sid
    assert (await http.put(f"/status/lead/{sid}/", json={"label": "Warm"})).json()["label"] == "Warm"
    assert (await http.get(f"/lead/{lead['id']}/")).json()["status_label"] == "Warm"
    r = await http.delete(f"/status/lead/{sid}/")
    assert r.status_code == 200 and r.json() == {} and sid not in store.lead_statuses


async def test_lead_status_errors(http):
    r = await http.post("/status/lead/", json={})
    assert r.status_code == 400 and r.json()["field-errors"] == {"label": "This field is required."}
    r = await http.post("/status/lead/", json={"label": "  "})
    assert r.status_code == 400 and r.json()["field-errors"] == {"label": "This field may not be blank."}
    r = await http.get("/status/lead/stat_doesnotexist/")
    assert r.status_code == 404


async def test_pipeline_create_is_201_with_naive_stamps_and_delete_needs_it_empty(http, sandbox):
    store = sandbox.sandbox.store()
    r = await http.post("/pipeline/", json={"name": "Partnerships"})
    assert r.status_code == 201
    pipe = r.json()
    assert (
        pipe["id"].startswith("pipe_")
        and pipe["statuses"] == []
        and pipe["organization_id"] == store.org["id"]
    )
    assert "+" not in pipe["date_created"] and not pipe["date_created"].endswith(
        "Z"
    )  # naive, close-api.md §5.2
    status = (
        await http.post(
            "/status/opportunity/",
            json={"label": "Intro", "status_type": "active", "pipeline_id": pipe["id"]},
        )
    ).json()
    r = await http.delete(f"/pipeline/{pipe['id']}/")
    assert r.status_code == 400 and "not empty" in r.json()["errors"][0] and pipe["id"] in store.pipelines
    assert (await http.delete(f"/status/opportunity/{status['id']}/")).status_code == 200
    r = await http.delete(f"/pipeline/{pipe['id']}/")
    assert r.status_code == 204 and r.content == b"" and pipe["id"] not in store.pipelines
    assert (await http.delete(f"/pipeline/{pipe['id']}/")).status_code == 404


async def test_pipeline_rename_and_errors(http, sandbox):
    pid = next(iter(sandbox.sandbox.store().pipelines))
    r = await http.put(f"/pipeline/{pid}/", json={"name": "New Business"})
    assert r.status_code == 200 and r.json()["name"] == "New Business"
    r = await http.post("/pipeline/", json={})
    assert r.status_code == 400 and r.json()["field-errors"] == {"name": "This field is required."}
    assert (await http.get("/pipeline/pipe_doesnotexist/")).status_code == 404


async def test_opportunity_status_lives_in_its_pipeline(http, sandbox):
    store = sandbox.sandbox.store()
    first, second = list(store.pipelines)
    r = await http.post("/status/opportunity/", json={"label": "Contract Sent", "status_type": "won"})
    status = r.json()
    assert r.status_code == 200 and status["pipeline_id"] == first  # no pipeline_id: the first one
    assert status["status_type"] == status["type"] == "won"
    assert store.pipelines[first]["statuses"][-1]["id"] == status["id"]
    listed = (await http.get("/status/opportunity/", params={"pipeline_id": second})).json()["data"]
    assert [s["id"] for s in listed] == [s["id"] for s in store.pipelines[second]["statuses"]]
    won = (await http.get("/status/opportunity/", params={"status_type": "won"})).json()["data"]
    assert sorted(s["label"] for s in won) == ["Contract Sent", "Renewed", "Won"]
    # An opportunity moved into the new won status gets date_won (opportunities area).
    opp = next(iter(store.opportunities.values()))
    moved = (await http.put(f"/opportunity/{opp['id']}/", json={"status_id": status["id"]})).json()
    assert moved["status_label"] == "Contract Sent" and moved["date_won"]
    renamed = (await http.put(f"/status/opportunity/{status['id']}/", json={"label": "Signed"})).json()
    assert (
        renamed["label"] == "Signed"
        and (await http.get(f"/opportunity/{opp['id']}/")).json()["status_label"] == "Signed"
    )


async def test_opportunity_status_errors(http, sandbox):
    store = sandbox.sandbox.store()
    r = await http.post("/status/opportunity/", json={"label": "X", "status_type": "maybe"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"status_type": "Not a valid choice."}
    r = await http.post("/status/opportunity/", json={"status_type": "active", "pipeline_id": "pipe_nope"})
    assert r.json()["field-errors"] == {
        "label": "This field is required.",
        "pipeline": "Object does not exist.",
    }
    used = next(iter(store.opportunities.values()))["status_id"]
    r = await http.delete(f"/status/opportunity/{used}/")
    assert (
        r.status_code == 400
        and "move them first" in r.json()["errors"][0]
        and used in store.opportunity_statuses()
    )
    assert (await http.get("/status/opportunity/stat_doesnotexist/")).status_code == 404
    assert (await http.put("/status/opportunity/stat_doesnotexist/", json={"label": "x"})).status_code == 404


async def test_outcomes(http, sandbox):
    outcomes = sandbox.sandbox.store().collection("outcomes")
    r = await http.post("/outcome/", json={"name": "Asked for pricing"})
    assert r.status_code == 201  # close-api.md §4
    made = r.json()
    assert made["id"].startswith("outcome_") and (made["type"], made["applies_to"]) == (
        "custom",
        ["calls", "meetings"],
    )
    assert made["created_by"] and made["organization_id"]
    vm = (await http.post("/outcome/", json={"name": "VM", "type": "vm-dropped"})).json()
    assert vm["applies_to"] == ["calls"]
    listed = (await http.get("/outcome/", params={"type": "vm-dropped"})).json()["data"]
    assert [o["name"] for o in listed] == ["Voicemail dropped", "VM"]
    r = await http.put(f"/outcome/{made['id']}/", json={"description": "Pricing question"})
    assert r.json()["description"] == "Pricing question"
    r = await http.post("/outcome/", json={"name": "x", "type": "other"})
    assert r.status_code == 400 and "type" in r.json()["field-errors"]
    assert (await http.delete(f"/outcome/{made['id']}/")).json() == {} and made["id"] not in outcomes
    assert (await http.get(f"/outcome/{made['id']}/")).status_code == 404


async def test_only_admins_change_statuses_pipelines_and_outcomes(sandbox):
    import httpx2

    store = sandbox.sandbox.store()
    pid = next(iter(store.pipelines))
    sid = next(iter(store.opportunity_statuses()))
    auth = (f"{sandbox.api_key}_restricted", "")
    async with httpx2.AsyncClient(base_url=sandbox.base_url, auth=auth) as c:
        for method, path, body in (
            ("POST", "/status/lead/", {"label": "X"}),
            ("PUT", f"/pipeline/{pid}/", {"name": "X"}),
            ("DELETE", f"/pipeline/{pid}/", None),
            ("POST", "/status/opportunity/", {"label": "X", "status_type": "active"}),
            ("PUT", f"/status/opportunity/{sid}/", {"label": "X"}),
            ("POST", "/outcome/", {"name": "X"}),
            ("POST", "/integration_link/", {"name": "X", "url": "https://x.example", "type": "lead"}),
        ):
            r = await c.request(method, path, json=body)
            assert r.status_code == 403, (method, path)
        assert (await c.get("/status/opportunity/")).status_code == 200
    assert (
        store.pipelines[pid]["name"] == "Sales"
        and store.opportunity_statuses()[sid]["label"] == "Demo Scheduled"
    )


async def test_pipeline_update_reorders_and_moves_statuses(http, sandbox):
    store = sandbox.sandbox.store()
    sales, renewals = list(store.pipelines)
    own = [s["id"] for s in store.pipelines[sales]["statuses"]]
    incoming = store.pipelines[renewals]["statuses"][0]["id"]
    order = [own[2], incoming, own[0]]
    r = await http.put(f"/pipeline/{sales}/", json={"statuses": [{"id": i} for i in order]})
    assert r.status_code == 200
    assert [s["id"] for s in r.json()["statuses"]] == [*order, own[1], *own[3:]]
    assert incoming not in [s["id"] for s in store.pipelines[renewals]["statuses"]]
    assert (await http.get(f"/status/opportunity/{incoming}/")).json()["pipeline_id"] == sales
    opp = next(o for o in store.opportunities.values() if o["status_id"] == incoming)
    assert (await http.get(f"/opportunity/{opp['id']}/")).json()["pipeline_id"] == sales  # deals move along
    r = await http.put(f"/pipeline/{sales}/", json={"statuses": [{"id": "stat_nope"}]})
    assert r.status_code == 400 and r.json()["field-errors"] == {"statuses": "Object does not exist."}
