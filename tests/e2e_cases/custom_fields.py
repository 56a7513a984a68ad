"""End-to-end cases for the custom_fields tools."""

from __future__ import annotations

from typing import Any

from e2e_cases.registry import Call, case, gone, not_admin, revoked_key, unknown_ref


# ----- custom fields --------------------------------------------------------------------------
async def _custom_fields(call: Call, kind: str) -> None:
    page = await call(f"list_{kind}_custom_fields", {})
    assert {f["id"] for f in page["items"]} == set(call.store.custom_fields[kind]) != set()


for _kind in ("lead", "contact", "opportunity"):
    case(f"list_{_kind}_custom_fields", writes=False)(lambda call, kind=_kind: _custom_fields(call, kind))


@case("create_lead_custom_field")
async def _(call: Call) -> None:
    cf = await call("create_lead_custom_field", {"name": "Renewal date", "type": "date"})
    assert call.store.custom_fields["lead"][cf["id"]]["type"] == "date"


# ----- activity, custom object and shared custom fields -----------------------------------------
KINDS = {  # tool kind -> (collection, owner field, owner collection)
    "activity": ("activity_custom_fields", "custom_activity_type_id", "custom_activity_types"),
    "custom_object": ("custom_object_type_custom_fields", "custom_object_type_id", "custom_object_types"),
    "shared": ("shared_custom_fields", None, None),
}


OBJECT_KINDS = ("lead", "contact", "opportunity")  # their fields live in store.custom_fields[kind]


def _stored(call: Call, kind: str) -> dict[str, Any]:
    if kind in OBJECT_KINDS:
        return call.store.custom_fields[kind]
    return call.store.collection(KINDS[kind][0])


async def _list(call: Call, kind: str) -> None:
    page = await call(f"list_{kind}_custom_fields", {})
    items = page["data"] if kind == "custom_object" else page["items"]  # Close does not page that list
    assert {f["id"] for f in items} == set(_stored(call, kind)) != set()


async def _get(call: Call, kind: str) -> None:
    cf = next(iter(_stored(call, kind).values()))
    got = await call(f"get_{kind}_custom_field", {"custom_field_id": cf["id"]})
    assert (got["id"], got["name"], got["type"]) == (cf["id"], cf["name"], cf["type"])


async def _create(call: Call, kind: str) -> None:
    _collection, owner, owners = KINDS.get(kind, ("", None, None))
    args: dict[str, Any] = {"name": "Outcome", "type": "choices", "choices": ["Won", "Lost"]}
    if owner and owners:
        args[owner] = next(iter(call.store.collection(owners)))
        args["required"] = True
    cf = await call(f"create_{kind}_custom_field", args)
    stored = _stored(call, kind)[cf["id"]]
    assert (stored["name"], stored["type"], stored["choices"]) == ("Outcome", "choices", ["Won", "Lost"])
    if owner:
        assert stored[owner] == args[owner] and stored["required"] is True


async def _update(call: Call, kind: str) -> None:
    cf = next(iter(_stored(call, kind).values()))
    await call(f"update_{kind}_custom_field", {"custom_field_id": cf["id"], "name": "Renamed field"})
    assert _stored(call, kind)[cf["id"]]["name"] == "Renamed field"


async def _delete(call: Call, kind: str) -> None:
    cf_id = next(iter(_stored(call, kind)))
    await call(f"delete_{kind}_custom_field", {"custom_field_id": cf_id})
    assert cf_id not in _stored(call, kind)


for _kind in KINDS:
    case(f"list_{_kind}_custom_fields", writes=False)(lambda call, kind=_kind: _list(call, kind))
    case(f"get_{_kind}_custom_field", writes=False)(lambda call, kind=_kind: _get(call, kind))
    case(f"create_{_kind}_custom_field")(lambda call, kind=_kind: _create(call, kind))
    case(f"update_{_kind}_custom_field")(lambda call, kind=_kind: _update(call, kind))
    case(f"delete_{_kind}_custom_field")(lambda call, kind=_kind: _delete(call, kind))

for _kind in OBJECT_KINDS:  # their lists are above; create_lead_custom_field has its own case
    case(f"get_{_kind}_custom_field", writes=False)(lambda call, kind=_kind: _get(call, kind))
    if _kind != "lead":
        case(f"create_{_kind}_custom_field")(lambda call, kind=_kind: _create(call, kind))
    case(f"update_{_kind}_custom_field")(lambda call, kind=_kind: _update(call, kind))
    case(f"delete_{_kind}_custom_field")(lambda call, kind=_kind: _delete(call, kind))


