"""Comments on Close objects, grouped in one thread per object (tool manifest ``comments``).

Close's model (developer.close.com/api/resources/comments): every thread belongs to one object
and holds one or more comments; a thread is created with its first comment and deleted with its
last one. ``DELETE /comment/{id}/`` removes the body, and the comment object stays until every
comment of its thread is removed (then the whole thread goes). Comments and threads belong to
the lead of the commented object, so a lead's deletion cascades to them and a merge moves them.

Guesses (the spec's response schemas are empty, close-api.md §5.1 lists no prefix):
ID prefixes ``comm_`` and ``cmth_``; the object shapes below; comments oldest first; removed
comments keep listing with an empty body and ``is_removed`` true.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.common import user_name
from close_mcp.sandbox.engine import READ, Ctx, Field, Hooks, Parent, Resource, Route, json_response, write
from close_mcp.sandbox.ids import IdFactory
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, SandboxError, not_found, validation_error
from close_mcp.sandbox.validate import FieldErrors

# Objects a comment may be left on, by ID prefix (Close: "a variety of object types", matching the
# Event Log's object types). Guess: the sandbox's commentable kinds are these five.
COMMENTABLE = {"lead": "lead", "cont": "contact", "oppo": "opportunity", "task": "task", "acti": "activity"}


def commented_object(ctx: Ctx | None, store: OrgStore, object_id: object) -> tuple[str, Obj] | None:
    """``(object_type, object)`` of a commentable object, or ``None``."""
    if not isinstance(object_id, str) or "_" not in object_id:
        return None
    name = COMMENTABLE.get(object_id.split("_", 1)[0])
    if name is None or store.registry is None:
        return None
    res = store.registry[name]
    obj = store.collection(res.store_name).get(object_id)
    if obj is None:
        return None
    return str(res.event_type(obj)), obj


def lead_of(object_type: str, obj: Obj) -> str | None:
    return str(obj["id"]) if object_type == "lead" else obj.get("lead_id")


# ----- comments --------------------------------------------------------------------------------
def comment_view(store: OrgStore, comment: Obj) -> Obj:
    out = copy.deepcopy(comment)
    out["created_by_name"] = user_name(store, comment.get("created_by"))
    out["updated_by_name"] = user_name(store, comment.get("updated_by"))
    return out


def _comment_params(_ctx: Ctx, params: dict[str, str]) -> dict[str, str]:
    """Close: "Exactly one of those filters must be provided" (object_id or thread_id)."""
    given = [k for k in ("object_id", "thread_id") if params.get(k)]
    if len(given) != 1:
        raise validation_error(errors=["Exactly one of object_id or thread_id must be provided."])
    return params


def _check_comment(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    if "body" in body and not str(body.get("body") or "").strip():
        errs.add("body", "This field may not be blank.")
    if (
        existing is None
        and body.get("object_id")
        and commented_object(ctx, ctx.store, body["object_id"]) is None
    ):
        errs.add("object_id", "Object does not exist.")
    if existing is not None:
        if existing.get("is_removed"):
            errs.add("body", "A removed comment cannot be edited.")  # Guess: the text
        elif existing.get("created_by") != ctx.info.user_id:
            # Close: "users may only update their own comments". Guess: 403 and its text.
            raise SandboxError(403, {"error": "You can only edit your own comments."})


def _into_thread(ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    """A new comment joins its object's thread, created with the first comment (Close docs)."""
    if existing is not None:
        return
    found = commented_object(ctx, ctx.store, body["object_id"])
    assert found is not None
    object_type, obj = found
    thread = next(
        (t for t in ctx.store.collection("comment_threads").values() if t["object_id"] == obj["id"]), None
    )
    if thread is None:
        fields = {"object_id": obj["id"], "object_type": object_type, "lead_id": lead_of(object_type, obj)}
        thread = write.insert(ctx, THREAD, fields, emit_event=False)
    body.update(thread_id=thread["id"], object_type=object_type, lead_id=thread["lead_id"])


