"""Shared custom field associations and custom field schemas (display order of an object's fields).

Hand-written routes, hung on the shared custom field resource (``custom_fields_kinds.py``).
Sources: Close's docs pages "Shared Custom Fields" (association attributes, the association's
``object_type`` in URLs: ``lead``, ``contact``, ``opportunity``, ``custom_activity_type/<id>``,
``custom_object_type/<id>``) and "Custom Field Schemas" (PUT ``fields: [{"id": …}]``; omitted
IDs are appended at the end). Response shapes are not published (SPEC: "Empty response body"):
guesses, noted where made.
"""

from __future__ import annotations

import copy

from starlette.responses import Response

from close_mcp.sandbox.engine import Ctx, Route, json_response, one
from close_mcp.sandbox.engine.write import require_admin
from close_mcp.sandbox.store import CUSTOM_FIELD_KINDS, Obj, OrgStore, SandboxError, validation_error
from close_mcp.sandbox.validate import FieldErrors, check_required

OBJECT_TYPES = ("lead", "contact", "opportunity", "custom_activity_type", "custom_object_type")
TYPED = {  # association object_type -> (id field, resource, schema prefix, own-field collection)
    "custom_activity_type": ("custom_activity_type_id", "custom_activity_type", "activity"),
    "custom_object_type": ("custom_object_type_id", "custom_object_type", "custom_object"),
}
OWN_FIELDS = {"activity": "activity_custom_field", "custom_object": "custom_object_type_custom_field"}
ASSOCIATION_MODEL = "SharedCustomFieldAssociation"  # guess, after the other 404 texts (close-api.md §4)


def association_key(assoc: Obj) -> str:
    """How the association is named in its URL: ``lead`` or ``custom_object_type/cotype_…``."""
    typed = TYPED.get(assoc["object_type"])
    return f"{assoc['object_type']}/{assoc[typed[0]]}" if typed else str(assoc["object_type"])


def _schema_to_association(schema: str) -> str | None:
    """``activity/actitype_…`` (a schema name) → ``custom_activity_type/actitype_…``."""
    if schema in CUSTOM_FIELD_KINDS:
        return schema
    kind, _, type_id = schema.partition("/")
    for object_type, (_field, _res, prefix) in TYPED.items():
        if kind == prefix and type_id:
            return f"{object_type}/{type_id}"
    return None


def schema_fields(store: OrgStore, schema: str) -> list[Obj]:
    """The custom fields of one schema, in its display order: its own fields, then the shared
    fields associated with it (with the association's ``required``/``editable_with_roles``)."""
    key = _schema_to_association(schema)
    if key is None:
        raise SandboxError(404, {"error": f"Unknown custom field schema: {schema}."})  # guess
    registry = store.registry
    assert registry is not None
    kind, _, type_id = schema.partition("/")
    if type_id:
        object_type = key.partition("/")[0]
        id_field, resource, _prefix = TYPED[object_type]
        registry.lookup(store, resource, type_id)  # 404 for an unknown type
        own = [
            copy.deepcopy(f) for f in registry.objects(store, OWN_FIELDS[kind]) if f.get(id_field) == type_id
        ]
    else:
        own = [copy.deepcopy(f) for f in store.custom_fields[kind].values()]
    for scf in registry.objects(store, "shared_custom_field"):
        for assoc in scf.get("associations", []):
            if association_key(assoc) == key:
                shown = copy.deepcopy(scf)
                shown.update(
                    required=assoc.get("required", False), editable_with_roles=assoc["editable_with_roles"]
                )
                own.append(shown)
    order = store.collection("custom_field_schemas").get(schema, {}).get("order", [])
    rank = {fid: i for i, fid in enumerate(order)}
    return sorted(own, key=lambda f: rank.get(f["id"], len(rank)))  # stable: unlisted ones keep their order


def _schema_name(ctx: Ctx) -> str:
    assert ctx.request is not None
    return str(ctx.request.path_params["object_type"]).strip("/")


def get_schema(ctx: Ctx) -> Response:
    return one(ctx, {"fields": schema_fields(ctx.store, _schema_name(ctx))})  # shape: guess


def put_schema(ctx: Ctx) -> Response:
    require_admin(ctx)
    schema = _schema_name(ctx)
    known = [f["id"] for f in schema_fields(ctx.store, schema)]
    given = ctx.body.get("fields")
    if not isinstance(given, list) or not all(isinstance(f, dict) and "id" in f for f in given):
        raise validation_error({"fields": "Not a valid list."})
    ids = [str(f["id"]) for f in given]
    unknown = [i for i in ids if i not in known]
    if unknown:  # guess: Close's message is not documented
        raise validation_error({"fields": f"Custom field {unknown[0]} does not belong to this schema."})
    # Docs: "any IDs that are omitted from the list will be automatically appended to the end".
    order = ids + [i for i in known if i not in ids]
    ctx.store.collection("custom_field_schemas")[schema] = {"id": schema, "order": order}
    return one(ctx, {"fields": schema_fields(ctx.store, schema)})


