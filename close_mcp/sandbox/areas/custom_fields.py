"""Lead, contact and opportunity custom fields (tool manifest ``custom_fields``)."""

from __future__ import annotations

from collections.abc import Callable

from close_mcp.sandbox.engine import Ctx, Field, Hooks, Resource, choice, names
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import CUSTOM_FIELD_KINDS, Obj
from close_mcp.sandbox.validate import FieldErrors

CF_TYPES = choice("text", "number", "date", "datetime", "choices", "user", "contact", "hidden")
HOLDERS = {"lead": "lead", "contact": "contact", "opportunity": "opportunity"}  # cf kind -> resource


def _check(_ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    merged = {**(existing or {}), **body}  # an update is checked as the field it would become
    if merged.get("type") == "choices" and not merged.get("choices"):
        errs.add("choices", "This field is required for choices fields.")
    if merged.get("accepts_multiple_values") and merged.get("type") not in ("choices", "user", "contact"):
        errs.add("accepts_multiple_values", "Only user, choices and contact fields accept multiple values.")
    if isinstance(merged.get("description"), str) and len(merged["description"]) > 280:
        errs.add("description", "Ensure this field has no more than 280 characters.")


def _forget_values(kind: str) -> Callable[[Ctx, Obj], None]:
    def after_delete(ctx: Ctx, cf: Obj) -> None:
        for obj in ctx.registry.objects(ctx.store, HOLDERS[kind]):
            obj.pop(f"custom.{cf['id']}", None)

    return after_delete


def custom_field_resource(kind: str) -> Resource:
    return Resource(
        f"{kind}_custom_field",
        f"{kind.capitalize()}CustomField",
        f"/custom_field/{kind}/",
        "cf",
        fields=(
            Field("name", "str", required=True),
            Field("type", required=True, choices=CF_TYPES),
            Field("choices", "list", default=None),
            Field("accepts_multiple_values", default=False),
            Field("description", default=None),
            Field("editable_with_roles", default=[]),
            Field("referenced_custom_type_id", writable="never", default=None),
            Field("back_reference_is_visible", writable="never", default=False),
        ),
        admin_ops=("create", "update", "delete"),
        events=(),
        default_order=None,
        hooks=Hooks(validate=_check, after_delete=_forget_values(kind)),
    )


RESOURCES = tuple(custom_field_resource(kind) for kind in CUSTOM_FIELD_KINDS)

# ----- seed ----------------------------------------------------------------------------
INDUSTRIES = names("Software Healthcare Manufacturing Retail Logistics Finance Education")
SOURCES = ["Website", "Referral", "Cold outreach", "Conference", "Partner"]
PRODUCTS = names("Starter Growth Enterprise")
SEED_FIELDS = [
    ("lead", "Industry", "choices", INDUSTRIES),
    ("lead", "Employees", "number", None),
    ("lead", "Lead Source", "choices", SOURCES),
    ("contact", "LinkedIn", "text", None),
    ("opportunity", "Product", "choices", PRODUCTS),
]


def seed(sc: SeedCtx) -> None:
    for kind, name, ftype, choices in SEED_FIELDS:
        cid = sc.ids.new("cf")
        sc.store.custom_fields[kind][cid] = sc.stamp(
            {
                "id": cid,
                "name": name,
                "description": None,
                "type": ftype,
                "choices": list(choices) if choices is not None else None,
                "accepts_multiple_values": False,
                "editable_with_roles": [],
                "referenced_custom_type_id": None,
                "back_reference_is_visible": False,
            },
            sc.org_created,
        )
        sc.custom_fields[name] = cid
