"""Hand-written behaviour of custom fields beyond leads, custom activity/object types and custom
objects: shared field associations, schemas (display order), instance values, cascade, errors."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio
MISSING_ASSOCIATION = {"error": "Empty query: SharedCustomFieldAssociation matching query does not exist."}


def col(sandbox: Any, name: str) -> dict[str, Any]:
    return sandbox.sandbox.store().collection(name)


def subscription(sandbox: Any) -> tuple[str, dict[str, str], str]:
    """The Subscription type, its own field IDs by name, and the shared Region field."""
    type_id = next(
        t["id"] for t in col(sandbox, "custom_object_types").values() if t["name"] == "Subscription"
    )
    own = col(sandbox, "custom_object_type_custom_fields").values()
    region = next(iter(col(sandbox, "shared_custom_fields")))
    return type_id, {f["name"]: f["id"] for f in own if f["custom_object_type_id"] == type_id}, region


# ----- shared field associations ---------------------------------------------------------------
async def test_association_lifecycle(http, sandbox):
    _type_id, _fields, region = subscription(sandbox)
    base = f"/custom_field/shared/{region}/association/"
    r = await http.post(base, json={"object_type": "contact", "required": True})
    # `required` only matters for custom activity/object types (docs), so it stays false here.
    assert r.status_code == 201 and r.json() == {
        "object_type": "contact",
        "editable_with_roles": [],
        "required": False,
    }
    again = await http.post(base, json={"object_type": "contact"})
    assert again.status_code == 400 and again.json()["errors"]
    r = await http.put(base + "contact/", json={"editable_with_roles": ["admin"], "object_type": "lead"})
    assert r.json() == {"object_type": "contact", "editable_with_roles": ["admin"], "required": False}
    lead_id = next(iter(sandbox.sandbox.store().leads))
    sandbox.sandbox.store().leads[lead_id][f"custom.{region}"] = "EMEA"
    assert (await http.delete(base + "lead/")).status_code == 204
    assert f"custom.{region}" not in sandbox.sandbox.store().leads[lead_id]  # its values went with it
    assert (await http.get(base + "lead/")).json() == MISSING_ASSOCIATION
    listed = (await http.get(f"/custom_field/shared/{region}/")).json()["associations"]
    assert [a["object_type"] for a in listed] == ["custom_object_type", "contact"]


async def test_association_errors(http, sandbox):
    _type_id, _fields, region = subscription(sandbox)
    base = f"/custom_field/shared/{region}/association/"
    r = await http.post(base, json={"object_type": "deal"})
    assert r.status_code == 400 and "object_type" in r.json()["field-errors"]
    r = await http.post(base, json={"object_type": "custom_activity_type"})
    assert r.json()["field-errors"] == {"custom_activity_type_id": "This field is required."}
    r = await http.post(
        base, json={"object_type": "custom_object_type", "custom_object_type_id": "cotype_nope"}
    )
    assert r.json()["field-errors"] == {"custom_object_type": "Object does not exist."}
    r = await http.get("/custom_field/shared/cf_nope/association/lead/")
    assert r.status_code == 404 and "SharedCustomField matching" in r.json()["error"]
    r = await http.get(base + "custom_activity_type/actitype_nope/")
    assert r.status_code == 404 and r.json() == MISSING_ASSOCIATION


# ----- schemas ---------------------------------------------------------------------------------
async def test_schema_order_and_shared_fields(http, sandbox):
    type_id, fields, region = subscription(sandbox)
    path = f"/custom_field_schema/custom_object/{type_id}/"
    before = [f["id"] for f in (await http.get(path)).json()["fields"]]
    assert before == [fields["Plan"], fields["Seats"], fields["Renewal date"], region]
    r = await http.put(path, json={"fields": [{"id": fields["Renewal date"]}, {"id": region}]})
    after = [f["id"] for f in r.json()["fields"]]
    assert after == [fields["Renewal date"], region, fields["Plan"], fields["Seats"]]  # omitted ones appended
    shown = (await http.get(f"/custom_object_type/{type_id}/")).json()["fields"]
    assert [f["id"] for f in shown] == after  # the type shows its fields in schema order


async def test_schema_errors(http, sandbox):
    r = await http.put("/custom_field_schema/lead/", json={"fields": [{"id": "cf_not_a_lead_field"}]})
    assert r.status_code == 400 and "fields" in r.json()["field-errors"]
    assert (await http.get("/custom_field_schema/deal/")).status_code == 404
    r = await http.get("/custom_field_schema/activity/actitype_nope/")
    assert r.json() == {"error": "Empty query: CustomActivityType matching query does not exist."}


# ----- custom object instances -------------------------------------------------------------------
async def test_listing_instances_needs_a_lead(http, sandbox):
    r = await http.get("/custom_object/")
    assert r.status_code == 400 and r.json()["field-errors"] == {"lead_id": "This field is required."}


async def test_instance_values_are_checked_against_its_type(http, sandbox):
    type_id, fields, region = subscription(sandbox)
    lead_id = next(iter(sandbox.sandbox.store().leads))
    body = {"custom_object_type_id": type_id, "lead_id": lead_id, "name": "Plan"}
    r = await http.post("/custom_object/", json=body)  # Plan is a required field of the type
    assert r.status_code == 400 and r.json()["field-errors"] == {
        f"custom.{fields['Plan']}": "This field is required."
    }
    ticket_field = next(
        f for f in col(sandbox, "custom_object_type_custom_fields").values() if f["name"] == "Priority"
    )
    wrong = {**body, f"custom.{fields['Plan']}": "Platinum", f"custom.{ticket_field['id']}": "Low"}
    errors = (await http.post("/custom_object/", json=wrong)).json()["field-errors"]
    assert errors == {
        f"custom.{fields['Plan']}": "Invalid value for choices custom field 'Plan'.",
        f"custom.{ticket_field['id']}": "Custom field does not exist.",  # a field of another type
    }
    good = {**body, f"custom.{fields['Plan']}": "Growth", f"custom.{region}": "APAC"}  # shared field included
    r = await http.post("/custom_object/", json=good)
    assert r.status_code == 201 and r.json()[f"custom.{region}"] == "APAC"
    listed = (
        await http.get("/custom_object/", params={"lead_id": lead_id, "custom_object_type_id": type_id})
    ).json()
    assert r.json()["id"] in {o["id"] for o in listed["data"]}
    events = [e for e in sandbox.sandbox.store().events if e["object_id"] == r.json()["id"]]
    assert [(e["object_type"], e["action"], e["lead_id"]) for e in events] == [
        ("custom_object", "created", lead_id)
    ]


async def test_cascades(http, sandbox):
    type_id, fields, _region = subscription(sandbox)
    objects = col(sandbox, "custom_objects")
    obj = next(o for o in objects.values() if o["custom_object_type_id"] == type_id)
    assert (await http.delete(f"/custom_field/custom_object_type/{fields['Seats']}/")).status_code == 204
    assert f"custom.{fields['Seats']}" not in obj  # a deleted field's values disappear
    lead_objects = [o["id"] for o in objects.values() if o["lead_id"] == obj["lead_id"]]
    assert (await http.delete(f"/lead/{obj['lead_id']}/")).status_code == 200
    assert lead_objects and not set(lead_objects) & set(objects)  # gone with their lead
    assert (await http.delete(f"/custom_object_type/{type_id}/")).status_code == 204
    remaining = col(sandbox, "custom_object_type_custom_fields").values()
    assert all(f["custom_object_type_id"] != type_id for f in remaining)  # its fields went with it
    activity_type = next(iter(col(sandbox, "custom_activity_types")))
    assert (await http.delete(f"/custom_activity/{activity_type}/")).status_code == 204
    assert all(
        f["custom_activity_type_id"] != activity_type for f in col(sandbox, "activity_custom_fields").values()
    )


async def test_definitions_are_admin_only_and_validated(http, sandbox):
    r = await http.post("/custom_object_type/", json={"name": "Asset"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"name_plural": "This field is required."}
    type_id = next(iter(col(sandbox, "custom_activity_types")))
    r = await http.put(
        f"/custom_field/activity/{next(iter(col(sandbox, 'activity_custom_fields')))}/",
        json={"type": "number"},
    )
    assert r.status_code == 200 and r.json()["type"] != "number"  # the type cannot be changed (docs)
    r = await http.post(
        "/custom_field/activity/",
        json={"name": "Mood", "type": "choices", "custom_activity_type_id": type_id},
    )
    assert r.json()["field-errors"] == {"choices": "This field is required for choices fields."}
    for user in sandbox.sandbox.store().users.values():
        user["role_id"] = "user"
    assert (await http.post("/custom_activity/", json={"name": "Visit"})).status_code == 403
    r = await http.post(
        f"/custom_field/shared/{next(iter(col(sandbox, 'shared_custom_fields')))}/association/",
        json={"object_type": "lead"},
    )
    assert r.status_code == 403


async def test_a_custom_object_field_points_at_a_type_and_shows_as_back_reference(http, sandbox):
    type_id, _fields, _region = subscription(sandbox)
    activity_type = next(iter(col(sandbox, "custom_activity_types")))
    body = {"name": "Subscription", "type": "custom_object", "custom_activity_type_id": activity_type}
    r = await http.post("/custom_field/activity/", json=body)
    assert r.json()["field-errors"] == {"referenced_custom_type_id": "This field is required."}
    body.update(referenced_custom_type_id=type_id, back_reference_is_visible=True)
    cf = (await http.post("/custom_field/activity/", json=body)).json()
    assert cf["referenced_custom_type_id"] == type_id
    shown = (await http.get(f"/custom_object_type/{type_id}/")).json()["back_reference_fields"]
    assert shown == [{"id": cf["id"], "name": "Subscription"}]
