"""Hand-written behaviour of the activity types beyond note/call/email, over real HTTP."""

from __future__ import annotations

import httpx2
import pytest

pytestmark = pytest.mark.anyio


def _lead_with_contact(store) -> tuple[str, str]:
    contact = next(c for c in store.contacts.values() if c.get("phones"))
    return contact["lead_id"], contact["id"]


async def test_sms_draft_is_sent_by_moving_it_to_outbox_and_recorded_not_sent(http, sandbox):
    store = sandbox.sandbox.store()
    lead_id, contact_id = _lead_with_contact(store)
    r = await http.post("/activity/sms/", json={"lead_id": lead_id, "status": "draft", "text": "Hi"})
    assert r.status_code == 200, r.text
    sms = r.json()
    assert sms["_type"] == "SMS" and sms["direction"] == "outbound" and sms["id"].startswith("acti_")
    r = await http.put(f"/activity/sms/{sms['id']}/", json={"status": "outbox"})
    assert r.status_code == 400 and set(r.json()["field-errors"]) == {"local_phone", "remote_phone"}
    body = {"status": "outbox", "local_phone": "+16505550100", "remote_phone": "+15125550123"}
    r = await http.put(f"/activity/sms/{sms['id']}/", json=body)
    assert r.status_code == 200 and r.json()["status"] == "sent" and r.json()["date_sent"]
    assert store.collection("sent_sms")[sms["id"]]["to"] == "+15125550123"
    assert any(e["object_type"] == "activity.sms" and e["action"] == "sent" for e in store.events)
    r = await http.put(f"/activity/sms/{sms['id']}/", json={"text": "changed"})
    assert r.status_code == 400 and "status" in r.json()["field-errors"]
    inbox = (
        await http.post("/activity/sms/", json={"lead_id": lead_id, "status": "inbox", "text": "Yo"})
    ).json()
    assert inbox["direction"] == "inbound" and inbox["id"] not in store.collection("sent_sms")
    assert (await http.get("/activity/sms/acti_nope/")).status_code == 404
    r = await http.post(
        "/activity/sms/", json={**body, "lead_id": lead_id, "status": "scheduled", "text": "x"}
    )
    assert r.status_code == 400 and "date_scheduled" in r.json()["field-errors"]
    assert contact_id


async def test_whatsapp_needs_its_fields_and_renders_markdown(http, sandbox):
    lead_id, contact_id = _lead_with_contact(sandbox.sandbox.store())
    r = await http.post("/activity/whatsapp_message/", json={"lead_id": lead_id})
    assert r.status_code == 400
    assert {"contact_id", "direction", "message_markdown", "external_whatsapp_message_id"} <= set(
        r.json()["field-errors"]
    )
    body = {"lead_id": lead_id, "contact_id": contact_id, "direction": "incoming"}
    body.update(external_whatsapp_message_id="wamid.X1", local_phone="+1650", remote_phone="+1512")
    body["message_markdown"] = "Send the *price* _today_"
    msg = (await http.post("/activity/whatsapp_message/", json=body)).json()
    assert msg["message_html"] == "Send the <strong>price</strong> <em>today</em>"
    assert msg["text"] == "Send the price today"
    found = (
        await http.get("/activity/whatsapp_message/", params={"external_whatsapp_message_id": "wamid.X1"})
    ).json()
    assert [m["id"] for m in found["data"]] == [msg["id"]]


async def test_deleting_an_email_thread_deletes_its_emails(http, sandbox):
    store = sandbox.sandbox.store()
    email = next(a for a in store.activities.values() if a["_type"] == "Email")
    r = await http.get(f"/activity/emailthread/{email['thread_id']}/")
    assert r.status_code == 200 and [e["id"] for e in r.json()["emails"]] == [email["id"]]
    page = (await http.get("/activity/emailthread/", params={"lead_id": email["lead_id"]})).json()
    assert email["thread_id"] in {t["id"] for t in page["data"]}
    assert (await http.delete(f"/activity/emailthread/{email['thread_id']}/")).json() == {}
    assert email["id"] not in store.activities
    assert (await http.get(f"/activity/emailthread/{email['thread_id']}/")).status_code == 404


