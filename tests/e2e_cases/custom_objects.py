"""End-to-end cases for the custom_objects tools."""

from __future__ import annotations

from typing import Any

from e2e_cases.registry import Call, case, gone, not_admin, revoked_key, unknown_ref

TYPES = {"custom_activity_type": "custom_activity_types", "custom_object_type": "custom_object_types"}
OWN_FIELDS = {
    "custom_activity_type": "activity_custom_fields",
    "custom_object_type": "custom_object_type_custom_fields",
}


def _types(call: Call, kind: str) -> dict[str, Any]:
    return call.store.collection(TYPES[kind])


# ----- custom activity types and custom object types ------------------------------------------------
async def _list(call: Call, kind: str) -> None:
    page = await call(f"list_{kind}s", {})
    assert [t["id"] for t in page["data"]] == list(_types(call, kind)) and len(page["data"]) == 2  # not paged


async def _get(call: Call, kind: str) -> None:
    type_id = next(iter(_types(call, kind)))
    got = await call(f"get_{kind}", {f"{kind}_id": type_id})
    own = [f["id"] for f in call.store.collection(OWN_FIELDS[kind]).values() if f[f"{kind}_id"] == type_id]
    assert got["id"] == type_id and [f["id"] for f in got["fields"]] == own != []


async def _create(call: Call, kind: str) -> None:
    args = {"name": "Renewal", "description": "Renewal talks", "api_create_only": True}
    if kind == "custom_object_type":
        args["name_plural"] = "Renewals"
    created = await call(f"create_{kind}", args)
    stored = _types(call, kind)[created["id"]]
    assert {k: stored[k] for k in args} == args and created["id"] == stored["id"]


async def _update(call: Call, kind: str) -> None:
    type_id = next(iter(_types(call, kind)))
    await call(
        f"update_{kind}", {f"{kind}_id": type_id, "name": "Renamed type", "editable_with_roles": ["admin"]}
    )
    stored = _types(call, kind)[type_id]
    assert (stored["name"], stored["editable_with_roles"]) == ("Renamed type", ["admin"])


async def _delete(call: Call, kind: str) -> None:
    type_id = next(iter(_types(call, kind)))
    await call(f"delete_{kind}", {f"{kind}_id": type_id})
    fields = call.store.collection(OWN_FIELDS[kind]).values()
    assert type_id not in _types(call, kind) and all(f[f"{kind}_id"] != type_id for f in fields)


for _kind in TYPES:
    case(f"list_{_kind}s", writes=False)(lambda call, kind=_kind: _list(call, kind))
    case(f"get_{_kind}", writes=False)(lambda call, kind=_kind: _get(call, kind))
    case(f"create_{_kind}")(lambda call, kind=_kind: _create(call, kind))
    case(f"update_{_kind}")(lambda call, kind=_kind: _update(call, kind))
    case(f"delete_{_kind}")(lambda call, kind=_kind: _delete(call, kind))


# ----- custom object instances ----------------------------------------------------------------------
def _objects(call: Call) -> dict[str, Any]:
    return call.store.collection("custom_objects")


def _subscription(call: Call) -> tuple[str, dict[str, str]]:
    """The Subscription type's ID and its field IDs by name."""
    type_id = next(
        t["id"] for t in _types(call, "custom_object_type").values() if t["name"] == "Subscription"
    )
    fields = call.store.collection("custom_object_type_custom_fields").values()
    return type_id, {f["name"]: f["id"] for f in fields if f["custom_object_type_id"] == type_id}


@case("list_custom_objects", writes=False)
async def _(call: Call) -> None:
    lead_id = next(
        o["lead_id"] for o in _objects(call).values() if o["name"] in {"Login problem", "Export is slow"}
    )
    page = await call("list_custom_objects", {"lead_id": lead_id})
    expected = {o["id"] for o in _objects(call).values() if o["lead_id"] == lead_id}
    assert {o["id"] for o in page["items"]} == expected and len(expected) == 2


@case("get_custom_object", writes=False)
async def _(call: Call) -> None:
    obj = next(iter(_objects(call).values()))
    got = await call("get_custom_object", {"custom_object_id": obj["id"]})
    assert got == {**obj, **{k: got[k] for k in got if k not in obj}} and got["name"] == obj["name"]


@case("create_custom_object")
async def _(call: Call) -> None:
    type_id, fields = _subscription(call)
    lead_id = next(iter(call.store.leads))
    custom = {fields["Plan"]: "Enterprise", fields["Seats"]: 40}
    args = {"custom_object_type_id": type_id, "lead_id": lead_id, "name": "Enterprise plan", "custom": custom}
    created = await call("create_custom_object", args)
    stored = _objects(call)[created["id"]]
    assert (stored["lead_id"], stored["name"], stored[f"custom.{fields['Seats']}"]) == (
        lead_id,
        "Enterprise plan",
        40,
    )


@case("update_custom_object")
async def _(call: Call) -> None:
    type_id, fields = _subscription(call)
    obj = next(o for o in _objects(call).values() if o["custom_object_type_id"] == type_id)
    await call(
        "update_custom_object",
        {"custom_object_id": obj["id"], "custom": {fields["Seats"]: 99, fields["Renewal date"]: None}},
    )
    assert obj[f"custom.{fields['Seats']}"] == 99 and obj.get(f"custom.{fields['Renewal date']}") is None


@case("delete_custom_object")
async def _(call: Call) -> None:
    obj_id = next(iter(_objects(call)))
    await call("delete_custom_object", {"custom_object_id": obj_id})
    assert obj_id not in _objects(call)


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
not_admin("create_custom_activity_type", {"name": "Site visit"})
not_admin("create_custom_object_type", {"name": "Subscription", "name_plural": "Subscriptions"})
unknown_ref(
    "create_custom_object",
    "custom_object_type",
    lambda store: {
        "lead_id": next(iter(store.leads)),
        "custom_object_type_id": gone("cotype"),
        "name": "Plan",
    },
)
revoked_key("list_custom_activity_types", "list_custom_object_types")
revoked_key("list_custom_objects", args=lambda store: {"lead_id": next(iter(store.leads))})
