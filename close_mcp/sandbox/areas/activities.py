"""Activities: the combined ``/activity/`` feed and the note, call and email endpoints
(tool manifest ``activities``). Every activity lives in one collection; the typed
resources see their own ``_type`` only."""

from __future__ import annotations

from datetime import timedelta

from close_mcp.sandbox.areas.common import current_user, now, strip_html
from close_mcp.sandbox.engine import CRUD, Ctx, Field, Hooks, Parent, Resource, Route, choice, write
from close_mcp.sandbox.engine.resource import Op
from close_mcp.sandbox.ids import iso, now_utc
from close_mcp.sandbox.seeding import LeadSeed, SeedCtx
from close_mcp.sandbox.store import Obj
from close_mcp.sandbox.validate import FieldErrors

EMAIL_STATUSES = choice("inbox", "draft", "scheduled", "outbox", "sent", "error")
CALL_STATUSES = choice(
    "created", "in-progress", "completed", "cancel", "no-answer", "busy", "failed", "timeout"
)
DISPOSITIONS = choice(
    "answered", "no-answer", "vm-answer", "vm-left", "busy", "blocked", "error", "abandoned"
)
RESTRICTED = ("user_id", "contact_id", "_type")  # filters honoured only with one lead_id


def _feed_params(_ctx: Ctx, params: dict[str, str]) -> dict[str, str]:
    """``user_id``/``contact_id``/``_type`` apply only together with one ``lead_id``; without it
    they are silently ignored, as observed live (close-api.md §3.3, OBS-APP)."""
    if not params.get("lead_id") or "," in params["lead_id"]:
        return {k: v for k, v in params.items() if k.split("__")[0] not in RESTRICTED}
    return params


COMMON = (
    Field("lead_id", ref="lead", required=True, writable="create"),
    Field("contact_id", ref="contact", default=None),
    Field("user_id", ref="user", default=current_user, named="user_name"),
    Field("activity_at", "date", default=now),
    Field("users", writable="never", default=[]),
)
FEED = Resource(
    "activity",
    "Activity",
    "/activity/",
    "acti",
    collection="activities",
    fields=COMMON,  # defaults for system activities (LeadMerge, TaskCompleted …)
    ops=("list",),
    parent=Parent("lead", "lead_id"),
    object_type=lambda a: f"activity.{a['_type'].lower()}",
    filters=("id", "lead_id", "contact_id", "user_id", "_type", "date_created", "activity_at"),
    # Fix: Close accepts comma lists on these four (close-api.md §3.3 "all accept comma lists");
    # the sandbox used to compare "Note,Call" as one value and return nothing.
    comma_filters=("lead_id", "contact_id", "user_id", "_type"),
    default_order="-activity_at",
    hooks=Hooks(params=_feed_params),
)


def typed(
    type_name: str,
    fields: tuple[Field, ...],
    hooks: Hooks | None = None,
    events: tuple[str, ...] = ("created", "updated", "deleted"),
    *,
    name: str | None = None,
    path: str | None = None,
    ops: tuple[Op, ...] = CRUD,
    filters: tuple[str, ...] = ("lead_id", "user_id", "date_created"),
    object_type: str | None = None,
    routes: tuple[Route, ...] = (),
) -> Resource:
    """One activity type's own endpoints: ``/activity/<type>/`` (``lead_id``, ``user_id``,
    ``date_created`` filters, close-api.md §3.3), sharing the activities collection.
    ``name``/``path``/``object_type`` default to the lower-cased type name."""
    kind = type_name.lower()
    return Resource(
        name or kind,
        type_name,
        path or f"/activity/{kind}/",
        "acti",
        fields=tuple({f.name: f for f in COMMON + fields}.values()),  # a type may redeclare a common field
        collection="activities",
        ops=ops,
        discriminator=("_type", type_name),
        object_type=object_type or f"activity.{kind}",
        filters=filters,
        comma_filters=tuple(f for f in ("lead_id", "contact_id", "user_id") if f in filters),
        default_order="-activity_at",
        events=events,
        hooks=hooks or Hooks(),
        routes=routes,
    )


