"""Connected accounts, Send As and unsubscribed emails over real HTTP."""

from __future__ import annotations

import httpx2
import pytest

pytestmark = pytest.mark.anyio


def _users(store) -> list[str]:
    return list(store.users)  # the first is the demo key's user


async def test_unsubscribe_then_resubscribe_by_url_encoded_address(http, sandbox):
    r = await http.post("/unsubscribe/email/", json={"email": "Pat.Doe+news@Example.com"})
    assert r.status_code == 201 and r.json()["email"] == "pat.doe+news@example.com"
    again = await http.post("/unsubscribe/email/", json={"email": "pat.doe+news@example.com"})
    assert again.status_code == 201 and again.json() == r.json()
    listed = [e["email"] for e in (await http.get("/unsubscribe/email/")).json()["data"]]
    assert listed.count("pat.doe+news@example.com") == 1
    r = await http.delete("/unsubscribe/email/pat.doe%2Bnews%40example.com/")
    assert r.status_code == 200 and r.json() == {}
    assert "pat.doe+news@example.com" not in sandbox.sandbox.store().collection("unsubscribed_emails")


async def test_unsubscribe_errors(http, sandbox):
    r = await http.post("/unsubscribe/email/", json={"email": "nope"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"email": "Not a valid email address."}
    r = await http.post("/unsubscribe/email/", json={})
    assert r.status_code == 400 and r.json()["field-errors"] == {"email": "This field is required."}
    r = await http.delete("/unsubscribe/email/not-an-address/")
    assert r.status_code == 400 and r.json()["field-errors"] == {
        "email_address": "Not a valid email address."
    }
    r = await http.delete("/unsubscribe/email/never%40example.com/")
    assert r.status_code == 404
    assert r.json() == {"error": "Empty query: UnsubscribedEmail matching query does not exist."}
    seeded = next(iter(sandbox.sandbox.store().collection("unsubscribed_emails")))
    twice = seeded.replace("@", "%2540")  # a client that encoded the address twice
    assert (await http.delete(f"/unsubscribe/email/{twice}/")).status_code == 200


async def test_send_as_lists_only_your_grants(http, sandbox):
    store = sandbox.sandbox.store()
    me, marco, keiko = _users(store)[:3]
    r = await http.get("/send_as/")
    assert [(g["allowing_user_id"], g["allowed_user_id"]) for g in r.json()["data"]] == [(me, marco)]
    r = await http.get("/send_as/", params={"allowing_user_id": marco, "allowed_user_id": keiko})
    assert r.status_code == 400 and "your own user ID" in r.json()["error"]
    r = await http.get("/send_as/", params={"allowed_user_id": me})
    assert r.status_code == 200 and r.json()["data"] == []


async def test_send_as_create_and_delete(http, sandbox):
    store = sandbox.sandbox.store()
    me, marco, keiko = _users(store)[:3]
    r = await http.post("/send_as/", json={"allowing_user_id": marco, "allowed_user_id": keiko})
    assert r.status_code == 400 and r.json()["field-errors"] == {
        "allowing_user_id": "Must be your own user ID."
    }
    r = await http.post("/send_as/", json={"allowed_user_id": marco})
    assert r.status_code == 400 and "allowed_user_id" in r.json()["field-errors"]  # already granted
    r = await http.post("/send_as/", json={"allowed_user_id": keiko})
    assert r.status_code == 201 and r.json()["allowing_user_id"] == me
    r = await http.delete("/send_as/", params={"allowing_user_id": me})
    assert r.status_code == 400 and r.json()["field-errors"] == {"allowed_user_id": "This field is required."}
    r = await http.delete("/send_as/", params={"allowing_user_id": me, "allowed_user_id": keiko})
    assert r.status_code == 204 and r.content == b""
    r = await http.delete("/send_as/", params={"allowing_user_id": me, "allowed_user_id": keiko})
    assert r.status_code == 404


async def test_a_send_as_grant_is_visible_only_to_its_two_users(http, sandbox):
    store = sandbox.sandbox.store()
    _me, _marco, keiko = _users(store)[:3]
    gid = (await http.post("/send_as/", json={"allowed_user_id": keiko})).json()["id"]
    assert (await http.get(f"/send_as/{gid}/")).json()["allowed_user_id"] == keiko
    marco_key = (f"{sandbox.api_key}_restricted", "")  # the demo org's non-admin user, Marco
    async with httpx2.AsyncClient(base_url=sandbox.base_url, auth=marco_key) as marco:
        r = await marco.get(f"/send_as/{gid}/")
        assert r.status_code == 404 and r.json() == {
            "error": "Empty query: SendAs matching query does not exist."
        }


async def test_send_as_bulk(http, sandbox):
    store = sandbox.sandbox.store()
    _me, marco, keiko, sam = _users(store)[:4]
    r = await http.post("/send_as/bulk/", json={"allow": [keiko, sam], "disallow": [marco]})
    assert r.status_code == 200
    assert sorted(g["allowed_user_id"] for g in r.json()["data"]) == sorted([keiko, sam])
    r = await http.post("/send_as/bulk/", json={"allow": ["user_nope"]})
    assert r.status_code == 400 and r.json()["field-errors"] == {"allow": "Object does not exist."}
    r = await http.post("/send_as/bulk/", json={"allow": [keiko], "disallow": [keiko]})
    assert r.status_code == 400 and "disallow" in r.json()["field-errors"]


async def test_connected_accounts_are_read_only_and_filter_by_user(http, sandbox):
    store = sandbox.sandbox.store()
    user = _users(store)[1]
    r = await http.get("/connected_account/", params={"user_id": user})
    assert [a["user_id"] for a in r.json()["data"]] == [user]
    assert r.json()["data"][0]["id"].startswith("emailacct_")
    assert (await http.post("/connected_account/", json={})).status_code == 405
    assert (await http.get("/connected_account/emailacct_nope/")).status_code == 404
