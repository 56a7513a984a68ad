"""Integration links and forms over real HTTP (areas/integrations.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_integration_link_crud_and_errors(http, sandbox):
    links = sandbox.sandbox.store().collection("integration_links")
    body = {"name": "ERP", "url": "https://erp.example/{{ lead.id }}", "type": "lead"}
    made = (await http.post("/integration_link/", json=body)).json()
    assert made["id"].startswith("intlink_") and links[made["id"]]["url"] == body["url"]
    listed = (await http.get("/integration_link/", params={"type": "lead"})).json()["data"]
    assert [x["name"] for x in listed] == ["Open in Billing", "ERP"]
    assert (await http.put(f"/integration_link/{made['id']}/", json={"type": "contact"})).json()[
        "type"
    ] == "contact"
    r = await http.post("/integration_link/", json={"name": "x", "type": "deal"})
    assert r.status_code == 400
    assert r.json()["field-errors"] == {
        "url": "This field is required.",
        "type": "Not a valid choice. Valid choices: contact, lead, opportunity.",
    }
    assert (await http.delete(f"/integration_link/{made['id']}/")).json() == {} and made["id"] not in links
    assert (await http.get(f"/integration_link/{made['id']}/")).status_code == 404


async def test_forms_are_read_only_and_seeded(http, sandbox):
    forms = sandbox.sandbox.store().collection("forms")
    listed = (await http.get("/form/")).json()["data"]
    assert [f["name"] for f in listed] == ["Website contact form", "Demo request"]
    one = (await http.get(f"/form/{listed[0]['id']}/")).json()
    assert all(f["id"].startswith("formfld_") for f in one["fields"]) and one == forms[one["id"]]
    assert (await http.post("/form/", json={"name": "x"})).status_code == 405
    assert (await http.get("/form/form_doesnotexist/")).status_code == 404