# ----- shared field associations ----------------------------------------------------------------
def _shared(ctx: Ctx) -> Obj:
    assert ctx.request is not None
    return ctx.registry.lookup(ctx.store, "shared_custom_field", str(ctx.request.path_params["id"]))


def _association(ctx: Ctx, scf: Obj) -> Obj:
    key = _schema_name(ctx)
    found = next((a for a in scf.get("associations", []) if association_key(a) == key), None)
    if found is None:
        raise SandboxError(404, {"error": f"Empty query: {ASSOCIATION_MODEL} matching query does not exist."})
    return found


def _roles_ok(errs: FieldErrors, body: Obj) -> None:
    if "editable_with_roles" in body and not isinstance(body["editable_with_roles"], list):
        errs.add("editable_with_roles", "Not a valid list.")
    if "required" in body and not isinstance(body["required"], bool):
        errs.add("required", "Not a valid boolean.")


def create_association(ctx: Ctx) -> Response:
    require_admin(ctx)
    scf, body = _shared(ctx), ctx.body
    errs = FieldErrors()
    check_required(errs, body, "object_type")
    object_type = body.get("object_type")
    if object_type is not None and object_type not in OBJECT_TYPES:
        errs.add("object_type", f"Not a valid choice. Valid choices: {', '.join(sorted(OBJECT_TYPES))}.")
    _roles_ok(errs, body)
    assoc: Obj = {"object_type": object_type}
    typed = TYPED.get(str(object_type))
    if typed:
        id_field, resource, _prefix = typed
        check_required(errs, body, id_field)
        if body.get(id_field) and not ctx.registry.exists(ctx.store, resource, body[id_field]):
            errs.add(resource, "Object does not exist.")
        assoc[id_field] = body.get(id_field)
    errs.raise_if_any()
    # Docs: `required` is only relevant for custom activity and custom object types.
    assoc.update(
        editable_with_roles=body.get("editable_with_roles", []),
        required=bool(typed) and body.get("required", False),
    )
    if any(association_key(a) == association_key(assoc) for a in scf["associations"]):
        raise validation_error(errors=["This field is already associated with this object type."])  # guess
    scf["associations"].append(assoc)
    ctx.store.stamp_update(scf, ctx.info)
    return json_response(assoc, 201)  # close-api.md §4: 201 (SPEC)


def get_association(ctx: Ctx) -> Response:
    return json_response(_association(ctx, _shared(ctx)))


def update_association(ctx: Ctx) -> Response:
    require_admin(ctx)
    scf = _shared(ctx)
    assoc = _association(ctx, scf)
    errs = FieldErrors()
    _roles_ok(errs, ctx.body)
    errs.raise_if_any()
    # Docs: "You can change the required or the editable_with_roles attributes. Everything else cannot be changed."
    for name in ("required", "editable_with_roles"):
        if name in ctx.body:
            assoc[name] = ctx.body[name]
    ctx.store.stamp_update(scf, ctx.info)
    return json_response(assoc)


def delete_association(ctx: Ctx) -> Response:
    require_admin(ctx)
    scf = _shared(ctx)
    assoc = _association(ctx, scf)
    scf["associations"].remove(assoc)
    ctx.store.stamp_update(scf, ctx.info)
    _forget_on(ctx.store, assoc, f"custom.{scf['id']}")
    return json_response({}, 204)  # close-api.md §4: 204 for the shared association


def _forget_on(store: OrgStore, assoc: Obj, key: str) -> None:
    """Values of a disassociated field vanish from that object type (as on delete, docs)."""
    object_type = assoc["object_type"]
    if object_type in CUSTOM_FIELD_KINDS:
        holders = store.collection({"lead": "leads", "contact": "contacts"}.get(object_type, "opportunities"))
        objs = list(holders.values())
    else:
        id_field = TYPED[object_type][0]
        name = "activities" if object_type == "custom_activity_type" else "custom_objects"
        objs = [o for o in store.collection(name).values() if o.get(id_field) == assoc[id_field]]
    for obj in objs:
        obj.pop(key, None)


ASSOCIATION = "/custom_field/shared/{id}/association/"
ROUTES = (
    Route(ASSOCIATION, "POST", create_association),
    Route(ASSOCIATION + "{object_type:path}/", "GET", get_association),
    Route(ASSOCIATION + "{object_type:path}/", "PUT", update_association),
    Route(ASSOCIATION + "{object_type:path}/", "DELETE", delete_association),
    Route("/custom_field_schema/{object_type:path}/", "GET", get_schema),
    Route("/custom_field_schema/{object_type:path}/", "PUT", put_schema),
)
