"""Email and SMS templates over real HTTP: the render endpoint and Close's errors."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


def _lead_and_contact(store):
    lead_id = next(lid for lid in store.leads if store.children_of(lid)["contacts"])
    return store.leads[lead_id], store.children_of(lead_id)["contacts"][0]


async def _template(http, subject: str, body: str) -> str:
    r = await http.post("/email_template/", json={"name": "Render test", "subject": subject, "body": body})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


async def test_render_fills_lead_contact_user_and_org_placeholders(http, sandbox):
    store = sandbox.sandbox.store()
    lead, contact = _lead_and_contact(store)
    me = next(iter(store.users.values()))
    tid = await _template(
        http,
        "{{ lead.display_name }} / {{organization.name}}",
        "Hi {{ contact.first_name }} {{ contact.last_name }}, {{ user.first_name }} here. {{ lead.nope }}.",
    )
    r = await http.get(
        f"/email_template/{tid}/render/", params={"lead_id": lead["id"], "contact_id": contact["id"]}
    )
    assert r.status_code == 200, r.text
    first, _, last = contact["name"].partition(" ")
    assert r.json() == {
        "subject": f"{lead['name']} / {store.org['name']}",
        "body": f"Hi {first} {last}, {me['first_name']} here. .",  # an unknown variable renders empty
    }


async def test_render_default_filter_fills_a_missing_value(http, sandbox):
    store = sandbox.sandbox.store()
    lead, contact = _lead_and_contact(store)
    store.contacts[contact["id"]]["title"] = None
    tid = await _template(
        http, "x", '{{ contact.title|default:"friend" }} {{ contact.title | default("pal") }}'
    )
    r = await http.get(
        f"/email_template/{tid}/render/", params={"lead_id": lead["id"], "contact_id": contact["id"]}
    )
    assert r.json()["body"] == "friend pal"


async def test_render_needs_lead_and_contact_of_that_lead(http, sandbox):
    store = sandbox.sandbox.store()
    lead, contact = _lead_and_contact(store)
    other = next(c for c in store.contacts.values() if c["lead_id"] != lead["id"])
    tid = next(iter(store.collection("email_templates")))
    r = await http.get(f"/email_template/{tid}/render/", params={"lead_id": lead["id"]})
    assert r.status_code == 400 and r.json()["field-errors"] == {"contact_id": "This field is required."}
    r = await http.get(
        f"/email_template/{tid}/render/", params={"lead_id": lead["id"], "contact_id": other["id"]}
    )
    assert r.status_code == 400 and r.json()["field-errors"] == {"contact": "Object does not exist."}
    r = await http.get(
        "/email_template/tmpl_nope/render/", params={"lead_id": lead["id"], "contact_id": contact["id"]}
    )
    assert r.status_code == 404
    assert r.json() == {"error": "Empty query: EmailTemplate matching query does not exist."}


async def test_render_previews_entry_n_of_a_search(http, sandbox):
    store = sandbox.sandbox.store()
    lead, _ = _lead_and_contact(store)
    tid = await _template(http, "For {{ lead.display_name }}", "")
    r = await http.get(f"/email_template/{tid}/render/", params={"query": f'"{lead["name"]}"', "entry": 0})
    body = r.json()
    assert r.status_code == 200 and body["lead_id"] == lead["id"] and body["subject"] == f"For {lead['name']}"
    assert store.contacts[body["contact_id"]]["lead_id"] == lead["id"]
    r = await http.get(f"/email_template/{tid}/render/", params={"query": f'"{lead["name"]}"', "entry": 99})
    assert r.status_code == 200 and r.json() == {}  # documented: no more entries
    r = await http.get(f"/email_template/{tid}/render/", params={"query": "x", "entry": 100, "mode": "all"})
    assert r.status_code == 400 and set(r.json()["field-errors"]) == {"entry", "mode"}


async def test_email_template_filters_and_required_name(http, sandbox):
    store = sandbox.sandbox.store()
    r = await http.post("/email_template/", json={"subject": "no name"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"name": "This field is required."}
    r = await http.get("/email_template/", params={"is_shared": "false"})
    unshared = [t["id"] for t in store.collection("email_templates").values() if not t["is_shared"]]
    assert [t["id"] for t in r.json()["data"]] == unshared and unshared


async def test_sms_template_is_created_active_and_answers_201_and_204(http, sandbox):
    r = await http.post(
        "/sms_template/", json={"name": "Hi", "text": "Hello {{ contact.first_name }}", "status": "archived"}
    )
    assert r.status_code == 201 and r.json()["status"] == "active"  # status is not settable on create (spec)
    sid = r.json()["id"]
    assert sid.startswith("smstmpl_")
    r = await http.put(f"/sms_template/{sid}/", json={"status": "deleted"})
    assert r.status_code == 400 and "status" in r.json()["field-errors"]
    r = await http.delete(f"/sms_template/{sid}/")
    assert r.status_code == 204 and r.content == b""
    assert (await http.get(f"/sms_template/{sid}/")).status_code == 404
