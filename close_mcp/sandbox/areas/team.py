"""Roles, memberships, pinned views and user availability (tool manifest ``team``; groups are in
:mod:`.team_groups`).

Roles: the built-in roles are plain strings (``admin``, ``superuser``, ``user``,
``restricteduser``, close-api.md §5.1) and cannot be edited; custom roles are ``role_`` objects
(developer.close.com/api/resources/roles: ``name``, ``permissions``, ``editable``, the lead
visibility fields, which "should be empty if the role has view_all_leads"). A role still held by a
membership cannot be deleted (docs: "move all users off this role first").

Memberships link a seeded user to the organization (their ``membership_id`` and ``role_id``, as
``/me/`` shows them). ``POST /membership/`` is OAuth-only (spec: "API access to this endpoint is
supported via OAuth only"; close-api.md §6), so an API key gets 403.
"""

from __future__ import annotations

import copy

from starlette.responses import Response

from close_mcp.sandbox.engine import Ctx, Field, Hooks, Resource, Route, choice, json_response, one, write
from close_mcp.sandbox.engine.handlers import matching
from close_mcp.sandbox.ids import IdFactory
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, SandboxError, validation_error
from close_mcp.sandbox.validate import FieldErrors

# Guess: the built-in roles' names and permissions (docs example: Admin, editable false, with
# bulk_edit, export, manage_organization, view_all_leads).
BUILT_IN_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("Admin", ("bulk_edit", "export", "manage_organization", "view_all_leads")),
    "superuser": ("Super User", ("bulk_edit", "export", "view_all_leads")),
    "user": ("User", ("view_all_leads",)),
    "restricteduser": ("Restricted User", ()),
}
VISIBILITY_BEHAVIORS = choice("require_assignment", "allow_unassigned")


def built_in_roles() -> list[Obj]:
    return [
        {
            "id": role_id,
            "name": name,
            "permissions": list(perms),
            "editable": False,
            "visibility_user_lcf_ids": None,
            "visibility_user_lcf_behavior": None,
        }
        for role_id, (name, perms) in BUILT_IN_ROLES.items()
    ]


def role_exists(store: OrgStore, role_id: object) -> bool:
    return isinstance(role_id, str) and (role_id in BUILT_IN_ROLES or role_id in store.collection("roles"))