# ----- notes ---------------------------------------------------------------------------
def _note_html(_ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    if existing is None and "note_html" in body:  # setting note_html overwrites note (close-api.md §5.3)
        body["note"] = strip_html(body["note_html"])


NOTE = typed(
    "Note",
    (*Field.many("note note_html", "str"), *Field.many("title pinned")),
    Hooks(prepare=_note_html),
)


# ----- calls ---------------------------------------------------------------------------
def _check_call(_ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    if body.get("recording_url") and not str(body["recording_url"]).startswith("https://"):
        errs.add("recording_url", "Must be an https URL.")


CALL = typed(
    "Call",
    (
        Field("direction", choices=choice("inbound", "outbound"), default="outbound"),
        Field("status", choices=CALL_STATUSES, default="completed"),
        Field("duration", "int"),
        Field("disposition", choices=DISPOSITIONS),
        *Field.many("phone note note_html recording_url"),
        Field("outcome_id", default=None),  # SPEC CallActivity.required: null when no outcome
        Field("source", writable="never", default="External"),  # a logged call, not dialled
    ),
    Hooks(validate=_check_call),
)


# ----- emails --------------------------------------------------------------------------
def _check_email(_ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    status = body.get("status")
    if status in {"inbox", "scheduled", "outbox", "error"} and not body.get("sender"):
        errs.add("sender", "This field is required for this status.")
    if status == "scheduled" and not body.get("date_scheduled"):
        errs.add("date_scheduled", "This field is required for scheduled emails.")
    if existing is not None and existing["status"] not in ("draft", "scheduled", "outbox"):
        errs.add("status", "Only draft, scheduled or unsent outbox emails can be edited.")


def _prepare_email(ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    if existing is None:
        body["direction"] = "incoming" if body.get("status") == "inbox" else "outgoing"
        preview = body.get("body_text") or strip_html(body.get("body_html") or "")
        body["body_preview"] = preview[:120]


def _new_thread(ctx: Ctx, email: Obj) -> None:
    email.setdefault("thread_id", ctx.store.ids.new("acti"))  # a thread id is an acti_ id too


def _send(ctx: Ctx, email: Obj) -> None:
    """``outbox`` really sends: the sandbox delivers at once and fires ``activity.email.sent``."""
    if email["status"] == "outbox":
        email.update(status="sent", date_sent=iso(now_utc()), direction="outgoing")
        write.emit(ctx, EMAIL, "sent", email)


EMAIL = typed(
    "Email",
    (
        Field("status", required=True, choices=EMAIL_STATUSES),
        *Field.many("to cc bcc", "list", label="list of email addresses", default=[]),
        Field("attachments", writable="never", default=[]),
        *Field.many("followup_date send_in"),
        # SPEC EmailActivity.required: always present, null when unset
        *Field.many("subject sender body_text body_html template_id", default=None),
        Field("date_scheduled", "date", default=None),
        *Field.many("send_as_id in_reply_to_id", "str", default=None),
        *Field.many(
            "date_sent bulk_email_action_id opens_summary followup_sequence_delay",
            writable="never",
            default=None,
        ),
        *Field.many("message_ids references", writable="never", default=[]),
        *Field.many(
            "has_reply need_smtp_credentials followup_sequence_add_cc_bcc", writable="never", default=False
        ),
    ),
    Hooks(
        validate=_check_email,
        prepare=_prepare_email,
        inserted=_new_thread,
        after_create=_send,
        after_update=lambda ctx, email, _prev, changed: _send(ctx, email) if "status" in changed else None,
    ),
    events=("created", "updated", "deleted", "sent"),
)
RESOURCES = (FEED, NOTE, CALL, EMAIL)

# ----- seed ----------------------------------------------------------------------------
NOTE_LINES = [
    "Spoke with the team about their current CRM setup; they are outgrowing spreadsheets.",
    "Budget is approved for Q3, decision expected after the security review.",
    "They asked for a case study from a company of similar size in their industry.",
    "Main pain point: reps lose track of follow-ups when deals stall for more than two weeks.",
    "Legal wants to review the DPA before signing; sent our standard template.",
    "Champion is enthusiastic but the CFO is skeptical about the migration effort.",
]
CALL_NOTES = [
    "Left a voicemail, will try again Thursday.",
    "Discovery call went well; next step is a demo.",
    "Pricing discussion; they compare us with two other vendors.",
    "Quick check-in, no blockers.",
]
SUBJECTS = ["Following up on our call", "Proposal for {co}", "Re: pricing questions"]
SUBJECTS += ["Demo recording and next steps", "Intro: {co} x Acme Demo"]


def _email_body(sc: SeedCtx, contact_name: str, company: str) -> tuple[str, str]:
    paragraphs = [sc.rng.choice(NOTE_LINES) for _ in range(sc.rng.randint(4, 9))]
    first = contact_name.split()[0]
    text = (
        f"Hi {first},\n\n"
        + "\n\n".join(paragraphs)
        + f"\n\nBest,\nThe Acme Demo team\n\n-- \nSent to {company}. Unsubscribe: https://example.com/u"
    )
    html = (
        '<html><body><div style="font-family:Arial,sans-serif;font-size:14px;color:#222">'
        + f"<p>Hi {first},</p>"
        + "".join(f'<p style="margin:0 0 12px 0">{p}</p>' for p in paragraphs)
        + '<p>Best,<br>The Acme Demo team</p><hr><p style="font-size:11px;color:#888">'
        + f'Sent to {company}. <a href="https://example.com/u">Unsubscribe</a></p></div></body></html>'
    )
    return text, html


def seed_lead(sc: SeedCtx, one: LeadSeed) -> None:
    rng = sc.rng
    for k in range(rng.randint(1, 4)):
        when = min(one.created + timedelta(days=k * 3 + rng.random()), sc.now - timedelta(minutes=k + 1))
        aid = sc.ids.new("acti")
        contact = rng.choice(one.contacts)
        base = {"id": aid, "lead_id": one.lead["id"], "contact_id": contact["id"]}
        base.update(user_id=rng.choice(sc.user_ids), activity_at=iso(when), users=[])
        kind = rng.choice(["Note", "Call", "Email"])
        if kind == "Note":
            body = " ".join(rng.choice(NOTE_LINES) for _ in range(rng.randint(1, 3)))
            base.update(
                _type="Note", note=body, note_html=f"<body><p>{body}</p></body>", title=None, pinned=False
            )
        elif kind == "Call":
            base.update(_type="Call", direction=rng.choice(["inbound", "outbound"]), status="completed")
            base.update(disposition=rng.choice(["answered", "vm-left", "no-answer"]))
            base.update(duration=rng.randint(0, 1800), phone=contact["phones"][0]["phone"], source="External")
            base.update(note=rng.choice(CALL_NOTES), recording_url=None)
        else:
            text, html = _email_body(sc, contact["name"], one.company)
            base.update(_type="Email", status="sent", direction=rng.choice(["outgoing", "incoming"]))
            base.update(
                sender='"Dana Whitfield" <dana@acme-demo.example>', to=[contact["emails"][0]["email"]]
            )
            base.update(cc=[], bcc=[], subject=rng.choice(SUBJECTS).format(co=one.company))
            base.update(body_text=text, body_html=html, body_preview=text[:120], date_sent=iso(when))
            base.update(thread_id=sc.ids.new("acti"), attachments=[], opens=[])
        sc.store.activities[aid] = sc.stamp(base, when)