async def test_meeting_transcripts_on_request_and_integration_for_oauth_only(http, sandbox):
    store = sandbox.sandbox.store()
    meeting = next(a for a in store.activities.values() if a["_type"] == "Meeting" and a.get("transcripts"))
    plain = (await http.get(f"/activity/meeting/{meeting['id']}/")).json()
    assert "transcripts" not in plain and plain["title"] == meeting["title"]
    full = (
        await http.get(f"/activity/meeting/{meeting['id']}/", params={"_fields": "id,transcripts"})
    ).json()
    assert set(full) == {"id", "transcripts"} and full["transcripts"][0]["utterances"]
    r = await http.put(
        f"/activity/meeting/{meeting['id']}/", json={"user_note_html": "<p>Good</p>", "title": "x"}
    )
    assert r.status_code == 200 and store.activities[meeting["id"]]["user_note_html"] == "<p>Good</p>"
    assert store.activities[meeting["id"]]["title"] == meeting["title"]  # read-only, ignored
    path = f"/activity/meeting/{meeting['id']}/integration/"
    assert (await http.post(path, json={"integration_data": {"a": 1}})).status_code == 403
    headers = {"Authorization": f"Bearer {sandbox.api_key}_oauth"}
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=headers) as oauth:
        assert (await oauth.post(path, json={"integration_data": {"a": 1}})).status_code == 200
        assert (await oauth.post(path, json={"integration_data": {"a": 2}})).status_code == 200
        assert (await oauth.post("/activity/meeting/acti_nope/integration/", json={})).status_code == 404
    tabs = store.activities[meeting["id"]]["integrations"]
    assert [t["integration_data"] for t in tabs] == [{"a": 2}]
    assert (await http.post("/activity/meeting/", json={"lead_id": meeting["lead_id"]})).status_code == 405


async def test_status_change_activities_log_history_only(http, sandbox):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    before = store.leads[lead_id]["status_id"]
    new = next(s for s in store.lead_statuses if s != before)
    r = await http.post("/activity/status_change/lead/", json={"lead_id": lead_id, "new_status_id": new})
    assert r.status_code == 200 and r.json()["new_status_label"] == store.lead_statuses[new]["label"]
    assert store.leads[lead_id]["status_id"] == before
    r = await http.post("/activity/status_change/lead/", json={"lead_id": lead_id, "new_status_id": "stat_x"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"new_status": "Object does not exist."}
    opp = next(iter(store.opportunities.values()))
    status = next(s for s in store.opportunity_statuses().values() if s["id"] != opp["status_id"])
    body = {"lead_id": "lead_ignored", "opportunity_id": opp["id"], "new_status_id": status["id"]}
    made = (await http.post("/activity/status_change/opportunity/", json=body)).json()
    assert (
        made["new_status_type"] == status["type"]
        and store.opportunities[opp["id"]]["status_id"] == opp["status_id"]
    )
    listed = (
        await http.get("/activity/status_change/opportunity/", params={"opportunity_id": opp["id"]})
    ).json()
    assert made["id"] in {a["id"] for a in listed["data"]}
    assert (await http.delete(f"/activity/status_change/opportunity/{made['id']}/")).json() == {}
    assert made["id"] not in store.activities


async def test_custom_activity_type_is_checked_and_filter_needs_a_lead(http, sandbox):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    r = await http.post("/activity/custom/", json={"lead_id": lead_id, "custom_activity_type_id": "bad"})
    assert r.status_code == 400 and "custom_activity_type" in r.json()["field-errors"]
    unknown = {"lead_id": lead_id, "custom_activity_type_id": "actitype_Demo1"}  # well formed, not declared
    r = await http.post("/activity/custom/", json=unknown)
    assert r.status_code == 400 and "custom_activity_type" in r.json()["field-errors"]
    kind, required = next(  # a seeded type whose only required field is a choice (custom objects area)
        (
            t,
            [
                cf
                for cf in store.collection("activity_custom_fields").values()
                if cf.get("custom_activity_type_id") == t and cf.get("required")
            ],
        )
        for t in store.collection("custom_activity_types")
    )
    body = {
        "lead_id": lead_id,
        "custom_activity_type_id": kind,
        **{f"custom.{cf['id']}": cf["choices"][0] for cf in required},
    }
    made = (await http.post("/activity/custom/", json=body)).json()
    assert made["status"] == "published" and made["_type"] == "CustomActivity"
    r = await http.get("/activity/custom/", params={"custom_activity_type_id": kind})
    assert r.status_code == 400 and "lead_id" in r.json()["field-errors"]
    r = await http.get("/activity/custom/", params={"custom_activity_type_id": kind, "lead_id": lead_id})
    assert [a["id"] for a in r.json()["data"]] == [made["id"]]


async def test_system_types_are_read_only_and_typed(http, sandbox):
    for path, kind in [("/activity/created/", "Created"), ("/activity/lead_merge/", "LeadMerge")]:
        page = (await http.get(path, params={"_limit": 100})).json()
        assert page["data"] and {a["_type"] for a in page["data"]} == {kind}
        assert (await http.delete(f"{path}{page['data'][0]['id']}/")).status_code == 405
    note = next(a for a in sandbox.sandbox.store().activities.values() if a["_type"] == "Note")
    assert (await http.get(f"/activity/task_completed/{note['id']}/")).status_code == 404