def remove_comment(ctx: Ctx) -> Response:
    """``DELETE /comment/{id}/`` → 204. The body goes; the thread goes with its last comment."""
    comment = ctx.registry.lookup(ctx.store, "comment", ctx.path_id)
    if comment.get("is_removed"):
        raise not_found(COMMENT.model)  # Guess: a removed comment cannot be removed twice
    if comment.get("created_by") != ctx.info.user_id and ctx.user["role_id"] not in ("admin", "superuser"):
        # Close: removal follows the permission to delete own / other users' activities. Guess: admins.
        raise SandboxError(403, {"error": "You don't have permission to remove this comment."})
    write.patch(ctx, COMMENT, comment, {"body": "", "is_removed": True})
    siblings = [
        c for c in ctx.store.collection("comments").values() if c["thread_id"] == comment["thread_id"]
    ]
    if all(c.get("is_removed") for c in siblings):
        for sibling in siblings:
            write.delete(ctx, COMMENT, sibling)
        thread = ctx.store.collection("comment_threads").get(comment["thread_id"])
        if thread is not None:
            write.delete(ctx, THREAD, thread)
    return json_response({}, 204)  # close-api.md §4


COMMENT = Resource(
    "comment",
    "Comment",
    "/comment/",
    "comm",
    fields=(
        Field("object_id", "str", required=True, writable="create"),
        Field("body", "str", required=True),
        *Field.many("thread_id object_type lead_id", writable="never", default=None),
        Field("is_removed", "bool", writable="never", default=False),
    ),
    ops=("list", "get", "create", "update"),
    parent=Parent("lead", "lead_id"),
    filters=("object_id", "thread_id"),
    default_order="date_created",  # Guess: a thread reads oldest first
    create_status=201,  # close-api.md §4
    hooks=Hooks(view=comment_view, params=_comment_params, validate=_check_comment, prepare=_into_thread),
    routes=(Route("/comment/{id}/", "DELETE", remove_comment),),
)


# ----- threads ---------------------------------------------------------------------------------
def thread_view(store: OrgStore, thread: Obj) -> Obj:
    out = copy.deepcopy(thread)
    comments = [c for c in store.collection("comments").values() if c["thread_id"] == thread["id"]]
    comments.sort(key=lambda c: c["date_created"])
    out["comments"] = [comment_view(store, c) for c in comments]
    return out


def _thread_params(_ctx: Ctx, params: dict[str, str]) -> dict[str, str]:
    """``ids`` and ``object_ids`` are comma lists (Close's documented names)."""
    out = {k: v for k, v in params.items() if k not in ("ids", "object_ids")}
    if params.get("ids"):
        out["id__in"] = params["ids"]
    if params.get("object_ids"):
        out["object_id__in"] = params["object_ids"]
    return out


THREAD = Resource(
    "comment_thread",
    "CommentThread",
    "/comment_thread/",
    "cmth",
    fields=Field.many("object_id object_type lead_id", writable="never"),
    ops=READ,
    parent=Parent("lead", "lead_id"),
    events=(),  # Guess: threads come and go with their comments; the comments emit the events
    filters=("id", "object_id"),
    hooks=Hooks(view=thread_view, params=_thread_params),
)
RESOURCES = (COMMENT, THREAD)

# ----- seed ------------------------------------------------------------------------------------
BODIES = [
    "Spoke with their ops lead, budget is approved for Q3.",
    "Can someone from solutions join the next call?",
    "They asked for the security questionnaire again.",
    "Pricing feels high to them; let's discuss a pilot.",
    "Great call today, decision expected next week.",
]


def seed(sc: SeedCtx) -> None:
    """A few threads on leads and opportunities, one to three comments each, by seeded users."""
    store, rng = sc.store, sc.rng
    ids = IdFactory(rng)  # the area's own stream: the core areas' IDs stay as they were
    users = sc.user_ids
    boot = RequestInfo(users[0], ids.new("req"), "POST", "/api/v1/seed/")
    leads = list(store.leads.values())
    targets: list[tuple[str, Obj]] = [("lead", lead) for lead in rng.sample(leads, min(8, len(leads)))]
    opps = list(store.opportunities.values())
    targets += [("opportunity", o) for o in rng.sample(opps, min(4, len(opps)))]
    threads, comments = store.collection("comment_threads"), store.collection("comments")
    for object_type, obj in targets:
        when = sc.now - timedelta(days=rng.randint(2, 60))
        thread = {"id": ids.new("cmth"), "object_id": obj["id"], "object_type": object_type}
        thread["lead_id"] = lead_of(object_type, obj)
        threads[thread["id"]] = store.stamp_new(thread, boot, when)
        for n in range(rng.randint(1, 3)):
            author = RequestInfo(rng.choice(users), boot.request_id, "POST", "/api/v1/comment/")
            comment = {"id": ids.new("comm"), "object_id": obj["id"], "body": rng.choice(BODIES)}
            comment.update(thread_id=thread["id"], object_type=object_type, lead_id=thread["lead_id"])
            comment["is_removed"] = False
            comments[comment["id"]] = store.stamp_new(comment, author, when + timedelta(hours=n))
