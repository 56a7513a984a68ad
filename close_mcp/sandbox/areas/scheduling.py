"""Scheduling links: each user's booking links (manual or synced by an OAuth app), the team's
shared links and which user link or URL each one resolves to (tool manifest ``scheduling``).

Fields from Close's Scheduling Links pages (developer.close.com/api/resources/scheduling-links:
``name``, ``url``, ``description``; ``source_id``, ``source_type``, ``duration_in_minutes`` for
``THIRD_PARTY`` links) and the example of ``GET /scheduling_link/{id}/`` (``schlnk_`` IDs, ``source``,
``type``, ``oauth_client_id``, ``template_tag``, ``user_id``); the unmap example names
``shared_scheduling_link_id`` and ``user_id``. The spec's schemas are empty ("Empty response
body"), so everything else is a guess, marked where used.
"""

from __future__ import annotations

import copy
import re
from datetime import timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.common import current_user
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Parent, Resource, Route, json_response, one, write
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, SandboxError, not_found
from close_mcp.sandbox.validate import FieldErrors

URL = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
SANDBOX_OAUTH_CLIENT = "oa2client_sandbox"  # the sandbox's OAuth tokens belong to one app (guess)
OAUTH_ONLY = {"error": "This endpoint is only available to OAuth applications."}  # guess: 403 text unseen


