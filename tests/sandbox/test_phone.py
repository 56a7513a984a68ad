"""Telephony over real HTTP: renting a number records it (4xx bodies name a status), blocked
numbers and the org-wide setting, dialer sessions read-only."""

from __future__ import annotations

import httpx2
import pytest

pytestmark = pytest.mark.anyio


async def test_requesting_a_number_records_it_instead_of_renting(http, sandbox):
    store = sandbox.sandbox.store()
    r = await http.post("/phone_number/request/internal/", json={"country": "US", "sharing": "personal"})
    assert r.status_code == 201, r.text
    number = r.json()
    assert number["id"].startswith("phon_") and number["number"].startswith("+1415")
    assert (
        number["number_formatted"]
        == f"+1 {number['number'][2:5]}-{number['number'][5:8]}-{number['number'][8:]}"
    )
    assert store.collection("phone_number_rentals")[number["id"]]["request"]["sharing"] == "personal"
    assert (await http.get(f"/phone_number/{number['id']}/")).json()["user_id"] == next(iter(store.users))
    group = (
        await http.post("/phone_number/request/internal/", json={"country": "GB", "sharing": "group"})
    ).json()
    assert group["is_group_number"] and group["user_id"] is None and group["number"].startswith("+4420")
    listed = (await http.get("/phone_number/", params={"is_group_number": "true"})).json()["data"]
    assert group["id"] in {n["id"] for n in listed} and all(n["is_group_number"] for n in listed)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"country": "ZZ", "sharing": "personal"}, "error"),
        ({"country": "DE", "sharing": "personal"}, "needs-more-info"),
        ({"country": "DE", "sharing": "personal", "bundle_id": "bu_1", "with_sms": True}, "has-voice-only"),
        ({"country": "US", "sharing": "personal", "with_mms": True}, "error"),
    ],
)
async def test_a_refused_rental_names_its_status(http, sandbox, body, status):
    before = len(sandbox.sandbox.store().collection("phone_numbers"))
    r = await http.post("/phone_number/request/internal/", json=body)
    assert r.status_code == 400 and r.json()["status"] == status and r.json()["error"]
    assert len(sandbox.sandbox.store().collection("phone_numbers")) == before


async def test_phone_number_errors(http):
    r = await http.post("/phone_number/request/internal/", json={"sharing": "everyone"})
    assert r.status_code == 400 and set(r.json()["field-errors"]) == {"country", "sharing"}
    assert (await http.get("/phone_number/phon_nope/")).status_code == 404
    pid = (await http.get("/phone_number/")).json()["data"][0]["id"]
    r = await http.put(f"/phone_number/{pid}/", json={"forward_to": "555-1234"})
    assert r.status_code == 400 and "forward_to" in r.json()["field-errors"]
    r = await http.put(
        f"/phone_number/{pid}/", json={"forward_to": "+14155550100", "forward_to_enabled": True}
    )
    assert r.json()["forward_to_formatted"] == "+1 415-555-0100"
    assert (await http.delete(f"/phone_number/{pid}/")).json() == {}
    assert (await http.get(f"/phone_number/{pid}/")).status_code == 404


async def test_blocked_numbers(http):
    r = await http.post("/blocked_phone_number/", json={"phone": "+15005550001", "reason": "Spam"})
    assert r.status_code == 201 and r.json()["phone"] == "+15005550001"
    bid = r.json()["id"]
    again = await http.post("/blocked_phone_number/", json={"phone": "+15005550001", "reason": "Twice"})
    assert again.status_code == 400 and "phone" in again.json()["field-errors"]
    bad = await http.post("/blocked_phone_number/", json={"phone": "12345", "reason": "x"})
    assert bad.status_code == 400 and "phone" in bad.json()["field-errors"]
    missing = await http.put(f"/blocked_phone_number/{bid}/", json={})
    assert missing.status_code == 400 and "reason" in missing.json()["field-errors"]
    assert (await http.put(f"/blocked_phone_number/{bid}/", json={"reason": "Fraud"})).json()[
        "reason"
    ] == "Fraud"
    gone = await http.delete(f"/blocked_phone_number/{bid}/")
    assert gone.status_code == 204 and gone.content == b""
    assert (await http.get(f"/blocked_phone_number/{bid}/")).status_code == 404


async def test_blocked_number_settings_are_routed_before_ids_and_admin_only(http, sandbox):
    assert (await http.get("/blocked_phone_number/settings/")).json() == {
        "reject_anonymous_inbound_calls": False
    }
    bad = await http.put("/blocked_phone_number/settings/", json={"reject_anonymous_inbound_calls": "yes"})
    assert bad.status_code == 400 and "reject_anonymous_inbound_calls" in bad.json()["field-errors"]
    async with httpx2.AsyncClient(
        base_url=sandbox.base_url, auth=(f"{sandbox.api_key}_restricted", "")
    ) as user:
        denied = await user.put(
            "/blocked_phone_number/settings/", json={"reject_anonymous_inbound_calls": True}
        )
    assert denied.status_code == 403
    ok = await http.put("/blocked_phone_number/settings/", json={"reject_anonymous_inbound_calls": True})
    assert ok.json() == {"reject_anonymous_inbound_calls": True}
    assert (await http.get("/blocked_phone_number/settings/")).json() == {
        "reject_anonymous_inbound_calls": True
    }


async def test_dialer_sessions_are_read_only_and_filtered(http):
    r = await http.get("/dialer/", params={"status__in": "active,paused"})
    assert sorted(d["status"] for d in r.json()["data"]) == ["active", "paused"]
    did = r.json()["data"][0]["id"]
    assert (await http.get(f"/dialer/{did}/")).json()["id"] == did
    assert (await http.get("/dialer/dialer_nope/")).status_code == 404
    assert (await http.post("/dialer/", json={})).status_code == 405
