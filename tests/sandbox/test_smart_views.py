"""Smart views, POST /data/search/ and the lead/opportunity ``query`` on the search package,
over real HTTP (areas/smart_views.py, areas/search_data.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


def _status_id(store, label: str) -> str:
    return next(s for s, v in store.lead_statuses.items() if v["label"] == label)


def _leads_with(store, label: str) -> set[str]:
    sid = _status_id(store, label)
    return {i for i, lead in store.leads.items() if lead["status_id"] == sid}


def _status_tree(store, label: str) -> dict:
    field = {"type": "regular_field", "object_type": "lead", "field_name": "status_id"}
    condition = {
        "type": "reference",
        "reference_type": "status.lead",
        "object_ids": [_status_id(store, label)],
    }
    return {"type": "field_condition", "field": field, "condition": condition}


def _of(object_type: str, *queries: dict) -> dict:
    return {"type": "and", "queries": [{"type": "object_type", "object_type": object_type}, *queries]}


async def test_data_search_answers_with_ids_cursor_and_counts(http, sandbox):
    store = sandbox.sandbox.store()
    expected = _leads_with(store, "Qualified")
    body = {"query": _of("lead", _status_tree(store, "Qualified")), "_limit": 10, "include_counts": True}
    body["_fields"] = {"lead": ["display_name", "status_label"]}
    page = (await http.post("/data/search/", json=body)).json()
    assert len(page["data"]) == 10 and page["cursor"] and page["count"]["total"] == len(expected)
    assert all(
        item["__object_type"] == "lead" and item["status_label"] == "Qualified" for item in page["data"]
    )
    seen = {item["id"] for item in page["data"]}
    while page["cursor"]:
        page = (await http.post("/data/search/", json={**body, "cursor": page["cursor"]})).json()
        seen |= {item["id"] for item in page["data"]}
    assert seen == expected


async def test_data_search_unknown_node_is_a_400(http):
    r = await http.post("/data/search/", json={"query": {"type": "fuzzy"}})
    assert r.status_code == 400 and "unknown query type" in r.json()["field-errors"]["query"]
    r = await http.post("/data/search/", json={})
    assert r.status_code == 400 and "query" in r.json()["field-errors"]


async def test_data_search_reads_custom_fields_and_related_objects(http, sandbox):
    store = sandbox.sandbox.store()
    industry = next(c for c, f in store.custom_fields["lead"].items() if f["name"] == "Industry")
    tree = {
        "type": "field_condition",
        "field": {"type": "custom_field", "custom_field_id": industry},
        "condition": {"type": "term", "values": ["Software"]},
    }
    page = (await http.post("/data/search/", json={"query": _of("lead", tree), "_limit": 200})).json()
    expected = {i for i, lead in store.leads.items() if lead[f"custom.{industry}"] == "Software"}
    assert {item["id"] for item in page["data"]} == expected and expected
    contacts = {
        "type": "has_related",
        "this_object_type": "contact",
        "related_object_type": "lead",
        "related_query": {"type": "id", "value": next(iter(expected))},
    }
    found = (await http.post("/data/search/", json={"query": _of("contact", contacts)})).json()["data"]
    wanted = {c["id"] for c in store.children_of(next(iter(expected)))["contacts"]}
    assert {c["id"] for c in found} == wanted and wanted


async def test_lead_query_uses_the_search_syntax_and_rejects_unknown_terms(http, sandbox):
    store = sandbox.sandbox.store()
    r = await http.get("/lead/", params={"query": 'status:"Customer"', "_limit": 200})
    assert {x["id"] for x in r.json()["data"]} == _leads_with(store, "Customer")
    r = await http.get("/lead/", params={"query": "custom.Industry:Software", "_limit": 200})
    industry = next(c for c, f in store.custom_fields["lead"].items() if f["name"] == "Industry")
    expected = {i for i, lead in store.leads.items() if lead[f"custom.{industry}"] == "Software"}
    assert {x["id"] for x in r.json()["data"]} == expected and r.json()["total_results"] == len(expected)
    for bad in ("frobnicate:yes", 'status:"No Such Status"'):
        r = await http.get("/lead/", params={"query": bad})
        assert r.status_code == 400 and r.json()["field-errors"]["query"], bad


async def test_opportunity_query_and_lead_saved_search_id(http, sandbox):
    store = sandbox.sandbox.store()
    r = await http.get("/opportunity/", params={"query": "status_type:won", "_limit": 100})
    won = {
        o["id"]
        for o in store.opportunities.values()
        if store.opportunity_statuses()[o["status_id"]]["type"] == "won"
    }
    assert {o["id"] for o in r.json()["data"]} == won and won
    assert (await http.get("/opportunity/", params={"query": "bogus:1"})).status_code == 400
    view = next(v for v in store.collection("saved_searches").values() if v["name"] == "Qualified leads")
    r = await http.get("/opportunity/", params={"lead_saved_search_id": view["id"], "_limit": 100})
    qualified = _leads_with(store, "Qualified")
    expected = {o["id"] for o in store.opportunities.values() if o["lead_id"] in qualified}
    assert {o["id"] for o in r.json()["data"]} == expected and expected
    r = await http.get("/opportunity/", params={"lead_saved_search_id": "save_doesnotexist"})
    assert r.status_code == 400 and r.json()["field-errors"] == {
        "lead_saved_search_id": "Object does not exist."
    }


async def test_smart_view_crud_checks_its_query(http, sandbox):
    store = sandbox.sandbox.store()
    views = store.collection("saved_searches")
    tree = {
        "type": "and",
        "queries": [{"type": "object_type", "object_type": "lead"}, _status_tree(store, "Bad Fit")],
    }
    made = (await http.post("/saved_search/", json={"name": "Bad fits", "s_query": tree})).json()
    assert (
        made["id"].startswith("save_")
        and made["type"] == "lead"
        and made["user_id"]
        and views[made["id"]]["s_query"] == tree
    )
    run = (
        await http.post(
            "/data/search/",
            json={"query": {"type": "saved_search", "saved_search_id": made["id"]}, "_limit": 200},
        )
    ).json()
    assert {x["id"] for x in run["data"]} == _leads_with(store, "Bad Fit")
    r = await http.post("/saved_search/", json={"name": "Broken", "s_query": {"type": "fuzzy"}})
    assert r.status_code == 400 and "unknown query type" in r.json()["field-errors"]["s_query"]
    r = await http.put(f"/saved_search/{made['id']}/", json={"query": "nonsense:term"})
    assert r.status_code == 400 and views[made["id"]]["query"] is None
    text = (await http.post("/saved_search/", json={"name": "Text", "query": 'status:"Customer"'})).json()
    assert text["query"] == 'status:"Customer"'
    contacts = (await http.get("/saved_search/", params={"type": "contact"})).json()["data"]
    assert [v["name"] for v in contacts] == ["Customers' contacts"]
    assert (await http.delete(f"/saved_search/{made['id']}/")).json() == {} and made["id"] not in views
    assert (await http.get(f"/saved_search/{made['id']}/")).status_code == 404


async def test_x_tz_offset_moves_local_dates(http, sandbox):
    """A lead created now is "created on its local day" only in the header's time zone."""
    from datetime import datetime, timedelta

    lead = (await http.post("/lead/", json={"name": "Timezone Test"})).json()
    created = datetime.fromisoformat(lead["date_created"].replace("Z", "+00:00"))
    hours = 14 if created.hour >= 10 else -12  # one of them is another calendar day than UTC's
    day = (created + timedelta(hours=hours)).date().isoformat()
    field = {"type": "regular_field", "object_type": "lead", "field_name": "date_created"}
    moments = {
        "on_or_after": {"type": "fixed_local_date", "value": day, "which": "start"},
        "before": {"type": "fixed_local_date", "value": day, "which": "end"},
    }
    dated = {"type": "field_condition", "field": field, "condition": {"type": "moment_range", **moments}}
    body = {"query": _of("lead", {"type": "id", "value": lead["id"]}, dated)}
    local = (await http.post("/data/search/", json=body, headers={"x-tz-offset": str(hours)})).json()
    utc = (await http.post("/data/search/", json=body)).json()
    assert [x["id"] for x in local["data"]] == [lead["id"]] and utc["data"] == []