def _check_url(_ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    if "url" in body and not (isinstance(body["url"], str) and URL.match(body["url"])):
        errs.add("url", "Enter a valid URL.")


def _own_links(ctx: Ctx) -> list[Obj]:
    """``GET /scheduling_link/`` lists the caller's own links (guess: "User" scheduling links)."""
    return [
        o for o in ctx.registry.objects(ctx.store, "scheduling_link") if o.get("user_id") == ctx.info.user_id
    ]


def _unmap_link(ctx: Ctx, link: Obj) -> None:
    """A deleted user link no longer resolves any shared link (guess: its mappings go with it)."""
    for assoc in list(ctx.store.collection("shared_scheduling_link_associations").values()):
        if assoc.get("user_scheduling_link_id") == link["id"]:
            write.delete(ctx, ASSOCIATION, assoc)


# ----- OAuth-only integration endpoints --------------------------------------------------------
def _require_oauth(ctx: Ctx) -> None:
    """OAuth-only (close-api.md §8; Close's page: "Using API key will result in an error").
    ``api_key_id`` is set exactly when the request came with an API key."""
    if ctx.info.api_key_id is not None:
        raise SandboxError(403, dict(OAUTH_ONLY))


def _integration_link(ctx: Ctx, source_id: object) -> Obj | None:
    return next(
        (
            o
            for o in ctx.registry.objects(ctx.store, "scheduling_link")
            if o.get("source") == "THIRD_PARTY"
            and o.get("oauth_client_id") == SANDBOX_OAUTH_CLIENT
            and o.get("source_id") == source_id
        ),
        None,
    )


def upsert_integration(ctx: Ctx) -> Response:
    """``POST /scheduling_link/integration/``: create, or update the link this app made with the
    same ``source_id``; 200 either way (spec)."""
    _require_oauth(ctx)
    source_id = ctx.body.get("source_id")
    if not isinstance(source_id, str) or not source_id:
        raise SandboxError(400, {"errors": [], "field-errors": {"source_id": "This field is required."}})
    existing = _integration_link(ctx, source_id)
    body = {k: v for k, v in ctx.body.items() if k != "source_id"}
    if existing is not None:
        write.update(ctx, SCHEDULING_LINK, existing, body)
        return one(ctx, copy.deepcopy(existing))
    fields = write.clean_body(ctx, SCHEDULING_LINK, {**body, "source_id": source_id}, None)
    fields.update(source="THIRD_PARTY", oauth_client_id=SANDBOX_OAUTH_CLIENT)
    return one(ctx, copy.deepcopy(write.insert(ctx, SCHEDULING_LINK, fields)))


def delete_integration(ctx: Ctx) -> Response:
    _require_oauth(ctx)
    assert ctx.request is not None
    link = _integration_link(ctx, ctx.request.path_params["source_id"])
    if link is None:
        raise not_found("SchedulingLink")
    write.delete(ctx, SCHEDULING_LINK, link)
    return json_response({}, 204)


SCHEDULING_LINK = Resource(
    "scheduling_link",
    "SchedulingLink",
    "/scheduling_link/",
    "schlnk",  # documented example ID (22 characters there; the sandbox's IdFactory gives 43)
    fields=(
        Field("name", "str", required=True),
        Field("url", "str", required=True),
        Field("description", "str", default=None),
        Field("source_id", "str", default=None),
        Field("source_type", "str", default=None),
        Field("duration_in_minutes", "int", default=None),
        Field("source", writable="never", default="MANUAL"),
        Field("type", writable="never", default="USER"),
        Field("oauth_client_id", writable="never", default=None),
        Field("template_tag", writable="never", default=None),
        Field("user_id", writable="never", default=current_user),
    ),
    events=(),  # guess: not among the Event Log's object types
    create_status=201,
    delete_status=204,
    hooks=Hooks(validate=_check_url, items=_own_links, after_delete=_unmap_link),
    routes=(
        Route("/scheduling_link/integration/", "POST", upsert_integration),
        Route("/scheduling_link/integration/{source_id}/", "DELETE", delete_integration),
    ),
)


# ----- shared links and their mappings -------------------------------------------------------
def _tag(name: str) -> str:
    """The template tag a shared link adds (guess at the form: ``{{ scheduling_link.<slug> }}``)."""
    return "{{ scheduling_link." + (re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "link") + " }}"


def shared_view(store: OrgStore, obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["template_tag"] = _tag(obj.get("name") or "")
    out["associations"] = [
        {k: a.get(k) for k in ("id", "user_id", "user_scheduling_link_id", "url")}
        for a in store.collection("shared_scheduling_link_associations").values()
        if a["shared_scheduling_link_id"] == obj["id"]
    ]  # guess: the mappings are shown on the shared link
    return out


SHARED_LINK = Resource(
    "shared_scheduling_link",
    "SharedSchedulingLink",
    "/shared_scheduling_link/",
    "schlnk",  # the unmap example's shared_scheduling_link_id is schlnk_… too
    fields=(
        Field("name", "str", required=True),
        Field("description", "str", default=None),
        Field("type", writable="never", default="SHARED"),
    ),
    events=(),
    admin_ops=("create", "update", "delete"),  # "Users with Manage Customizations permission" (docs)
    create_status=201,
    delete_status=204,
    hooks=Hooks(view=shared_view),
)


def _check_association(ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    if bool(body.get("user_scheduling_link_id")) == bool(body.get("url")):
        errs.add("url", "Map to either a user_scheduling_link_id or a url.")  # docs: "either … or"
    elif body.get("url") is not None:
        _check_url(ctx, body, None, errs)


def map_shared(ctx: Ctx) -> Response:
    """``POST /shared_scheduling_link_association/``: admins, or the owner of the user link
    (docs). A user's earlier mapping of the same shared link is replaced (guess)."""
    body = write.clean_body(ctx, ASSOCIATION, {"user_id": ctx.info.user_id, **ctx.body}, None)
    user_link = ctx.store.collection("scheduling_links").get(body.get("user_scheduling_link_id") or "")
    if ctx.user["role_id"] != "admin" and (
        body["user_id"] != ctx.info.user_id or (user_link and user_link["user_id"] != ctx.info.user_id)
    ):
        raise SandboxError(403, {"error": "You don't have permission to map this scheduling link."})
    for old in _mappings(ctx, body["shared_scheduling_link_id"], body["user_id"]):
        write.delete(ctx, ASSOCIATION, old)
    return one(ctx, copy.deepcopy(write.insert(ctx, ASSOCIATION, body)), 201)


def _mappings(ctx: Ctx, shared_id: object, user_id: object) -> list[Obj]:
    return [
        a
        for a in ctx.store.collection("shared_scheduling_link_associations").values()
        if a["shared_scheduling_link_id"] == shared_id and a["user_id"] == user_id
    ]


def unmap_shared(ctx: Ctx) -> Response:
    shared_id = ctx.body.get("shared_scheduling_link_id")
    ctx.registry.lookup(ctx.store, "shared_scheduling_link", str(shared_id or ""))  # 404 if unknown
    user_id = ctx.body.get("user_id") or ctx.info.user_id
    if user_id != ctx.info.user_id:
        write.require_admin(ctx)
    found = _mappings(ctx, shared_id, user_id)
    if not found:
        raise not_found("SharedSchedulingLinkAssociation")  # guess: nothing mapped → 404
    for assoc in found:
        write.delete(ctx, ASSOCIATION, assoc)
    return json_response({})


ASSOCIATION = Resource(
    "shared_scheduling_link_association",
    "SharedSchedulingLinkAssociation",
    "/shared_scheduling_link_association/",
    "schlnkassoc",  # guess
    fields=(
        Field("shared_scheduling_link_id", ref="shared_scheduling_link", required=True),
        Field("user_scheduling_link_id", ref="scheduling_link", default=None),
        Field("url", "str", default=None),
        Field("user_id", ref="user", error_key="user_id", default=current_user),
    ),
    ops=(),
    parent=Parent("shared_scheduling_link", "shared_scheduling_link_id"),  # deleted with it
    events=(),
    hooks=Hooks(validate=_check_association),
    routes=(
        Route("/shared_scheduling_link_association/", "POST", map_shared),
        Route("/shared_scheduling_link_association/unmap/", "POST", unmap_shared),
    ),
)
RESOURCES = (SCHEDULING_LINK, SHARED_LINK, ASSOCIATION)


# ----- seed ----------------------------------------------------------------------------
def seed(sc: SeedCtx) -> None:
    store, users = sc.store, list(sc.store.users)
    boot = RequestInfo(user_id=users[0], request_id="seed", method="SEED", path="/")
    when = sc.org_created + timedelta(days=10)
    links = store.collection("scheduling_links")
    mine: dict[str, str] = {}
    for i, uid in enumerate(users):
        first = store.users[uid]["first_name"].lower()
        for minutes in (15, 30) if i == 0 else (30,):
            lid = sc.ids.new("schlnk")
            link: Obj = {
                "id": lid,
                "name": f"{minutes}-minute call",
                "url": f"https://cal.example/{first}/{minutes}",
            }
            link.update(description=None, source_id=None, source_type=None, duration_in_minutes=minutes)
            link.update(source="MANUAL", type="USER", oauth_client_id=None, template_tag=None, user_id=uid)
            links[lid] = store.stamp_new(link, boot, when + timedelta(days=i))
            mine.setdefault(uid, lid)
    sid = sc.ids.new("schlnk")
    shared = {"id": sid, "name": "Book a demo", "description": "Team demo link", "type": "SHARED"}
    store.collection("shared_scheduling_links")[sid] = store.stamp_new(shared, boot, when)
    for uid in users[:2]:
        aid = sc.ids.new("schlnkassoc")
        assoc = {
            "id": aid,
            "shared_scheduling_link_id": sid,
            "user_scheduling_link_id": mine[uid],
            "url": None,
        }
        assoc["user_id"] = uid
        store.collection("shared_scheduling_link_associations")[aid] = store.stamp_new(assoc, boot, when)