def _check_role(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    if existing is not None and not existing.get("editable", True):
        raise validation_error(
            errors=["This role is maintained by Close and cannot be edited."]
        )  # Guess: text
    if "name" in body and not str(body.get("name") or "").strip():
        errs.add("name", "This field may not be blank.")
    perms = body.get("permissions", (existing or {}).get("permissions", []))
    if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
        errs.add("permissions", "Must be a list of permission names.")
        return
    lcf_ids = body.get("visibility_user_lcf_ids", (existing or {}).get("visibility_user_lcf_ids"))
    behavior = body.get("visibility_user_lcf_behavior", (existing or {}).get("visibility_user_lcf_behavior"))
    if lcf_ids is not None:
        lead_fields = ctx.store.custom_fields["lead"]
        if not isinstance(lcf_ids, list) or not all(isinstance(i, str) and i in lead_fields for i in lcf_ids):
            errs.add("visibility_user_lcf_ids", "Must be a list of existing lead custom field IDs.")
    if "view_all_leads" in perms and (lcf_ids or behavior):
        # Docs: "should be empty if the role has view_all_leads permission". Guess: enforced with 400;
        # the other half ("and should be set otherwise") is not enforced.
        errs.add("visibility_user_lcf_ids", "Must be empty for a role with the view_all_leads permission.")


def delete_role(ctx: Ctx) -> Response:
    write.require_admin(ctx)
    role = ctx.registry.lookup(ctx.store, "role", ctx.path_id)
    if not role.get("editable", True):
        raise validation_error(errors=["This role is maintained by Close and cannot be deleted."])
    holders = [m["id"] for m in ctx.store.collection("memberships").values() if m["role_id"] == role["id"]]
    if holders:
        # Docs: "You must first move all users off this role". Guess: the 400's text.
        raise validation_error(
            errors=[f"{len(holders)} memberships still have this role; move them to another role first."]
        )
    write.delete(ctx, ROLE, role)
    return json_response({})  # spec: 200


ROLE = Resource(
    "role",
    "Role",
    "/role/",
    "role",
    fields=(
        Field("name", "str", required=True),
        Field("permissions", "list", default=[]),
        Field("visibility_user_lcf_ids", "list", default=None),
        Field("visibility_user_lcf_behavior", choices=VISIBILITY_BEHAVIORS, default=None),
        Field("editable", "bool", writable="never", default=True),
    ),
    collection="roles",
    ops=("list", "get", "create", "update"),
    admin_ops=("create", "update"),  # "Manage Organization" (custom_fields does the same)
    source=lambda store: [*built_in_roles(), *store.collection("roles").values()],
    events=(),  # Guess: no role events in Close's Event Log list
    stamped=False,  # the docs' role example has no audit fields
    default_order=None,  # built-in roles first, then custom ones as created
    create_status=201,  # close-api.md §4
    hooks=Hooks(validate=_check_role),
    routes=(Route("/role/{id}/", "DELETE", delete_role),),
)


# ----- memberships -------------------------------------------------------------------------------
HIDDEN = ("pinned_view_ids", "availability")


def membership_view(_store: OrgStore, membership: Obj) -> Obj:
    return {k: copy.deepcopy(v) for k, v in membership.items() if k not in HIDDEN}


def _check_membership(ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    if "role_id" in body and not role_exists(ctx.store, body["role_id"]):
        errs.add("role_id", "Not a valid role: use admin, superuser, user, restricteduser or a role_ ID.")


def _role_synced(ctx: Ctx, membership: Obj, _previous: Obj, changed: list[str]) -> None:
    """The user's ``role_id`` (what ``/me/``, the organization and permission checks read) follows."""
    user = ctx.store.users.get(membership["user_id"])
    if "role_id" in changed and user is not None:
        user["role_id"] = membership["role_id"]


def create_membership(ctx: Ctx) -> Response:
    """``POST /membership/``: OAuth only (403 for an API key); adds or provisions the user."""
    if ctx.info.api_key_id is not None:
        raise SandboxError(403, {"error": "This endpoint is only available to OAuth applications."})  # Guess
    write.require_admin(ctx)
    errs = FieldErrors()
    email, role_id = ctx.body.get("email"), ctx.body.get("role_id")
    if not isinstance(email, str) or "@" not in email:
        errs.add("email", "This field is required." if not email else "Not a valid email address.")
    if role_id in (None, ""):
        errs.add("role_id", "This field is required.")
    else:
        _check_membership(ctx, {"role_id": role_id}, None, errs)
    errs.raise_if_any()
    assert isinstance(email, str)
    user = next((u for u in ctx.store.users.values() if u["email"].lower() == email.lower()), None)
    if user is None:  # "If it doesn't exist, a new user will be provisioned."
        local = email.split("@")[0]
        user = {"id": ctx.store.ids.new("user"), "first_name": local.capitalize(), "last_name": ""}
        user.update(email=email, image=None, membership_id=None, role_id=role_id, last_used_timezone=None)
        ctx.store.stamp_new(user, ctx.info)
        for key in ("organization_id", "created_by", "updated_by"):
            user.pop(key)
        ctx.store.users[user["id"]] = user
    existing = ctx.store.collection("memberships").get(user.get("membership_id") or "")
    if existing is not None:  # "Ensures an active membership": an existing one is returned as it is
        return one(ctx, membership_view(ctx.store, existing))
    fields = {"user_id": user["id"], "role_id": role_id, "auto_record_calls": "unset", "pinned_view_ids": []}
    membership = write.insert(ctx, MEMBERSHIP, fields)
    user.update(membership_id=membership["id"], role_id=role_id)
    return one(ctx, membership_view(ctx.store, membership))


def update_memberships(ctx: Ctx) -> Response:
    """``PUT /membership/`` with ``id__in`` in ``_params``: one change for every listed membership."""
    write.require_admin(ctx)
    if not ctx.params.get("id__in"):
        raise validation_error(errors=["Pass the memberships to update as id__in in _params."])  # Guess
    body = write.clean_body(ctx, MEMBERSHIP, dict(ctx.body), {})  # validates once for all targets
    targets = matching(ctx, MEMBERSHIP)
    wanted = ctx.params["id__in"].split(",")
    missing = [i for i in wanted if i not in ctx.store.collection("memberships")]
    if missing:
        raise validation_error(errors=[f"Unknown membership IDs: {', '.join(missing)}."])  # Guess
    for membership in targets:
        write.patch(ctx, MEMBERSHIP, membership, dict(body))
    return json_response({"ok": True})  # Guess: as the task bulk update answers (close-api.md §10.5)


def update_membership(ctx: Ctx) -> Response:
    write.require_admin(ctx)
    membership = ctx.registry.lookup(ctx.store, "membership", ctx.path_id)
    write.update(ctx, MEMBERSHIP, membership, ctx.body)
    return one(ctx, membership_view(ctx.store, membership))


def remove_membership(ctx: Ctx) -> Response:
    """``DELETE /membership/{id}/``: the user leaves the organization (their objects stay)."""
    write.require_admin(ctx)
    membership = ctx.registry.lookup(ctx.store, "membership", ctx.path_id)
    if membership["user_id"] == ctx.info.user_id:
        raise validation_error(errors=["You cannot remove your own membership."])  # Guess
    write.delete(ctx, MEMBERSHIP, membership)
    return json_response({})  # close-api.md §4: other DELETEs answer 200 {}


def _may_touch_pins(ctx: Ctx, membership: Obj) -> None:
    if membership["user_id"] != ctx.info.user_id:
        write.require_admin(ctx)  # Guess: your own pins, or any as an admin


def get_pinned_views(ctx: Ctx) -> Response:
    membership = ctx.registry.lookup(ctx.store, "membership", ctx.path_id)
    _may_touch_pins(ctx, membership)
    return json_response({"saved_view_ids": list(membership.get("pinned_view_ids", []))})  # Guess: shape


def set_pinned_views(ctx: Ctx) -> Response:
    """Spec: "Provide an ordered list that will overwrite the entire current list"."""
    membership = ctx.registry.lookup(ctx.store, "membership", ctx.path_id)
    _may_touch_pins(ctx, membership)
    ids = ctx.body.get("saved_view_ids")
    if ids is None:
        raise validation_error({"saved_view_ids": "This field is required."})
    if not isinstance(ids, list) or not all(isinstance(i, str) and i.startswith("save_") for i in ids):
        # Guess: saved views are saved searches (save_ IDs); existence is checked once the sandbox has them.
        raise validation_error({"saved_view_ids": "Must be a list of saved view IDs (save_…)."})
    saved = ctx.store.collection("saved_searchs") or ctx.store.collection("saved_searches")
    unknown = [i for i in ids if saved and i not in saved]
    if unknown:
        raise validation_error({"saved_view_ids": "Object does not exist."})
    membership["pinned_view_ids"] = list(dict.fromkeys(ids))
    return json_response({"saved_view_ids": membership["pinned_view_ids"]})


def availability(ctx: Ctx) -> Response:
    """``GET /user/availability/``: one entry per active member. Guess: entry shape and statuses."""
    data = []
    for membership in ctx.store.collection("memberships").values():
        entry = {"user_id": membership["user_id"], "organization_id": ctx.store.org["id"]}
        entry.update(status=membership.get("availability", "available"), active_calls=[])
        data.append(entry)
    return json_response({"data": data})


MEMBERSHIP = Resource(
    "membership",
    "Membership",
    "/membership/",
    "memb",
    fields=(
        Field("user_id", writable="never"),
        Field("organization_id", writable="never", default=lambda ctx: ctx.store.org["id"]),
        Field("role_id", "str"),
        # Spec: "The initial value for a membership is 'unset'. It can be updated to 'disabled', or 'enabled'."
        Field("auto_record_calls", choices=choice("unset", "disabled", "enabled"), default="unset"),
    ),
    ops=(),
    events=(),  # Guess: no membership events in Close's Event Log list
    stamped=False,
    filters=("id", "user_id", "role_id"),
    default_order=None,
    hooks=Hooks(view=membership_view, validate=_check_membership, changed=_role_synced),
    routes=(
        Route("/membership/", "POST", create_membership),
        Route("/membership/", "PUT", update_memberships),
        Route("/membership/{id}/", "PUT", update_membership),
        Route("/membership/{id}/", "DELETE", remove_membership),
        Route("/membership/{id}/pinned_views/", "GET", get_pinned_views),
        Route("/membership/{id}/pinned_views/", "PUT", set_pinned_views),
        Route("/user/availability/", "GET", availability),
    ),
)
RESOURCES = (ROLE, MEMBERSHIP)

# ----- seed ------------------------------------------------------------------------------------
SEED_ROLES = [("Account Manager", ["bulk_edit", "export", "view_all_leads"]), ("SDR", ["view_all_leads"])]
AVAILABILITY = ("available", "available", "busy", "offline")  # Guess: the status values


def seed(sc: SeedCtx) -> None:
    """One membership per seeded user (their ``membership_id``/``role_id``), two custom roles."""
    ids = IdFactory(sc.rng)
    store = sc.store
    for name, perms in SEED_ROLES:
        rid = ids.new("role")
        store.collection("roles")[rid] = {"id": rid, "name": name, "permissions": perms, "editable": True}
        store.collection("roles")[rid].update(visibility_user_lcf_ids=None, visibility_user_lcf_behavior=None)
    for user in store.users.values():
        membership = {"id": user["membership_id"], "user_id": user["id"], "organization_id": store.org["id"]}
        membership.update(role_id=user["role_id"], auto_record_calls="unset", pinned_view_ids=[])
        membership["availability"] = sc.rng.choice(AVAILABILITY)
        store.collection("memberships")[membership["id"]] = membership
    # Guess: the admin has pinned two saved views. The sandbox serves no saved views yet; these IDs are
    # placeholders in their save_ form, to be replaced by seeded saved searches once those exist.
    admin = next(m for m in store.collection("memberships").values() if m["role_id"] == "admin")
    admin["pinned_view_ids"] = [ids.new("save"), ids.new("save")]
