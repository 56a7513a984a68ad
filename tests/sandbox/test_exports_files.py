"""Exports (job steps per GET, a gzip file of the real data served by the sandbox), the signed
upload answer and deterministic field enrichment, over real HTTP."""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

import pytest

pytestmark = pytest.mark.anyio
LEADS = {"type": "object_type", "object_type": "lead"}


async def finish(http: Any, export_id: str) -> list[dict[str, Any]]:
    return [(await http.get(f"/export/{export_id}/")).json() for _ in range(4)]


async def test_lead_export_walks_its_steps_and_serves_the_matched_leads(http, sandbox):
    store = sandbox.sandbox.store()
    picked = list(store.leads)[:3]
    query = {"type": "and", "queries": [LEADS, {"type": "id", "values": picked}]}
    r = await http.post("/export/lead/", json={"s_query": query, "format": "json", "type": "leads"})
    export = r.json()
    assert r.status_code == 200 and export["id"].startswith("expo_") and export["status"] == "created"
    steps = await finish(http, export["id"])
    assert [s["status"] for s in steps] == ["started", "in_progress", "done", "done"]
    url = steps[-1]["download_url"]
    assert url.startswith(sandbox.base_url) and steps[-1]["n_docs"] == 3
    body = await http.get(url)
    assert body.status_code == 200
    rows = json.loads(gzip.decompress(body.content))
    assert sorted(r["id"] for r in rows) == sorted(picked)
    assert all(r["name"] == store.leads[r["id"]]["name"] and "contacts" in r for r in rows)


async def test_opportunity_export_as_csv_follows_its_filters(http, sandbox):
    store = sandbox.sandbox.store()
    won = {
        i
        for i, o in store.opportunities.items()
        if store.opportunity_statuses()[o["status_id"]]["type"] == "won"
    }
    body = {"format": "csv", "params": {"status_type": "won"}, "fields": ["id", "value"]}
    export = (await http.post("/export/opportunity/", json=body)).json()
    done = (await finish(http, export["id"]))[-1]
    text = gzip.decompress((await http.get(done["download_url"])).content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert won and {r["id"] for r in rows} == won and set(rows[0]) == {"id", "value"}


async def test_export_errors(http):
    r = await http.post("/export/lead/", json={"format": "xml"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"format": "Not a valid choice."}
    r = await http.get("/export/expo_nope/")
    assert r.status_code == 404 and r.json() == {
        "error": "Empty query: Export matching query does not exist."
    }


async def test_upload_answers_a_signed_post_on_the_sandbox(http, sandbox):
    r = await http.post("/files/upload/", json={"filename": "deck.pdf", "content_type": "application/pdf"})
    answer = r.json()
    assert r.status_code == 200 and answer["upload"]["url"].startswith(sandbox.base_url)
    assert answer["upload"]["fields"]["Content-Type"] == "application/pdf"
    assert answer["download"]["url"].endswith("/deck.pdf")
    assert answer["upload"]["fields"]["key"] in sandbox.sandbox.store().collection("sandbox_uploads")
    r = await http.post("/files/upload/", json={"filename": "deck.pdf"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"content_type": "This field is required."}


async def test_enrich_field_is_deterministic_and_marked(http, sandbox):
    store = sandbox.sandbox.store()
    field = next(f for f in store.custom_fields["lead"].values() if f["type"] == "number")
    lead_id = next(iter(store.leads))
    key = f"custom.{field['id']}"
    store.leads[lead_id].pop(key, None)
    body = {
        "organization_id": store.org["id"],
        "object_type": "lead",
        "object_id": lead_id,
        "field_id": field["id"],
    }
    first = (await http.post("/enrich_field/", json=body)).json()
    assert first["sandbox"] is True and first["value_set"] is True
    assert store.leads[lead_id][key] == first["value"]
    again = (await http.post("/enrich_field/", json=body)).json()
    assert again["value"] == first["value"] and again["value_set"] is False  # no overwrite by default
    r = await http.post("/enrich_field/", json={**body, "organization_id": "orga_other"})
    assert r.status_code == 404
    r = await http.post("/enrich_field/", json={**body, "field_id": "cf_nope"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"field_id": "Object does not exist."}
