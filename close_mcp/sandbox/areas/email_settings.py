"""Email settings: connected accounts (read-only, seeded), Send As grants and unsubscribed
email addresses (tool manifest ``email_settings``).

Sources: the spec (``close-openapi.yml``: connected accounts' default ``_fields`` and the
``user_id`` filter; Send As's rules "allowing_user_id must be your own user ID" and
"neither filter = allowing_user_id assumed"; 201/204 codes; ``CreateUnsubscribedEmail``),
close-api.md §4 (status codes) and §5.1 (``emailacct_`` prefix). Guesses are marked.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import unquote

from starlette.responses import Response

from close_mcp.sandbox.areas.common import current_user, now
from close_mcp.sandbox.engine import (
    READ,
    Ctx,
    Field,
    Hooks,
    Resource,
    Route,
    json_response,
    names,
    one,
    write,
)
from close_mcp.sandbox.engine.handlers import list_handler
from close_mcp.sandbox.ids import iso
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, SandboxError, not_found, validation_error
from close_mcp.sandbox.validate import FieldErrors

EMAIL_RE = re.compile(r"^[^@\s/]+@[^@\s/]+\.[^@\s/]+$")

# ----- connected accounts --------------------------------------------------------------
CONNECTED_ACCOUNT = Resource(
    "connected_account",
    "ConnectedAccount",
    "/connected_account/",
    "emailacct",
    ops=READ,  # Close offers no write: accounts are connected in the app (OAuth)
    events=(),
    stamped=False,
    filters=("user_id",),  # documented filter
    title=lambda account: account.get("email"),
)


# ----- send as -------------------------------------------------------------------------
def _involved(ctx: Ctx, params: dict[str, str]) -> dict[str, str]:
    """Only associations you are part of: neither filter means ``allowing_user_id`` = you (spec)."""
    me = ctx.info.user_id
    if not params.get("allowing_user_id") and not params.get("allowed_user_id"):
        return {**params, "allowing_user_id": me}
    if me not in (params.get("allowing_user_id"), params.get("allowed_user_id")):
        # guess at the wording; the rule is documented
        raise SandboxError(400, {"error": "allowing_user_id or allowed_user_id must be your own user ID."})
    return params


def _pair(ctx: Ctx, allowing: str, allowed: str) -> Obj | None:
    return next(
        (
            s
            for s in ctx.store.collection("send_as").values()
            if s["allowing_user_id"] == allowing and s["allowed_user_id"] == allowed
        ),
        None,
    )


def _check_send_as(ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    allowing = body.get("allowing_user_id") or ctx.info.user_id
    if allowing != ctx.info.user_id:
        errs.add("allowing_user_id", "Must be your own user ID.")  # documented rule, guessed wording
    elif isinstance(body.get("allowed_user_id"), str) and _pair(ctx, allowing, body["allowed_user_id"]):
        errs.add("allowed_user_id", "This user may already send as you.")  # guess


SEND_AS = Resource(
    "send_as",
    "SendAs",
    "/send_as/",
    "sendas",  # guess: no example ID in the docs
    collection="send_as",
    fields=(
        Field("allowing_user_id", ref="user", writable="create", default=current_user),
        Field("allowed_user_id", ref="user", required=True, writable="create"),
    ),
    ops=("list", "create", "delete"),  # GET by ID is hand-written: visibility
    events=(),  # not in Close's event list (guess)
    filters=names("allowing_user_id allowed_user_id"),
    pagination="none",  # guess: a short list, the docs show no paging parameters
    create_status=201,
    delete_status=204,
    hooks=Hooks(params=_involved, validate=_check_send_as),
)


def get_send_as(ctx: Ctx) -> Response:
    """One association, only for the two users in it (documented: "a user only has access to
    associations they are involved in"); anyone else gets the 404 of an unknown ID (guess)."""
    grant = ctx.registry.lookup(ctx.store, "send_as", ctx.path_id)
    if ctx.info.user_id not in (grant["allowing_user_id"], grant["allowed_user_id"]):
        raise not_found(SEND_AS.model)
    return one(ctx, ctx.registry.view(ctx.store, "send_as", grant))


def delete_send_as_by_users(ctx: Ctx) -> Response:
    """``DELETE /send_as/?allowing_user_id=…&allowed_user_id=…``: both required, the first must be you."""
    errs = FieldErrors()
    for name in ("allowing_user_id", "allowed_user_id"):
        if not ctx.params.get(name):
            errs.add(name, "This field is required.")
    errs.raise_if_any()
    if ctx.params["allowing_user_id"] != ctx.info.user_id:
        raise validation_error({"allowing_user_id": "Must be your own user ID."})
    found = _pair(ctx, ctx.params["allowing_user_id"], ctx.params["allowed_user_id"])
    if found is None:
        raise not_found(SEND_AS.model)
    write.delete(ctx, SEND_AS, found)
    return json_response({}, 204)


def bulk_send_as(ctx: Ctx) -> Response:
    """``POST /send_as/bulk/`` with ``allow`` and ``disallow`` lists of user IDs (the field
    names are a guess from third-party copies of the docs); answers every association where
    you are the allowing user (documented)."""
    me, errs = ctx.info.user_id, FieldErrors()
    lists: dict[str, list[str]] = {}
    for key in ("allow", "disallow"):
        value = ctx.body.get(key, [])
        if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
            errs.add(key, "Not a valid list.")
        elif any(u not in ctx.store.users for u in value):
            errs.add(key, "Object does not exist.")
        else:
            lists[key] = value
    if not errs.errors and set(lists["allow"]) & set(lists["disallow"]):
        errs.add("disallow", "A user cannot be both allowed and disallowed.")
    errs.raise_if_any()
    for user_id in lists["allow"]:
        if _pair(ctx, me, user_id) is None:
            write.insert(ctx, SEND_AS, {"allowing_user_id": me, "allowed_user_id": user_id})
    for user_id in lists["disallow"]:
        if (found := _pair(ctx, me, user_id)) is not None:
            write.delete(ctx, SEND_AS, found)
    mine = [s for s in ctx.store.collection("send_as").values() if s["allowing_user_id"] == me]
    return json_response({"data": [ctx.registry.view(ctx.store, "send_as", s) for s in mine]})


SEND_AS = replace(
    SEND_AS,
    routes=(
        Route("/send_as/{id}/", "GET", get_send_as),
        Route("/send_as/", "DELETE", delete_send_as_by_users),
        Route("/send_as/bulk/", "POST", bulk_send_as),
    ),
)


# ----- unsubscribed emails -------------------------------------------------------------
def _email_arg(value: object, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise validation_error({key: "This field is required."})
    if not EMAIL_RE.match(value.strip()):
        raise validation_error({key: "Not a valid email address."})
    return value.strip().lower()  # guess: Close matches addresses case-insensitively


def unsubscribe(ctx: Ctx) -> Response:
    """``POST /unsubscribe/email/`` ``{"email": …}`` → 201 (spec). Unsubscribing an address twice
    answers the existing entry (guess)."""
    email = _email_arg(ctx.body.get("email"), "email")
    entries = ctx.store.collection("unsubscribed_emails")
    if email not in entries:
        entries[email] = {"email": email, "organization_id": ctx.store.org["id"], "date_created": now()}
        entries[email]["created_by"] = ctx.info.user_id
    return json_response(entries[email], 201)


def resubscribe(ctx: Ctx) -> Response:
    """``DELETE /unsubscribe/email/{email_address}/``: the address as a path segment, URL-decoded
    (``a%40b.com``, and once more if a client encoded it twice); 200 ``{}`` (spec)."""
    email = _email_arg(unquote(ctx.path_id), "email_address")  # the route's {id} is the address
    if ctx.store.collection("unsubscribed_emails").pop(email, None) is None:
        raise not_found(UNSUBSCRIBED_EMAIL.model)
    return json_response({})


UNSUBSCRIBED_EMAIL = Resource(
    "unsubscribed_email",
    "UnsubscribedEmail",
    "/unsubscribe/email/",
    "unsub",  # entries have no ID of their own: they are keyed by the address
    fields=(Field("email", "str", required=True),),
    ops=(),  # hand-written below: there is no object URL by ID
    events=(),
    stamped=False,
    default_order="-date_created",
)
UNSUBSCRIBED_EMAIL = replace(
    UNSUBSCRIBED_EMAIL,
    routes=(
        Route("/unsubscribe/email/", "GET", list_handler(UNSUBSCRIBED_EMAIL)),
        Route("/unsubscribe/email/", "POST", unsubscribe),
        Route("/unsubscribe/email/{id}/", "DELETE", resubscribe),
    ),
)
RESOURCES = (CONNECTED_ACCOUNT, SEND_AS, UNSUBSCRIBED_EMAIL)


# ----- seed ----------------------------------------------------------------------------
def seed(sc: SeedCtx) -> None:
    """One Google account per user (not the restricted one), Dana lets Marco send as her,
    and two addresses unsubscribed from earlier campaigns."""
    store, created = sc.store, iso(sc.org_created)
    users = [u for u in store.users.values() if u["role_id"] != "restricteduser"]
    for user in users:
        aid = sc.ids.new("emailacct")
        name = f"{user['first_name']} {user['last_name']}"
        identity = {"name": name, "email": user["email"]}
        account = {"id": aid, "_type": "google", "email": user["email"], "user_id": user["id"]}
        account.update(organization_id=store.org["id"], date_created=created, identities=[identity])
        account.update(default_identity=identity, send_status="ok", receive_status="ok")
        account.update(email_receive_status="ok", calendar_receive_status="ok", latest_send_error=None)
        account.update(latest_receive_error=None, available_features=["email", "calendar"])
        account.update(enabled_features=["email", "calendar"], available_calendars=[], synced_calendars=[])
        account.update(sync_all_calendars=False, has_meeting_creation_scopes=True, imap=None, smtp=None)
        account.update(calendly=None, zoom_account_plan=None, is_imap_archive_sync_enabled=False)
        account["lead_suggestions_updated_at"] = None
        store.collection("connected_accounts")[aid] = account
    if len(users) >= 2:
        grant = {
            "id": sc.ids.new("sendas"),
            "allowing_user_id": users[0]["id"],
            "allowed_user_id": users[1]["id"],
        }
        grant.update(organization_id=store.org["id"], date_created=created, date_updated=created)
        grant.update(created_by=users[0]["id"], updated_by=users[0]["id"])
        store.collection("send_as")[grant["id"]] = grant
    for email in ("old.newsletter@example.com", "no-more-mail@example.org"):
        entry = {"email": email, "organization_id": store.org["id"], "date_created": created}
        store.collection("unsubscribed_emails")[email] = {**entry, "created_by": users[0]["id"]}
