"""Generic CRUD, generated from the resource declarations: one case per declared operation."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from close_mcp.sandbox.areas import default_registry
from close_mcp.sandbox.areas.team import BUILT_IN_ROLES
from close_mcp.sandbox.engine import Field, Resource

pytestmark = pytest.mark.anyio
REGISTRY = default_registry()
OPERATIONS = [(res, op) for res in REGISTRY for op in res.ops]

# Values the declarations cannot imply (hook-enforced rules), per resource.
CREATE_EXTRAS: dict[str, dict[str, Any]] = {
    "webhook": {"url": "https://example.com/hook", "events": [{"object_type": "lead", "action": "created"}]},
    "lead_custom_field": {"type": "text"},
    "contact_custom_field": {"type": "text"},
    "opportunity_custom_field": {"type": "text"},
    "activity_custom_field": {"type": "text"},
    "custom_object_type_custom_field": {"type": "text"},
    "shared_custom_field": {"type": "text"},
    "blocked_phone_number": {"phone": "+15005550006"},
    "scheduling_link": {"url": "https://cal.example/engine-test"},
    "sequence_subscription": {"contact_email": "pat@example.com", "sender_email": "dana@acme-demo.example"},
}


def _type_without_required_fields(store: Any) -> str:
    required = {
        cf.get("custom_activity_type_id")
        for cf in store.collection("activity_custom_fields").values()
        if cf.get("required")
    }
    return next(t for t in store.collection("custom_activity_types") if t not in required)


# Values that depend on the seeded store (comments hang on an existing object; listing them needs it).
STORE_EXTRAS: dict[str, Any] = {
    "comment": lambda store: {"object_id": next(iter(store.leads))},
    "custom_activity_instance": lambda store: {
        "custom_activity_type_id": _type_without_required_fields(store)
    },
}
LIST_PARAMS: dict[str, Any] = {"comment": lambda store: {"object_id": next(iter(store.leads))}}
PLAIN_IDS = set(BUILT_IN_ROLES)  # built-in roles are plain strings (close-api.md §5.1)
UPDATES: dict[str, dict[str, Any]] = {
    "organization": {"name": "Renamed Org"},
    "webhook": {"verify_ssl": False},
    "opportunity": {"note": "changed"},
    "task": {"text": "changed"},
    "call": {"note": "changed"},
    "email": {"subject": "changed"},
    "custom_activity_instance": {"pinned": True},
    "sequence_subscription": {"status": "paused"},
}


def _sample(store: Any, f: Field) -> Any:
    if f.ref:
        return REGISTRY.objects(store, f.ref)[0]["id"]
    if f.choices:
        return sorted(f.choices)[0]
    return {"str": "Engine Test", "int": 1, "bool": True, "list": [], "date": date.today().isoformat()}.get(
        f.type, "x"
    )


def create_body(store: Any, res: Resource) -> dict[str, Any]:
    body = {f.name: _sample(store, f) for f in res.fields if f.required}
    extra = STORE_EXTRAS[res.name](store) if res.name in STORE_EXTRAS else {}
    return {**body, **CREATE_EXTRAS.get(res.name, {}), **extra}


def update_body(res: Resource) -> dict[str, Any]:
    if res.name in UPDATES:
        return UPDATES[res.name]
    name = next(f.name for f in res.writable(False).values() if f.type == "str" and not f.ref)
    return {name: "Changed By Engine Test"}


async def fresh(http: Any, store: Any, res: Resource) -> dict[str, Any]:
    """A new object when the resource can be created (seeded emails are sent, hence frozen;
    no webhook is seeded), else a seeded one."""
    if "create" in res.ops:
        r = await http.post(res.path, json=create_body(store, res))
        assert r.status_code == res.create_status, r.text
        return dict(r.json())
    return REGISTRY.objects(store, res.name)[0]


def events_for(store: Any, object_id: str, action: str) -> list[dict[str, Any]]:
    return [e for e in store.events if e["object_id"] == object_id and e["action"] == action]


@pytest.mark.parametrize(("res", "op"), OPERATIONS, ids=[f"{r.name}.{op}" for r, op in OPERATIONS])
async def test_declared_operation(http, sandbox, res: Resource, op: str):
    store = sandbox.sandbox.store()
    if op == "list":
        params = LIST_PARAMS[res.name](store) if res.name in LIST_PARAMS else {}
        if res.name == "custom_object":  # Close requires lead_id to list instances
            params["lead_id"] = REGISTRY.objects(store, "custom_object")[0]["lead_id"]
        r = await http.get(res.path, params={**params, "_limit": 1} if res.pagination != "none" else params)
        body = r.json()
        assert r.status_code == 200 and isinstance(body["data"], list)
        assert len(body["data"]) <= 1 or res.pagination == "none"  # unpaged lists answer everything
        if res.pagination == "offset":
            assert isinstance(body["has_more"], bool) and ("total_results" in body) == res.total_results
        elif res.pagination == "cursor":
            assert {"cursor_next", "cursor_previous"} <= set(body)
        if body["data"]:
            assert body["data"][0]["id"].startswith(res.prefix + "_") or body["data"][0]["id"] in PLAIN_IDS
    elif op == "get":
        obj = await fresh(http, store, res)
        r = await http.get(res.path + obj["id"] + "/")
        assert r.status_code == 200 and r.json()["id"] == obj["id"]
        r = await http.get(res.path + f"{res.prefix}_nope/")
        assert r.status_code == 404
        assert r.json() == {"error": f"Empty query: {res.model} matching query does not exist."}
    elif op == "create":
        r = await http.post(res.path, json=create_body(store, res))
        assert r.status_code == res.create_status, r.text
        created = r.json()
        assert created["id"].startswith(res.prefix + "_")
        assert created["id"] in {o["id"] for o in REGISTRY.objects(store, res.name)}
        if res.discriminator:
            assert created[res.discriminator[0]] == res.discriminator[1]
        assert bool(events_for(store, created["id"], "created")) == ("created" in res.events)
    elif op == "update":
        obj = await fresh(http, store, res)
        change = update_body(res)
        r = await http.put(res.path + obj["id"] + "/", json=change)
        assert r.status_code == 200, r.text
        assert {k: r.json()[k] for k in change} == change
        assert bool(events_for(store, obj["id"], "updated")) == ("updated" in res.events)
        assert (await http.put(res.path + f"{res.prefix}_nope/", json=change)).status_code == 404
    elif op == "delete":
        created = await fresh(http, store, res)
        r = await http.delete(res.path + created["id"] + "/")
        assert r.status_code == res.delete_status
        assert r.json() == {} if res.delete_status == 200 else r.content == b""
        assert (await http.get(res.path + created["id"] + "/")).status_code == 404
        assert bool(events_for(store, created["id"], "deleted")) == ("deleted" in res.events)


REQUIRED = [(r, f) for r in REGISTRY if "create" in r.ops for f in r.fields if f.required]


@pytest.mark.parametrize(("res", "f"), REQUIRED, ids=[f"{r.name}.{f.name}" for r, f in REQUIRED])
async def test_required_field_is_named_in_a_400(http, res: Resource, f: Field):
    r = await http.post(res.path, json={})
    assert r.status_code == 400 and r.json()["field-errors"][f.name] == "This field is required."


REFS = [(r, f) for r in REGISTRY if "create" in r.ops for f in r.writable(True).values() if f.ref]


@pytest.mark.parametrize(("res", "f"), REFS, ids=[f"{r.name}.{f.name}" for r, f in REFS])
async def test_reference_to_a_missing_object_is_a_field_error(http, sandbox, res: Resource, f: Field):
    body = {**create_body(sandbox.sandbox.store(), res), f.name: f"{f.ref}_does_not_exist"}
    r = await http.post(res.path, json=body)
    assert r.status_code == 400 and r.json()["field-errors"][f.key] == "Object does not exist."


async def test_put_null_clears_and_unsent_fields_stay(http, sandbox):
    contact = REGISTRY.objects(sandbox.sandbox.store(), "contact")[0]
    r = (await http.put(f"/contact/{contact['id']}/", json={"title": None})).json()
    assert r["title"] is None and r["name"] == contact["name"]


async def test_every_declared_operation_is_routed():
    from close_mcp.sandbox.app import ALL_ROUTES

    routes = {(path, method) for path, handlers in ALL_ROUTES for method in handlers}
    verbs = {"list": "GET", "create": "POST", "get": "GET", "update": "PUT", "delete": "DELETE"}
    for res, op in OPERATIONS:
        path = res.path if op in ("list", "create") else res.item_path
        assert (path, verbs[op]) in routes, (res.name, op)
    assert len(routes) >= 67  # the operations the hand-written sandbox served; test_inventory has the rest