def _region(call: Call) -> dict[str, Any]:
    return next(f for f in _stored(call, "shared").values() if f["name"] == "Region")


@case("add_shared_custom_field_association")
async def _(call: Call) -> None:
    region, type_id = _region(call), next(iter(call.store.collection("custom_activity_types")))
    args = {"object_type": "custom_activity_type", "custom_activity_type_id": type_id, "required": True}
    await call("add_shared_custom_field_association", {"custom_field_id": region["id"], **args})
    assert {**args, "editable_with_roles": []} in region["associations"]


@case("get_shared_custom_field_association", writes=False)
async def _(call: Call) -> None:
    region = _region(call)
    got = await call(
        "get_shared_custom_field_association", {"custom_field_id": region["id"], "object_type": "lead"}
    )
    stored = next(a for a in region["associations"] if a["object_type"] == "lead")
    assert got == {k: v for k, v in stored.items() if v != []}  # the tool trims empty lists


@case("update_shared_custom_field_association")
async def _(call: Call) -> None:
    region = _region(call)
    assoc = next(a for a in region["associations"] if a["object_type"] == "custom_object_type")
    key = f"custom_object_type/{assoc['custom_object_type_id']}"
    await call(
        "update_shared_custom_field_association",
        {
            "custom_field_id": region["id"],
            "object_type": key,
            "required": True,
            "editable_with_roles": ["admin"],
        },
    )
    assert (assoc["required"], assoc["editable_with_roles"]) == (True, ["admin"])


@case("remove_shared_custom_field_association")
async def _(call: Call) -> None:
    region = _region(call)
    call.store.leads[next(iter(call.store.leads))][f"custom.{region['id']}"] = (
        "EMEA"  # one lead holds a value
    )
    await call(
        "remove_shared_custom_field_association", {"custom_field_id": region["id"], "object_type": "lead"}
    )
    assert [a["object_type"] for a in region["associations"]] == ["custom_object_type"]
    assert all(f"custom.{region['id']}" not in lead for lead in call.store.leads.values())


@case("get_custom_field_schema", writes=False)
async def _(call: Call) -> None:
    got = await call("get_custom_field_schema", {"object_type": "lead"})
    expected = [*call.store.custom_fields["lead"], _region(call)["id"]]  # own fields, then the shared one
    assert [f["id"] for f in got["fields"]] == expected and len(expected) == 4


@case("update_custom_field_schema")
async def _(call: Call) -> None:
    types = call.store.collection("custom_object_types").values()
    type_id = next(t["id"] for t in types if t["name"] == "Subscription")
    own = [f["id"] for f in _stored(call, "custom_object").values() if f["custom_object_type_id"] == type_id]
    schema, region = f"custom_object/{type_id}", _region(call)["id"]
    args = {"object_type": schema, "field_order": [{"id": region}, {"id": own[-1]}]}
    got = await call("update_custom_field_schema", args)
    expected = [region, own[-1], *own[:-1]]  # the given IDs first, the omitted ones appended
    assert [f["id"] for f in got["fields"]] == expected and len(expected) == 4
    assert call.store.collection("custom_field_schemas")[schema]["order"] == expected


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
for _kind in ("lead", "contact", "opportunity"):
    not_admin(f"create_{_kind}_custom_field", {"name": "Renewal date", "type": "date"})
unknown_ref(
    "create_activity_custom_field",
    "custom_activity_type",
    {"custom_activity_type_id": gone("actitype"), "name": "Outcome", "type": "text"},
)
unknown_ref(
    "create_custom_object_custom_field",
    "custom_object_type",
    {"custom_object_type_id": gone("cotype"), "name": "Seats", "type": "number"},
)
unknown_ref(
    "create_shared_custom_field",
    "referenced_custom_type",
    {"name": "Plan", "type": "custom_object", "referenced_custom_type_id": gone("cotype")},
)
revoked_key(
    "list_lead_custom_fields",
    "list_contact_custom_fields",
    "list_opportunity_custom_fields",
    "list_activity_custom_fields",
    "list_custom_object_custom_fields",
    "list_shared_custom_fields",
)
