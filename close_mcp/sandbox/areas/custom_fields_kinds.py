"""Activity, custom object and shared custom fields (tool manifest ``custom_fields``).

Lead, contact and opportunity fields are in ``custom_fields.py``; the shared fields'
associations and the custom field schemas (display order) are in ``custom_fields_schema.py``.
Sources: close-api.md §5 (custom field shape) and Close's docs pages "Activity Custom Fields",
"Custom Object Custom Fields" and "Shared Custom Fields" (developer.close.com/resources/custom-fields/…).
"""

from __future__ import annotations

from close_mcp.sandbox.areas.custom_fields import CF_TYPES, _check
from close_mcp.sandbox.areas.custom_fields_schema import ROUTES
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Parent, Resource
from close_mcp.sandbox.store import Obj
from close_mcp.sandbox.validate import FieldErrors

# close-api.md §5: `textarea` exists on activity fields only; `custom_object` (a reference to a
# custom object instance) on every kind that may hold one. Guess: shared fields take `custom_object` too.
ACTIVITY_TYPES = CF_TYPES | {"textarea", "custom_object"}
OBJECT_TYPES = CF_TYPES | {"custom_object"}
# Collections that may hold ``custom.cf_…`` values; a deleted field's values vanish from them all
# (docs: "The field will immediately disappear from any … API responses").
VALUE_HOLDERS = ("leads", "contacts", "opportunities", "activities", "custom_objects")


def forget_values(ctx: Ctx, cf: Obj) -> None:
    key = f"custom.{cf['id']}"
    for name in VALUE_HOLDERS:
        for obj in ctx.store.collection(name).values():
            obj.pop(key, None)


def _common(types: frozenset[str]) -> tuple[Field, ...]:
    # The docs of both typed kinds: "The custom_activity_type_id and type values cannot be changed."
    return (
        Field("name", "str", required=True),
        Field("type", required=True, choices=types, writable="create"),
        Field("choices", "list", default=None),
        Field("accepts_multiple_values", "bool", default=False),
        Field("description", default=None),
        Field("editable_with_roles", "list", default=[]),
        # close-api.md §5: a `custom_object` field names the custom object type it points at.
        Field("referenced_custom_type_id", ref="custom_object_type", writable="create", default=None),
        Field("back_reference_is_visible", "bool", default=False),
    )


def _check_kind(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    _check(ctx, body, existing, errs)
    merged = {**(existing or {}), **body}
    if merged.get("type") == "custom_object" and not merged.get("referenced_custom_type_id"):
        errs.add("referenced_custom_type_id", "This field is required.")  # guess: Close's wording unrecorded


ACTIVITY_CUSTOM_FIELD = Resource(
    "activity_custom_field",
    "ActivityCustomField",
    "/custom_field/activity/",
    "cf",
    fields=(
        *_common(ACTIVITY_TYPES),
        Field("custom_activity_type_id", ref="custom_activity_type", required=True, writable="create"),
        Field("required", "bool", default=False),
    ),
    parent=Parent("custom_activity_type", "custom_activity_type_id"),  # gone with its type
    admin_ops=("create", "update", "delete"),  # close-api.md §5: only manage_organization users write
    events=(),
    default_order=None,
    hooks=Hooks(validate=_check_kind, after_delete=forget_values),
)

CUSTOM_OBJECT_CUSTOM_FIELD = Resource(
    "custom_object_type_custom_field",
    "CustomObjectTypeCustomField",
    "/custom_field/custom_object_type/",
    "cf",
    fields=(
        *_common(OBJECT_TYPES),
        Field("custom_object_type_id", ref="custom_object_type", required=True, writable="create"),
        Field("required", "bool", default=False),
    ),
    parent=Parent("custom_object_type", "custom_object_type_id"),
    admin_ops=("create", "update", "delete"),
    events=(),
    default_order=None,
    pagination="none",  # close-api.md §2.1: `data` without has_more (OBS-PHP)
    create_status=201,  # close-api.md §4 (SPEC)
    delete_status=204,
    hooks=Hooks(validate=_check_kind, after_delete=forget_values),
)

SHARED_CUSTOM_FIELD = Resource(
    "shared_custom_field",
    "SharedCustomField",
    "/custom_field/shared/",
    "cf",
    fields=(
        *_common(OBJECT_TYPES),
        # Written only through /custom_field/shared/{id}/association/ (custom_fields_schema.py).
        Field("associations", "list", writable="never", default=[]),
    ),
    admin_ops=("create", "update", "delete"),
    events=(),
    default_order=None,
    hooks=Hooks(validate=_check_kind, after_delete=forget_values),
    routes=ROUTES,  # associations and schemas
)

RESOURCES = (ACTIVITY_CUSTOM_FIELD, CUSTOM_OBJECT_CUSTOM_FIELD, SHARED_CUSTOM_FIELD)
