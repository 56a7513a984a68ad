"""Sequences and subscriptions over real HTTP: steps, enrolment sending (recorded, not sent),
status changes and Close's errors."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


def _contact(store, n: int = 0):
    lead_ids = list(store.leads)[:20]  # the seed enrols nobody on the first leads
    return [c for c in store.contacts.values() if c["lead_id"] in lead_ids and c.get("emails")][n]


def _enrolment(store, sequence_id: str, contact) -> dict:
    account = next(iter(store.collection("connected_accounts").values()))
    body = {
        "sequence_id": sequence_id,
        "contact_id": contact["id"],
        "contact_email": contact["emails"][0]["email"],
    }
    body.update(sender_account_id=account["id"], sender_name="Dana Whitfield", sender_email=account["email"])
    return body


async def _sequence(http, store, delays: list[int]) -> dict:
    tid = next(iter(store.collection("email_templates")))
    steps = [{"step_type": "email", "delay": d, "email_template_id": tid} for d in delays]
    r = await http.post("/sequence/", json={"name": "Test sequence", "steps": steps})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_steps_are_checked(http, sandbox):
    r = await http.post(
        "/sequence/",
        json={"name": "Bad", "steps": [{"step_type": "email", "email_template_id": "tmpl_nope"}]},
    )
    assert r.status_code == 400
    assert r.json()["field-errors"] == {"steps": "Step 1: email_template_id: Object does not exist."}
    r = await http.post("/sequence/", json={"name": "Bad", "steps": [{"step_type": "fax"}]})
    assert r.status_code == 400 and "step_type" in r.json()["field-errors"]["steps"]
    assert (await http.get("/sequence/seq_nope/")).status_code == 404


async def test_put_keeps_sent_steps_and_drops_the_rest(http, sandbox):
    seq = await _sequence(http, sandbox.sandbox.store(), [0, 3600, 7200])
    first, _, third = seq["steps"]
    r = await http.put(f"/sequence/{seq['id']}/", json={"steps": [third, {"step_type": "call", "delay": 60}]})
    steps = r.json()["steps"]
    assert (
        r.status_code == 200
        and steps[0]["id"] == third["id"]
        and steps[1]["id"] not in {first["id"], third["id"]}
    )
    assert [s["step_type"] for s in steps] == ["email", "call"]


async def test_enrolment_sends_the_due_steps_as_recorded_emails(http, sandbox):
    store = sandbox.sandbox.store()
    seq = await _sequence(http, store, [0, 0, 86400])
    contact = _contact(store)
    r = await http.post("/sequence_subscription/", json=_enrolment(store, seq["id"], contact))
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["id"].startswith("sub_") and sub["status"] == "active" and sub["lead_id"] == contact["lead_id"]
    sent = [a for a in store.activities.values() if a.get("sequence_subscription_id") == sub["id"]]
    assert [a["sequence_step_id"] for a in sent] == [s["id"] for s in seq["steps"][:2]]  # not the delayed one
    first = contact["name"].split()[0]
    assert all(a["status"] == "sent" and a["to"] == [contact["emails"][0]["email"]] for a in sent)
    assert sent[0]["sender"] == f'"Dana Whitfield" <{sub["sender_email"]}>' and first in sent[0]["body_text"]
    fired = [e for e in store.events if e["object_type"] == "activity.email" and e["action"] == "sent"]
    assert {e["object_id"] for e in fired} >= {a["id"] for a in sent}


async def test_enrolment_errors(http, sandbox):
    store = sandbox.sandbox.store()
    seq = await _sequence(http, store, [0])
    contact = _contact(store)
    body = _enrolment(store, seq["id"], contact)
    r = await http.post("/sequence_subscription/", json={**body, "contact_email": "not-an-email"})
    assert r.status_code == 400 and r.json()["field-errors"] == {
        "contact_email": "Not a valid email address."
    }
    r = await http.post("/sequence_subscription/", json={**body, "sequence_id": "seq_nope"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"sequence": "Object does not exist."}
    assert (await http.post("/sequence_subscription/", json=body)).status_code == 201
    r = await http.post("/sequence_subscription/", json=body)
    assert r.status_code == 400 and r.json()["errors"] == ["Contact is already subscribed to this sequence."]
    other = _contact(store, 1)
    await http.post("/unsubscribe/email/", json={"email": other["emails"][0]["email"]})
    r = await http.post("/sequence_subscription/", json=_enrolment(store, seq["id"], other))
    assert r.status_code == 400 and "contact_email" in r.json()["field-errors"]


async def test_pause_resume_finish(http, sandbox):
    store = sandbox.sandbox.store()
    seq = await _sequence(http, store, [0])
    sub = (
        await http.post("/sequence_subscription/", json=_enrolment(store, seq["id"], _contact(store)))
    ).json()
    url = f"/sequence_subscription/{sub['id']}/"
    for status in ("paused", "active", "finished"):
        r = await http.put(url, json={"status": status})
        assert r.status_code == 200 and r.json()["status"] == status
    r = await http.put(url, json={"status": "paused"})
    assert r.status_code == 400 and r.json()["field-errors"] == {
        "status": "Cannot change status from finished to paused."
    }


async def test_listing_needs_a_filter_and_deleting_a_sequence_ends_its_enrolments(http, sandbox):
    store = sandbox.sandbox.store()
    r = await http.get("/sequence_subscription/")
    assert r.status_code == 400 and "sequence_id" in r.json()["error"]
    seq = await _sequence(http, store, [0])
    contact = _contact(store)
    sub = (await http.post("/sequence_subscription/", json=_enrolment(store, seq["id"], contact))).json()
    r = await http.get("/sequence_subscription/", params={"lead_id": contact["lead_id"]})
    assert [s["id"] for s in r.json()["data"]] == [sub["id"]]
    assert (await http.delete(f"/sequence/{seq['id']}/")).status_code == 200
    assert (await http.get(f"/sequence_subscription/{sub['id']}/")).status_code == 404


async def test_a_step_whose_template_was_deleted_sends_nothing(http, sandbox):
    store = sandbox.sandbox.store()
    seq = await _sequence(http, store, [0])
    assert (await http.delete(f"/email_template/{seq['steps'][0]['email_template_id']}/")).status_code == 200
    r = await http.post("/sequence_subscription/", json=_enrolment(store, seq["id"], _contact(store)))
    assert r.status_code == 201
    assert not [a for a in store.activities.values() if a.get("sequence_subscription_id") == r.json()["id"]]
