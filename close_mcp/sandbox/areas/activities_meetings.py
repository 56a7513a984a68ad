"""Meetings (synced from calendars; transcripts on request; third-party integration tabs) and
custom activity instances (tool manifest ``activities``). Both share the ``activities``
collection with the feed (``activities.py``)."""

from __future__ import annotations

import copy
import re
from datetime import timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.activities import typed
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Route, choice, one, write
from close_mcp.sandbox.engine.resource import Op
from close_mcp.sandbox.ids import iso
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, SandboxError, validation_error
from close_mcp.sandbox.validate import FieldErrors

FILTERS = ("id", "lead_id", "contact_id", "user_id", "date_created", "activity_at")  # SPEC list params
MEETING_STATUSES = ("upcoming", "in-progress", "completed", "canceled", "declined-by-lead", "declined-by-org")
ACTITYPE = re.compile(r"^actitype_[A-Za-z0-9]+$")


# ----- meetings ------------------------------------------------------------------------
def meeting_view(_store: OrgStore, meeting: Obj) -> Obj:
    """``transcripts`` is an optional field: only ``_fields=transcripts`` (or ``_all``) shows it
    (SPEC GET /activity/meeting/{id}/; close-api.md §3.1)."""
    out = copy.deepcopy(meeting)
    out.pop("transcripts", None)
    return out


def get_meeting(ctx: Ctx) -> Response:
    meeting = ctx.registry.lookup(ctx.store, "meeting", ctx.path_id)
    out = ctx.registry.view(ctx.store, "meeting", meeting)
    wanted = {f.strip() for f in (ctx.params.get("_fields") or "").split(",")}
    if wanted & {"transcripts", "_all"}:
        out["transcripts"] = copy.deepcopy(meeting.get("transcripts", []))
    return one(ctx, out)


def meeting_integration(ctx: Ctx) -> Response:
    """``POST /activity/meeting/{id}/integration/``: OAuth apps only (SPEC; close-api.md §8); the
    first call creates the app's tab, later calls update it, an empty body does nothing.
    Guesses: the 403 text, one tab per OAuth user (the sandbox has no app ids), the answer
    being the meeting."""
    meeting = ctx.registry.lookup(ctx.store, "meeting", ctx.path_id)  # Guess: 404 before the 403
    if ctx.info.api_key_id is not None:
        raise SandboxError(403, {"error": "Only OAuth applications can use this endpoint."})
    if ctx.body:
        tabs = [t for t in meeting.get("integrations", []) if t.get("oauth_user_id") != ctx.info.user_id]
        tabs.append({"oauth_user_id": ctx.info.user_id, **copy.deepcopy(ctx.body)})
        write.patch(ctx, MEETING, meeting, {"integrations": tabs})
    return one(ctx, ctx.registry.view(ctx.store, "meeting", meeting))


MEETING_OPS: tuple[Op, ...] = ("list", "update", "delete")  # GET by id is get_meeting; no POST in Close
MEETING = typed(
    "Meeting",
    (
        *Field.many("user_note_html outcome_id", "str", default=None),  # SPEC: "most commonly" updated
        *Field.many("title location calendar_event_link", writable="never", default=None),
        *Field.many("starts_at ends_at provider_calendar_event_id provider_calendar_type", writable="never"),
        Field("status", writable="never", default="completed", choices=choice(*MEETING_STATUSES)),
        *Field.many("duration actual_duration", writable="never", default=None),
        *Field.many(
            "attendees conference_links provider_calendar_ids integrations", writable="never", default=[]
        ),
        Field("is_recurring", writable="never", default=False),
        Field("source", writable="never", default="calendar"),  # Guess
    ),
    Hooks(view=meeting_view),
    ops=MEETING_OPS,
    filters=(*FILTERS, "provider_calendar_event_id", "provider_calendar_type", "starts_at", "status"),
    routes=(
        Route("/activity/meeting/{id}/", "GET", get_meeting),
        Route("/activity/meeting/{id}/integration/", "POST", meeting_integration),
    ),
)


# ----- custom activities ---------------------------------------------------------------
def _types_resource(ctx: Ctx) -> str | None:
    """The resource keeping custom activity types, when an area declares one (another area's
    ``/custom_activity/``); without it only the id's format is checked."""
    return next((r.name for r in ctx.registry if r.store_name == "custom_activity_types"), None)


def _custom_keys(ctx: Ctx) -> Obj:
    return {k: v for k, v in ctx.body.items() if k.startswith("custom.")}


