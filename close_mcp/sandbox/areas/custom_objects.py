"""Custom activity types, custom object types and custom object instances (tool manifest
``custom_objects``).

Sources: Close's docs pages "Custom Activity Types", "Custom Object Types" and "Custom Object
Instances" (developer.close.com/resources/custom-activities/…, /resources/custom-objects/…):
required fields, what PUT may change, ``lead_id`` required to list instances; close-api.md §4
(201 creates, 204 deletes) and §2.1 (``/custom_object_type/`` pages without ``has_more``).
"""

from __future__ import annotations

import copy
from datetime import timedelta

from close_mcp.sandbox.areas.custom_fields_schema import schema_fields
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Parent, Resource, names
from close_mcp.sandbox.ids import IdFactory
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, validation_error
from close_mcp.sandbox.validate import FieldErrors, _custom_value_ok


def _with_fields(schema_prefix: str) -> Hooks:
    """A type's view lists its fields (own and associated shared ones), in schema order."""

    def view(store: OrgStore, obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out["fields"] = schema_fields(store, f"{schema_prefix}/{obj['id']}")
        if schema_prefix == "custom_object":
            # Docs: fields of other objects that reference this type (type custom_object).
            out["back_reference_fields"] = [
                {"id": cf["id"], "name": cf["name"]}
                for name in names("lead contact opportunity activity custom_object_type shared")
                for cf in store.collection(f"{name}_custom_fields").values()
                if cf.get("referenced_custom_type_id") == obj["id"] and cf.get("back_reference_is_visible")
            ]
        return out

    return Hooks(view=view)


def _type_fields(plural: bool) -> tuple[Field, ...]:
    return (
        Field("name", "str", required=True),
        *((Field("name_plural", "str", required=True),) if plural else ()),
        Field("description", "str", default=""),  # guess: the docs' examples show a string
        Field("api_create_only", "bool", default=False),  # docs: "Defaults to false"
        Field("editable_with_roles", "list", default=[]),
    )


CUSTOM_ACTIVITY_TYPE = Resource(
    "custom_activity_type",
    "CustomActivityType",
    "/custom_activity/",
    "actitype",  # close-api.md §5.1
    fields=(*_type_fields(False), Field("is_archived", "bool", default=False)),
    collection="custom_activity_types",
    admin_ops=("create", "update", "delete"),  # guess: org configuration, like custom fields
    events=(),  # guess: no Event Log entries documented for type definitions
    default_order=None,
    pagination="none",  # guess: the docs list no _limit/_skip (as /custom_object_type/, close-api.md §2.1)
    create_status=201,
    delete_status=204,
    hooks=_with_fields("activity"),
)

CUSTOM_OBJECT_TYPE = Resource(
    "custom_object_type",
    "CustomObjectType",
    "/custom_object_type/",
    "cotype",  # close-api.md §5.1 (full format unknown; classic length used)
    fields=_type_fields(True),
    admin_ops=("create", "update", "delete"),
    events=(),
    default_order=None,
    pagination="none",  # close-api.md §2.1 (OBS-PHP)
    create_status=201,
    delete_status=204,
    hooks=_with_fields("custom_object"),
)


# ----- instances -----------------------------------------------------------------------------
def _fields_for(ctx: Ctx, type_id: str) -> dict[str, Obj]:
    return {f["id"]: f for f in schema_fields(ctx.store, f"custom_object/{type_id}")}


def _check_instance(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    """``custom.cf_…`` values must belong to the instance's type and match the field's type;
    fields marked ``required`` must have a value (docs: "required to save the object").
    The engine keeps custom keys only for lead-like kinds, so they are taken from the raw body."""
    type_id = (existing or body).get("custom_object_type_id")
    if not isinstance(type_id, str) or not ctx.registry.exists(ctx.store, "custom_object_type", type_id):
        return  # the declared ref check reports it
    fields = _fields_for(ctx, type_id)
    for key, value in ctx.body.items():
        if not key.startswith("custom."):
            continue
        cf = fields.get(key.removeprefix("custom."))
        if cf is None:
            errs.add(key, "Custom field does not exist.")  # as check_custom words it
        elif value is not None and not _custom_value_ok(ctx.store, cf, value):
            errs.add(key, f"Invalid value for {cf['type']} custom field '{cf['name']}'.")
        else:
            body[key] = value
    merged = {**(existing or {}), **body}
    for cf in fields.values():
        if cf.get("required") and merged.get(f"custom.{cf['id']}") in (None, "", []):
            errs.add(f"custom.{cf['id']}", "This field is required.")  # guess: the generic message


def _require_lead(ctx: Ctx, params: dict[str, str]) -> dict[str, str]:
    """Docs: "The lead_id parameter is required." Guess: answered as a field error."""
    if not params.get("lead_id"):
        raise validation_error({"lead_id": "This field is required."})
    return params


CUSTOM_OBJECT = Resource(
    "custom_object",
    "CustomObject",
    "/custom_object/",
    "custobj",  # guess: the prefix Close's UI shows; close-api.md §5.1 leaves it open
    fields=(
        Field("custom_object_type_id", ref="custom_object_type", required=True, writable="create"),
        Field("lead_id", ref="lead", required=True, writable="create"),
        Field("name", "str", required=True),
    ),
    parent=Parent("lead", "lead_id"),  # docs: "The Lead that this Custom Object instance will belong to"
    filters=names("lead_id custom_object_type_id"),
    events=("created", "updated", "deleted"),  # guess: instances are Event Log objects like leads' children
    create_status=201,
    delete_status=204,
    hooks=Hooks(validate=_check_instance, params=_require_lead),
)

RESOURCES = (CUSTOM_ACTIVITY_TYPE, CUSTOM_OBJECT_TYPE, CUSTOM_OBJECT)


# ----- seed ----------------------------------------------------------------------------------
# Two activity types and two object types with fields, one shared field used by leads and
# subscriptions, and subscriptions/tickets on some seeded leads. IDs come from this area's own
# random stream, so other areas' data never moves.
FieldSpec = tuple[str, str, list[str] | None, bool]  # name, type, choices, required
ACTIVITY_TYPES: list[tuple[str, str, list[FieldSpec]]] = [
    (
        "Discovery Call Summary",
        "Notes from a first qualification call.",
        [
            ("Pain points", "textarea", None, False),
            ("Budget confirmed", "choices", ["Yes", "No", "Unknown"], True),
        ],
    ),
    ("Onsite Visit", "A visit at the customer's office.", [("Visit date", "date", None, False)]),
]
OBJECT_TYPES: list[tuple[str, str, str, list[FieldSpec]]] = [
    (
        "Support Ticket",
        "Support Tickets",
        "An issue raised by the customer.",
        [
            ("Priority", "choices", ["Low", "Normal", "Urgent"], False),
        ],
    ),
    (
        "Subscription",
        "Subscriptions",
        "A paid plan the customer holds.",
        [
            ("Plan", "choices", ["Starter", "Growth", "Enterprise"], True),
            ("Seats", "number", None, False),
            ("Renewal date", "date", None, False),
        ],
    ),
]
TICKETS = ["Login problem", "Export is slow", "Invoice question", "Integration error"]


def _field(ids: IdFactory, name: str, ftype: str, choices: list[str] | None, **extra: object) -> Obj:
    return {
        "id": ids.new("cf"),
        "name": name,
        "description": None,
        "type": ftype,
        "choices": choices,
        "accepts_multiple_values": False,
        "editable_with_roles": [],
        "referenced_custom_type_id": None,
        "back_reference_is_visible": False,
        **extra,
    }


def seed(sc: SeedCtx) -> None:
    ids, store, rng = IdFactory(sc.rng), sc.store, sc.rng
    boot = RequestInfo(sc.user_ids[0], ids.new("req"), "POST", "/api/v1/seed/")
    when = sc.org_created + timedelta(days=30)

    def put(collection: str, obj: Obj) -> Obj:
        store.collection(collection)[obj["id"]] = store.stamp_new(obj, boot, when)
        return obj

    for name, description, fields in ACTIVITY_TYPES:
        at = put(
            "custom_activity_types",
            {
                "id": ids.new("actitype"),
                "name": name,
                "description": description,
                "api_create_only": False,
                "editable_with_roles": [],
                "is_archived": False,
            },
        )
        for fname, ftype, choices, required in fields:
            put(
                "activity_custom_fields",
                _field(ids, fname, ftype, choices, custom_activity_type_id=at["id"], required=required),
            )
    types: list[tuple[Obj, list[Obj]]] = []
    for name, plural, description, fields in OBJECT_TYPES:
        ot = put(
            "custom_object_types",
            {
                "id": ids.new("cotype"),
                "name": name,
                "name_plural": plural,
                "description": description,
                "api_create_only": False,
                "editable_with_roles": [],
            },
        )
        cfs = [
            put(
                "custom_object_type_custom_fields",
                _field(ids, f, t, c, custom_object_type_id=ot["id"], required=r),
            )
            for f, t, c, r in fields
        ]
        types.append((ot, cfs))
    ticket, ticket_fields = types[0]
    subscription, sub_fields = types[1]
    region = put(
        "shared_custom_fields",
        _field(
            ids,
            "Region",
            "choices",
            ["EMEA", "AMER", "APAC"],
            associations=[
                {"object_type": "lead", "editable_with_roles": [], "required": False},
                {
                    "object_type": "custom_object_type",
                    "custom_object_type_id": subscription["id"],
                    "editable_with_roles": [],
                    "required": False,
                },
            ],
        ),
    )
    leads = sorted(store.leads)[:: max(1, len(store.leads) // 24)][:24]  # a couple dozen customers
    for lead_id in leads:
        plan, seats, renewal = sub_fields
        put(
            "custom_objects",
            {
                "id": ids.new("custobj"),
                "custom_object_type_id": subscription["id"],
                "lead_id": lead_id,
                "name": f"{rng.choice(plan['choices'])} plan",
                f"custom.{plan['id']}": rng.choice(plan["choices"]),
                f"custom.{seats['id']}": rng.choice([5, 10, 25, 50, 120]),
                f"custom.{renewal['id']}": (sc.now + timedelta(days=rng.randint(10, 330))).date().isoformat(),
                f"custom.{region['id']}": rng.choice(region["choices"]),
            },
        )
        if rng.random() < 0.4:
            put(
                "custom_objects",
                {
                    "id": ids.new("custobj"),
                    "custom_object_type_id": ticket["id"],
                    "lead_id": lead_id,
                    "name": rng.choice(TICKETS),
                    f"custom.{ticket_fields[0]['id']}": rng.choice(["Low", "Normal", "Urgent"]),
                },
            )
