"""Cascade delete and merge follow the declarations; every event passes one hook point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from close_mcp.sandbox import Sandbox, SandboxConfig, run_sandbox
from close_mcp.sandbox.areas import default_registry
from close_mcp.sandbox.engine import Field, Parent, Resource

pytestmark = pytest.mark.anyio

# A resource the sandbox does not have: declared here only, to show that cascade and merge
# know nothing of concrete child collections.
COMMENT = Resource(  # named "scribble": the sandbox has real comments (areas/comments.py)
    "scribble",
    "Scribble",
    "/scribble/",
    "scrb",
    fields=(Field("lead_id", ref="lead", required=True), Field("body", "str", default="")),
    parent=Parent("lead", "lead_id"),
    filters=("lead_id",),
    create_status=201,
    delete_status=204,
)


@pytest.fixture
async def with_comments() -> AsyncIterator[tuple[Any, httpx2.AsyncClient]]:
    sandbox = Sandbox(SandboxConfig(leads=6), registry=default_registry().with_resources(COMMENT))
    async with (
        run_sandbox(sandbox=sandbox) as sb,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as http,
    ):
        yield sb, http


async def test_an_extra_child_resource_is_deleted_with_its_lead(with_comments):
    sb, http = with_comments
    store = sb.sandbox.store()
    lead_id = next(iter(store.leads))
    r = await http.post("/scribble/", json={"lead_id": lead_id, "body": "hello"})
    assert r.status_code == 201 and r.json()["id"].startswith("scrb_")
    comment_id = r.json()["id"]
    assert [c["id"] for c in store.children_of(lead_id)["scribbles"]] == [comment_id]
    assert (await http.delete(f"/lead/{lead_id}/")).status_code == 200
    assert comment_id not in store.collection("scribbles")
    assert (await http.get(f"/scribble/{comment_id}/")).status_code == 404
    deleted = {(e["object_type"], e["object_id"]) for e in store.events if e["action"] == "deleted"}
    assert ("scribble", comment_id) in deleted and ("lead", lead_id) in deleted


async def test_an_extra_resource_gets_the_generated_endpoints(with_comments):
    sb, http = with_comments
    lead_id = next(iter(sb.sandbox.store().leads))
    comment = (await http.post("/scribble/", json={"lead_id": lead_id, "body": "x"})).json()
    assert comment["body"] == "x" and comment["organization_id"] == sb.sandbox.store().org["id"]
    r = await http.put(f"/scribble/{comment['id']}/", json={"body": None})
    assert r.status_code == 200 and r.json()["body"] is None
    r = await http.post("/scribble/", json={"lead_id": "lead_nope"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"lead": "Object does not exist."}
    r = await http.delete(f"/scribble/{comment['id']}/")
    assert r.status_code == 204 and r.content == b""
    r = await http.get(f"/scribble/{comment['id']}/")
    assert r.json() == {"error": "Empty query: Scribble matching query does not exist."}


async def test_pagination_kind_none_answers_data_only():
    tag = Resource("tag", "Tag", "/tag/", "tag", fields=(Field("label", "str"),), pagination="none")
    sandbox = Sandbox(SandboxConfig(leads=2), registry=default_registry().with_resources(tag))
    async with (
        run_sandbox(sandbox=sandbox) as sb,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as http,
    ):
        await http.post("/tag/", json={"label": "vip"})
        body = (await http.get("/tag/")).json()
        assert list(body) == ["data"] and body["data"][0]["label"] == "vip"


def test_a_resource_name_is_declared_once():
    with pytest.raises(ValueError, match="declared twice"):
        default_registry().with_resources(Resource("lead", "Lead", "/lead2/", "lead"))


def test_seed_is_deterministic_across_areas():
    def snapshot(seed: int) -> list[list[str]]:
        store = Sandbox(SandboxConfig(seed=seed, leads=15)).store()
        return [sorted(c) for c in (store.leads, store.contacts, store.activities, store.tasks)]

    assert snapshot(3) == snapshot(3) and snapshot(3) != snapshot(4)


async def test_an_extra_child_resource_moves_with_a_merge(with_comments):
    sb, http = with_comments
    store = sb.sandbox.store()
    source, dest = list(store.leads)[:2]
    comment_id = (await http.post("/scribble/", json={"lead_id": source})).json()["id"]
    r = await http.post("/lead/merge/", json={"source": source, "destination": dest})
    assert r.status_code == 200
    assert store.collection("scribbles")[comment_id]["lead_id"] == dest
    listed = (await http.get("/scribble/", params={"lead_id": dest})).json()["data"]
    assert [c["id"] for c in listed] == [comment_id]
    moved = [e for e in store.events if e["object_id"] == comment_id and e["action"] == "updated"]
    assert moved and moved[-1]["changed_fields"] == ["lead_id"]
    assert moved[-1]["meta"]["merge_source_lead_id"] == source


async def test_delete_cascades_to_every_declared_child_with_events(http, sandbox):
    store = sandbox.sandbox.store()
    core = {"contacts", "opportunities", "activities", "tasks"}
    lead_id = next(lid for lid in store.leads if all(store.children_of(lid)[c] for c in core))
    children = store.children_of(lead_id)
    assert set(children) >= core
    assert (await http.delete(f"/lead/{lead_id}/")).json() == {}
    gone = {e["object_id"] for e in store.events if e["action"] == "deleted"}
    assert {o["id"] for objs in children.values() for o in objs} <= gone
    assert not any(store.children_of(lead_id).values())


async def test_every_event_reaches_a_subscriber(http, sandbox):
    seen: list[tuple[str, str]] = []
    sandbox.sandbox.subscribe(lambda _store, event: seen.append((event["object_type"], event["action"])))
    lead = (await http.post("/lead/", json={"name": "Subscribed Co", "contacts": [{"name": "Ada"}]})).json()
    await http.delete(f"/lead/{lead['id']}/")
    assert seen == [
        ("lead", "created"),
        ("contact", "created"),
        ("contact", "deleted"),
        ("lead", "deleted"),
    ]


async def test_registry_enumerates_objects_and_children(sandbox):
    store = sandbox.sandbox.store()
    registry = sandbox.sandbox.registry
    assert len(registry.objects(store, "lead")) == len(store.leads)
    notes = registry.objects(store, "note")
    assert notes and all(a["_type"] == "Note" for a in notes)
    lead_id = next(iter(store.leads))
    contacts = registry.children(store, "lead", lead_id)["contacts"]
    assert contacts == [c for c in store.contacts.values() if c["lead_id"] == lead_id]
    assert registry.parent_of(store, "contact", contacts[0]) is store.leads[lead_id]
    assert registry.parent_of(store, "user", next(iter(store.users.values()))) is None