def _check_custom(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    type_id = body.get("custom_activity_type_id", (existing or {}).get("custom_activity_type_id"))
    if existing is None and isinstance(type_id, str):
        types = _types_resource(ctx)
        if not ACTITYPE.match(type_id) or (types and not ctx.registry.exists(ctx.store, types, type_id)):
            errs.add("custom_activity_type", "Object does not exist.")
    fields = [
        f
        for f in ctx.store.collection("activity_custom_fields").values()
        if f.get("custom_activity_type_id") == type_id
    ]
    known = {f"custom.{f['id']}" for f in fields}
    for key in _custom_keys(ctx):
        if fields and key not in known:  # Guess: with no field declarations (no area yet) any key is kept
            errs.add(key, "Custom field does not exist.")
    status = body.get("status", (existing or {}).get("status", "published"))
    if status == "published":  # SPEC: required fields are validated in the published status only
        merged = {**(existing or {}), **_custom_keys(ctx)}
        for f in fields:
            if f.get("required") and merged.get(f"custom.{f['id']}") in (None, "", []):
                errs.add(f"custom.{f['id']}", "This field is required.")


def _keep_custom(ctx: Ctx, body: Obj, _existing: Obj | None) -> None:
    body.update(_custom_keys(ctx))


def _custom_params(_ctx: Ctx, params: dict[str, str]) -> dict[str, str]:
    """SPEC GET /activity/custom/: filtering by ``custom_activity_type_id[__in]`` requires ``lead_id``."""
    if any(k.startswith("custom_activity_type_id") for k in params) and not params.get("lead_id"):
        raise validation_error(
            {"lead_id": "This field is required when filtering by custom_activity_type_id."}
        )
    return params


CUSTOM_ACTIVITY = typed(
    "CustomActivity",  # the _type the search adapter knows; Guess: Close's exact spelling
    (
        Field("custom_activity_type_id", "str", required=True, writable="create"),
        Field("status", choices=choice("draft", "published"), default="published"),  # SPEC default
        Field("pinned", "bool", default=False),
    ),
    Hooks(validate=_check_custom, prepare=_keep_custom, params=_custom_params),
    name="custom_activity_instance",  # "custom_activity" is left to the /custom_activity/ types
    path="/activity/custom/",
    object_type="activity.custom_activity",
    filters=(*FILTERS, "custom_activity_type_id"),
)
RESOURCES = (MEETING, CUSTOM_ACTIVITY)


# ----- seed ----------------------------------------------------------------------------
TITLES = ["Discovery call", "Product demo", "Pricing review", "Onboarding kickoff"]


def seed(sc: SeedCtx) -> None:
    """A meeting on some leads with a contact: past ones completed (one with a transcript), a
    future one upcoming."""
    rng, store = sc.rng, sc.store
    firsts: dict[str, Obj] = {}
    for contact in store.contacts.values():  # the registry is not attached while seeding
        firsts.setdefault(contact["lead_id"], contact)
    for i, (lead_id, contact) in enumerate(list(firsts.items())[2:40:4]):
        user = store.users[rng.choice(sc.user_ids)]
        start = sc.now + timedelta(
            days=rng.randint(-40, -1) if i % 4 else rng.randint(2, 14), hours=rng.randint(0, 8)
        )
        end = start + timedelta(minutes=rng.choice([30, 45, 60]))
        past = end < sc.now
        meeting = {
            "id": sc.ids.new("acti"),
            "_type": "Meeting",
            "lead_id": lead_id,
            "contact_id": contact["id"],
        }
        meeting.update(user_id=user["id"], users=[], activity_at=iso(start), organization_id=store.org["id"])
        stamp = iso(start - timedelta(days=3))
        meeting.update(date_created=stamp, date_updated=stamp, created_by=user["id"], updated_by=user["id"])
        meeting.update(
            title=f"{rng.choice(TITLES)} with {contact['name']}", location=None, calendar_event_link=None
        )
        meeting.update(starts_at=iso(start), ends_at=iso(end), status="completed" if past else "upcoming")
        meeting.update(duration=int((end - start).total_seconds()), actual_duration=None, is_recurring=False)
        email = (contact.get("emails") or [{"email": None}])[0]["email"]
        meeting.update(
            attendees=[
                {"email": email, "name": contact["name"], "status": "yes", "contact_id": contact["id"]}
            ]
        )
        meeting.update(
            conference_links=[], integrations=[], source="calendar", user_note_html=None, outcome_id=None
        )
        meeting.update(
            provider_calendar_event_id=f"evt{meeting['id'][5:17]}", provider_calendar_type="google"
        )
        meeting.update(provider_calendar_ids=[f"{user.get('email') or 'calendar'}"])
        if past and i % 3 == 1:
            first = user.get("first_name") or "Rep"
            meeting["transcripts"] = [
                {
                    "utterances": [
                        {
                            "speaker_label": first,
                            "speaker_side": "close-user",
                            "start": 0.4,
                            "end": 3.1,
                            "text": "Thanks for joining, shall we start with your current process?",
                        },
                        {
                            "speaker_label": contact["name"],
                            "speaker_side": "contact",
                            "start": 3.5,
                            "end": 8.2,
                            "text": "Sure, today we track every deal in spreadsheets.",
                        },
                    ],
                    "summary_text": "Prospect tracks deals in spreadsheets; wants a demo of pipelines.",
                    "summary_html": "<p>Prospect tracks deals in spreadsheets; wants a demo of pipelines.</p>",
                }
            ]
        store.activities[meeting["id"]] = meeting
