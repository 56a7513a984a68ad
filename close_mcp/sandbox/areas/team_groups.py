"""Groups of users (tool manifest ``team``).

Close (spec ``/group/``): a group has an ``id``, a unique ``name``, ``members`` ``[{user_id}]`` and
``organization_id``; it is created empty and members are added one at a time. ``name`` and
``members`` are returned only when asked for with ``_fields`` (close-api.md §3.1), and the list
never returns ``members`` ("list endpoint does not support retrieving members for all groups").
POST answers 201, DELETE 204, adding a member 201 and removing one 204 (close-api.md §4);
adding a member twice or removing a non-member changes nothing (spec).
"""

from __future__ import annotations

import copy

from starlette.responses import Response

from close_mcp.sandbox.engine import Ctx, Field, Hooks, Resource, Route, json_response, one, write
from close_mcp.sandbox.engine.handlers import matching
from close_mcp.sandbox.engine.query import offset_page
from close_mcp.sandbox.ids import IdFactory
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, validation_error
from close_mcp.sandbox.validate import FieldErrors

DEFAULT_FIELDS = "id,organization_id"  # what Close returns without _fields (close-api.md §3.1)


def group_view(_store: OrgStore, group: Obj) -> Obj:
    return copy.deepcopy(group)


def _fields(ctx: Ctx, *, listing: bool) -> dict[str, str]:
    params = dict(ctx.params)
    wanted = [f.strip() for f in params.get("_fields", DEFAULT_FIELDS).split(",") if f.strip()]
    if "_all" in wanted:
        wanted = ["id", "name", "members", "organization_id"]
    if listing:
        wanted = [f for f in wanted if f != "members"]
    params["_fields"] = ",".join(wanted) or "id"
    return params


def list_groups(ctx: Ctx) -> Response:
    items = matching(ctx, GROUP)
    view = lambda g: group_view(ctx.store, g)  # noqa: E731
    return json_response(offset_page(items, _fields(ctx, listing=True), GROUP, view))


def _answer(ctx: Ctx, group: Obj, status: int = 200) -> Response:
    ctx.params = _fields(ctx, listing=False)
    return one(ctx, group_view(ctx.store, group), status)


def get_group(ctx: Ctx) -> Response:
    return _answer(ctx, ctx.registry.lookup(ctx.store, "group", ctx.path_id))


def create_group(ctx: Ctx) -> Response:
    return _answer(ctx, write.create(ctx, GROUP, ctx.body), 201)


def update_group(ctx: Ctx) -> Response:
    write.require_admin(ctx)
    group = ctx.registry.lookup(ctx.store, "group", ctx.path_id)
    write.update(ctx, GROUP, group, ctx.body)
    return _answer(ctx, group)


def _check(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    if "name" not in body:
        return
    name = str(body.get("name") or "").strip()
    if not name:
        errs.add("name", "This field may not be blank.")
    taken = any(
        g["name"].casefold() == name.casefold()
        for g in ctx.store.collection("groups").values()
        if existing is None or g["id"] != existing["id"]
    )
    if taken:
        # Spec: "must be unique within the organization". Guess: the text and case-insensitivity.
        errs.add("name", "A group with this name already exists.")


def add_member(ctx: Ctx) -> Response:
    """``POST /group/{id}/member/`` ``{"user_id"}`` → 201 ``{"user_id"}``."""
    assert ctx.request is not None
    group = ctx.registry.lookup(ctx.store, "group", str(ctx.request.path_params["id"]))
    write.require_admin(ctx)  # Guess: managing groups needs "Manage Organization", as roles do
    user_id = ctx.body.get("user_id")
    if user_id in (None, ""):
        raise validation_error({"user_id": "This field is required."})
    if not isinstance(user_id, str) or user_id not in ctx.store.users:
        raise validation_error({"user": "Object does not exist."})  # the engine's ref-error form
    if all(m["user_id"] != user_id for m in group["members"]):
        write.patch(ctx, GROUP, group, {"members": [*group["members"], {"user_id": user_id}]})
    return json_response({"user_id": user_id}, 201)


def remove_member(ctx: Ctx) -> Response:
    """``DELETE /group/{id}/member/{user_id}/`` → 204, also for a non-member (spec)."""
    assert ctx.request is not None
    group = ctx.registry.lookup(ctx.store, "group", str(ctx.request.path_params["id"]))
    write.require_admin(ctx)
    user_id = str(ctx.request.path_params["user_id"])
    ctx.registry.lookup(ctx.store, "user", user_id)  # an unknown user is a 404
    kept = [m for m in group["members"] if m["user_id"] != user_id]
    if len(kept) != len(group["members"]):
        write.patch(ctx, GROUP, group, {"members": kept})
    return json_response({}, 204)


GROUP = Resource(
    "group",
    "Group",
    "/group/",
    "group",
    fields=(
        Field("name", "str", required=True),
        Field("members", "list", writable="never", default=[]),
        Field("organization_id", writable="never", default=lambda ctx: ctx.store.org["id"]),
    ),
    ops=("delete",),
    admin_ops=("create", "update", "delete"),  # Guess: org-wide configuration
    events=(),  # Guess: Close's Event Log lists no group events
    stamped=False,  # the spec's Group has no audit fields
    filters=("id", "name"),
    default_order="name",  # Guess
    delete_status=204,  # close-api.md §4
    hooks=Hooks(view=group_view, validate=_check),
    routes=(
        Route("/group/", "GET", list_groups),
        Route("/group/", "POST", create_group),
        Route("/group/{id}/", "GET", get_group),
        Route("/group/{id}/", "PUT", update_group),
        Route("/group/{id}/member/", "POST", add_member),
        Route("/group/{id}/member/{user_id}/", "DELETE", remove_member),
    ),
)
RESOURCES = (GROUP,)

# ----- seed ------------------------------------------------------------------------------------
SEED_GROUPS = {"Account Executives": (1, 2), "Renewals Team": (2,), "Leadership": (0,)}


def seed(sc: SeedCtx) -> None:
    ids = IdFactory(sc.rng)
    users = sc.user_ids
    for name, members in SEED_GROUPS.items():
        gid = ids.new("group")
        sc.store.collection("groups")[gid] = {
            "id": gid,
            "name": name,
            "members": [{"user_id": users[i]} for i in members if i < len(users)],
            "organization_id": sc.store.org["id"],
        }
