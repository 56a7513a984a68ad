"""Comments written by hand (areas/comments.py), over real HTTP: one thread per object, removal
keeps the comment until the thread's last one goes, own-comment edits, required filters, cascade."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

pytestmark = pytest.mark.anyio


def _store(sandbox: Any) -> Any:
    return sandbox.sandbox.store()


async def test_comments_on_one_object_share_a_thread_that_goes_with_the_last(http, sandbox):
    contact = next(iter(_store(sandbox).contacts.values()))
    first = (await http.post("/comment/", json={"object_id": contact["id"], "body": "one"})).json()
    second = (await http.post("/comment/", json={"object_id": contact["id"], "body": "two"})).json()
    assert first["thread_id"] == second["thread_id"] and first["object_type"] == "contact"
    thread = (await http.get(f"/comment_thread/{first['thread_id']}/")).json()
    assert [c["body"] for c in thread["comments"]] == ["one", "two"] and thread["lead_id"] == contact[
        "lead_id"
    ]
    r = await http.delete(f"/comment/{first['id']}/")
    assert (r.status_code, r.content) == (204, b"")
    kept = (await http.get(f"/comment/{first['id']}/")).json()
    assert (kept["body"], kept["is_removed"]) == ("", True)  # "the comment object still exists"
    await http.delete(f"/comment/{second['id']}/")
    assert (await http.get(f"/comment_thread/{first['thread_id']}/")).status_code == 404
    assert (await http.get(f"/comment/{first['id']}/")).status_code == 404


async def test_listing_needs_exactly_one_of_object_id_and_thread_id(http, sandbox):
    thread = next(iter(_store(sandbox).collection("comment_threads").values()))
    for params in ({}, {"object_id": thread["object_id"], "thread_id": thread["id"]}):
        r = await http.get("/comment/", params=params)
        assert r.status_code == 400 and r.json()["errors"] == [
            "Exactly one of object_id or thread_id must be provided."
        ]
    r = await http.get("/comment_thread/", params={"ids": thread["id"]})
    assert [t["id"] for t in r.json()["data"]] == [thread["id"]]


async def test_only_the_author_edits_a_comment(http, sandbox):
    store = _store(sandbox)
    admin = next(iter(store.users))
    theirs = next(c for c in store.collection("comments").values() if c["created_by"] != admin)
    r = await http.put(f"/comment/{theirs['id']}/", json={"body": "hijack"})
    assert r.status_code == 403 and store.collection("comments")[theirs["id"]]["body"] != "hijack"
    restricted = next(c for c in sandbox.sandbox.credentials.values() if c.secret.endswith("_restricted"))
    mine = (await http.post("/comment/", json={"object_id": theirs["object_id"], "body": "admin's"})).json()
    async with httpx2.AsyncClient(base_url=sandbox.base_url, auth=(restricted.secret, "")) as other:
        assert (await other.delete(f"/comment/{mine['id']}/")).status_code == 403


async def test_comment_errors(http, sandbox):
    lead = next(iter(_store(sandbox).leads))
    r = await http.post("/comment/", json={"object_id": "lead_nope", "body": "x"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"object_id": "Object does not exist."}
    r = await http.post("/comment/", json={"object_id": lead})
    assert r.json()["field-errors"] == {"body": "This field is required."}
    r = await http.get("/comment/comm_nope/")
    assert r.status_code == 404 and r.json() == {
        "error": "Empty query: Comment matching query does not exist."
    }
    assert (await http.get("/comment_thread/cmth_nope/")).status_code == 404


async def test_comments_go_with_their_lead_and_move_with_a_merge(http, sandbox):
    store = _store(sandbox)
    source, dest = list(store.leads)[-2:]
    moved = (await http.post("/comment/", json={"object_id": source, "body": "move me"})).json()
    assert (await http.post("/lead/merge/", json={"source": source, "destination": dest})).status_code == 200
    assert store.collection("comments")[moved["id"]]["lead_id"] == dest
    assert store.collection("comment_threads")[moved["thread_id"]]["lead_id"] == dest
    await http.delete(f"/lead/{dest}/")
    assert moved["id"] not in store.collection("comments") and moved["thread_id"] not in store.collection(
        "comment_threads"
    )
