"""Scheduling links over real HTTP: OAuth-only integration upserts, own-links listing, shared
links (admins) and their per-user mappings, cascade of mappings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
async def oauth(sandbox) -> AsyncIterator[httpx2.AsyncClient]:
    headers = {"Authorization": f"Bearer {sandbox.api_key}_oauth"}
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=headers) as client:
        yield client


@pytest.fixture
async def restricted(sandbox) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=sandbox.base_url, auth=(f"{sandbox.api_key}_restricted", "")
    ) as client:
        yield client


async def test_integration_endpoints_are_oauth_only_and_upsert_by_source_id(http, oauth):
    body = {"source_id": "ev-1", "name": "Demo", "url": "https://app.example/ev-1", "duration_in_minutes": 30}
    refused = await http.post("/scheduling_link/integration/", json=body)
    assert refused.status_code == 403 and refused.json()["error"]
    created = await oauth.post("/scheduling_link/integration/", json=body)
    assert created.status_code == 200 and created.json()["source"] == "THIRD_PARTY"
    updated = await oauth.post("/scheduling_link/integration/", json={"source_id": "ev-1", "name": "Renamed"})
    assert updated.json()["id"] == created.json()["id"] and updated.json()["name"] == "Renamed"
    assert updated.json()["url"] == "https://app.example/ev-1"
    missing = await oauth.post("/scheduling_link/integration/", json={"name": "no source"})
    assert missing.status_code == 400 and "source_id" in missing.json()["field-errors"]
    new_without_url = await oauth.post(
        "/scheduling_link/integration/", json={"source_id": "ev-2", "name": "X"}
    )
    assert new_without_url.status_code == 400 and "url" in new_without_url.json()["field-errors"]
    assert (await http.delete("/scheduling_link/integration/ev-1/")).status_code == 403
    assert (await oauth.delete("/scheduling_link/integration/ev-1/")).status_code == 204
    assert (await oauth.delete("/scheduling_link/integration/ev-1/")).status_code == 404
    assert (await http.get(f"/scheduling_link/{created.json()['id']}/")).status_code == 404


async def test_each_user_lists_their_own_links(http, restricted, sandbox):
    store = sandbox.sandbox.store()
    r = await restricted.post("/scheduling_link/", json={"name": "Mine", "url": "https://cal.example/mine"})
    assert r.status_code == 201
    me = r.json()["user_id"]
    listed = {o["id"] for o in (await restricted.get("/scheduling_link/")).json()["data"]}
    assert listed == {lid for lid, o in store.collection("scheduling_links").items() if o["user_id"] == me}
    assert r.json()["id"] not in {o["id"] for o in (await http.get("/scheduling_link/")).json()["data"]}
    bad = await http.post("/scheduling_link/", json={"name": "Bad", "url": "not a url"})
    assert bad.status_code == 400 and bad.json()["field-errors"]["url"] == "Enter a valid URL."


async def test_shared_links_map_per_user_and_cascade(http, restricted, sandbox):
    store = sandbox.sandbox.store()
    denied = await restricted.post("/shared_scheduling_link/", json={"name": "Team"})
    assert denied.status_code == 403
    shared = (await http.post("/shared_scheduling_link/", json={"name": "Team intro"})).json()
    assert shared["template_tag"] == "{{ scheduling_link.team_intro }}" and shared["associations"] == []
    link = (await http.get("/scheduling_link/")).json()["data"][0]["id"]
    both = {
        "shared_scheduling_link_id": shared["id"],
        "user_scheduling_link_id": link,
        "url": "https://x.example/a",
    }
    assert (await http.post("/shared_scheduling_link_association/", json=both)).status_code == 400
    unknown = await http.post(
        "/shared_scheduling_link_association/",
        json={"shared_scheduling_link_id": "schlnk_x", "url": "https://x.example"},
    )
    assert (
        unknown.status_code == 400
        and unknown.json()["field-errors"]["shared_scheduling_link"] == "Object does not exist."
    )
    mapped = await http.post(
        "/shared_scheduling_link_association/",
        json={"shared_scheduling_link_id": shared["id"], "user_scheduling_link_id": link},
    )
    assert mapped.status_code == 201
    remapped = await http.post(
        "/shared_scheduling_link_association/",
        json={"shared_scheduling_link_id": shared["id"], "url": "https://x.example/b"},
    )
    got = (await http.get(f"/shared_scheduling_link/{shared['id']}/")).json()
    assert [a["id"] for a in got["associations"]] == [remapped.json()["id"]] and got["associations"][0]["url"]
    unmap = {"shared_scheduling_link_id": shared["id"]}
    assert (await http.post("/shared_scheduling_link_association/unmap/", json=unmap)).json() == {}
    assert (await http.post("/shared_scheduling_link_association/unmap/", json=unmap)).status_code == 404
    # deleting a shared link deletes its mappings; deleting a user link unmaps it
    seeded = next(iter(store.collection("shared_scheduling_links")))
    user_link = next(iter(store.collection("shared_scheduling_link_associations").values()))[
        "user_scheduling_link_id"
    ]
    assert (await http.delete(f"/scheduling_link/{user_link}/")).status_code == 204
    assert len(store.collection("shared_scheduling_link_associations")) == 1
    assert (await http.delete(f"/shared_scheduling_link/{seeded}/")).status_code == 204
    assert not store.collection("shared_scheduling_link_associations")
    assert (await http.get(f"/shared_scheduling_link/{seeded}/")).status_code == 404
