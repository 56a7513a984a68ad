"""Message activities beside email: SMS, WhatsApp messages and email threads (tool manifest
``activities``). They share the ``activities`` collection with the feed (``activities.py``)."""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable
from datetime import timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.activities import EMAIL, typed
from close_mcp.sandbox.areas.phone import DIAL_CODES, formatted
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Resource, Route, choice, json_response, write
from close_mcp.sandbox.ids import iso, now_utc
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore
from close_mcp.sandbox.validate import FieldErrors

MESSAGE_STATUSES = choice("inbox", "draft", "scheduled", "outbox", "sent", "error")  # SPEC MessageStatus
FILTERS = ("id", "lead_id", "contact_id", "user_id", "date_created", "activity_at")  # SPEC list params
SENT_SMS = "sent_sms"  # the store's record of SMS the sandbox "sent" instead of sending them


# ----- phones shown both ways (SPEC SMSActivity / WhatsAppMessageActivity) ----------------
def country_of(number: str | None) -> str | None:
    """The ISO country of an E.164 number by its dial code. Guess: +1 is shown as US (Close's
    rule between the NANP countries is not documented); unknown codes are null."""
    if not number or not number.startswith("+"):
        return None
    by_code = sorted(((code, iso) for iso, code in DIAL_CODES.items()), key=lambda c: -len(c[0]))
    return next((iso for code, iso in by_code if number[1:].startswith(code) and iso != "CA"), None)


def _phones_view(*, countries: bool) -> Callable[[OrgStore, Obj], Obj]:
    def view(_store: OrgStore, message: Obj) -> Obj:
        out = copy.deepcopy(message)
        for side in ("local", "remote"):
            number = message.get(f"{side}_phone")
            out[f"{side}_phone_formatted"] = formatted(number)
            if countries:
                out[f"{side}_country_iso"] = country_of(number)
        return out

    return view


# ----- SMS -----------------------------------------------------------------------------
def _check_sms(_ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    """SPEC POST /activity/sms/: only drafts are editable; a draft may become scheduled or outbox,
    and scheduled/unsent outbox SMS go back to draft. Sending needs ``local_phone`` ("You have to
    provide a local_phone") and scheduling ``date_scheduled``. Guess: the error texts."""
    status = body.get("status", existing["status"] if existing else None)
    merged = {**(existing or {}), **body}
    if status in ("scheduled", "outbox") and not merged.get("local_phone"):
        errs.add("local_phone", "This field is required to send an SMS.")
    if status in ("scheduled", "outbox") and not merged.get("remote_phone"):
        errs.add("remote_phone", "This field is required to send an SMS.")
    if status == "scheduled" and not merged.get("date_scheduled"):
        errs.add("date_scheduled", "This field is required for scheduled SMS.")
    if existing is not None and existing["status"] not in ("draft", "scheduled", "outbox"):
        errs.add("status", "Only draft, scheduled or unsent outbox SMS can be edited.")
    if "send_in" in body and not (isinstance(body["send_in"], int) and 0 <= body["send_in"] < 60):
        errs.add("send_in", "Must be less than 60 seconds.")


def _prepare_sms(_ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    if existing is None and "direction" not in body:  # SPEC: inbox → inbound, else outbound
        body["direction"] = "inbound" if body.get("status") == "inbox" else "outbound"
    body.pop("send_in", None)  # Guess: the sandbox sends at once, so the delay is not kept


def _send_sms(ctx: Ctx, sms: Obj) -> None:
    """``outbox`` sends for real in Close; the sandbox records the SMS in ``sent_sms`` instead,
    marks it sent and fires ``activity.sms.sent`` (as the email does; the event name is a guess)."""
    if sms.get("status") == "outbox":
        sms.update(status="sent", date_sent=iso(now_utc()), direction="outbound")
        record = {"id": sms["id"], "from": sms.get("local_phone"), "to": sms.get("remote_phone")}
        record.update(text=sms.get("text"), date_sent=sms["date_sent"])
        ctx.store.collection(SENT_SMS)[sms["id"]] = record
        write.emit(ctx, SMS, "sent", sms)


SMS = typed(
    "SMS",
    (
        Field("status", required=True, choices=MESSAGE_STATUSES),
        Field("direction", choices=choice("inbound", "outbound"), writable="create"),
        *Field.many("local_phone remote_phone text template_id", "str", default=None),
        Field("date_scheduled", "date", default=None),
        Field("send_in", "int"),
        Field("attachments", "list", default=[]),
        *Field.many("date_sent error_message cost", writable="never", default=None),
        Field("source", writable="never", default="Close.io"),  # Guess: SPEC PhoneActivitySource value
    ),
    Hooks(
        view=_phones_view(countries=True),
        validate=_check_sms,
        prepare=_prepare_sms,
        after_create=_send_sms,
        after_update=lambda ctx, sms, _prev, changed: _send_sms(ctx, sms) if "status" in changed else None,
    ),
    events=("created", "updated", "deleted", "sent"),
    filters=FILTERS,
)


# ----- WhatsApp ------------------------------------------------------------------------
_WA_MARKS = ((r"\*(.+?)\*", "strong"), (r"_(.+?)_", "em"), (r"~(.+?)~", "s"), (r"```(.+?)```", "code"))


def whatsapp_html(markdown: str) -> str:
    """WhatsApp markdown (``*bold*``, ``_italic_``, ``~strike~``, code) as HTML: SPEC says
    ``message_html`` is its read-only rendering. Guess: the exact markup Close produces."""
    out = html.escape(markdown)
    for pattern, tag in _WA_MARKS:
        out = re.sub(pattern, rf"<{tag}>\1</{tag}>", out)
    return out.replace("\n", "<br>")


def _check_whatsapp(_ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    url = body.get("integration_link")
    if url and not str(url).startswith("https://"):
        errs.add("integration_link", "Must be an https URL.")  # Guess, as for a call's recording_url


def _render_whatsapp(_ctx: Ctx, body: Obj, _existing: Obj | None) -> None:
    if isinstance(body.get("message_markdown"), str):
        body["message_html"] = whatsapp_html(body["message_markdown"])
        body["text"] = re.sub(r"[*_~`]", "", body["message_markdown"])  # Guess: plain text


WHATSAPP = typed(
    "WhatsAppMessage",
    (
        # SPEC CreateWhatsAppMessage.required (activity_at too, which defaults to now here: a guess)
        Field("contact_id", ref="contact", required=True),
        Field("direction", required=True, choices=choice("incoming", "outgoing")),  # CommunicationDirection
        Field("external_whatsapp_message_id", "str", required=True, writable="create"),
        *Field.many("local_phone remote_phone message_markdown", "str", required=True),
        *Field.many("integration_link response_to_id", default=None),
        Field("attachments", "list", default=[]),
        *Field.many("message_html text", writable="never"),
        Field("integration_name", writable="never", default=None),
        Field("source", writable="never", default="api"),  # SPEC CreationSource; "api": made through the API
    ),
    Hooks(view=_phones_view(countries=False), validate=_check_whatsapp, prepare=_render_whatsapp),
    name="whatsapp_message",
    path="/activity/whatsapp_message/",
    object_type="activity.whatsapp_message",
    filters=(*FILTERS, "external_whatsapp_message_id"),
)


# ----- email threads -------------------------------------------------------------------
def threads(store: OrgStore) -> list[Obj]:
    """An EmailThread is derived from the emails sharing a ``thread_id`` (its id): the sandbox
    keeps no thread object, so a thread always agrees with its emails. Shape from SPEC/docs
    (``emails``, ``n_emails``, ``latest_normalized_subject``, ``participants``); guess: which
    email provides lead, contact and user (the first) and ``activity_at`` (the latest)."""
    grouped: dict[str, list[Obj]] = {}
    for a in store.activities.values():
        if a.get("_type") == "Email" and a.get("thread_id"):
            grouped.setdefault(a["thread_id"], []).append(a)
    result = []
    for thread_id, emails in grouped.items():
        emails.sort(key=lambda e: e.get("activity_at") or "")
        first, last = emails[0], emails[-1]
        subject = re.sub(r"^((re|fwd?):\s*)+", "", last.get("subject") or "", flags=re.I)
        people = sorted({p for e in emails for p in [e.get("sender"), *e.get("to", [])] if p})
        thread = {"id": thread_id, "_type": "EmailThread", "lead_id": first["lead_id"]}
        thread.update(contact_id=first.get("contact_id"), user_id=first.get("user_id"))
        thread.update(activity_at=last.get("activity_at"), date_created=first.get("date_created"))
        thread.update(date_updated=max(e.get("date_updated") or "" for e in emails))
        thread.update(organization_id=first.get("organization_id"), users=[], participants=people)
        thread.update(latest_normalized_subject=subject, n_emails=len(emails))
        thread.update(emails=[copy.deepcopy(e) for e in reversed(emails)])  # Guess: newest first
        result.append(thread)
    return result


def delete_thread(ctx: Ctx) -> Response:
    """``DELETE /activity/emailthread/{id}/``: removes the thread's emails (SPEC/close-api.md)."""
    thread = ctx.registry.lookup(ctx.store, "emailthread", ctx.path_id)
    for email in thread["emails"]:
        write.delete(ctx, EMAIL, ctx.store.activities[email["id"]])
    return json_response({})


EMAIL_THREAD = Resource(
    "emailthread",
    "EmailThread",
    "/activity/emailthread/",
    "acti",
    ops=("list", "get"),
    source=threads,
    object_type="activity.email_thread",
    filters=("id", "lead_id", "contact_id", "user_id", "date_created", "activity_at"),
    comma_filters=("lead_id", "contact_id", "user_id"),
    default_order="-activity_at",
    routes=(Route("/activity/emailthread/{id}/", "DELETE", delete_thread),),
)
RESOURCES = (SMS, WHATSAPP, EMAIL_THREAD)


# ----- seed ----------------------------------------------------------------------------
SMS_LINES = ["Hi {first}, are we still on for tomorrow at 10?", "Thanks! Sent the contract over email."]
SMS_LINES += ["Running 5 minutes late, sorry!", "Got it, talk soon."]
WA_LINES = ["Hi {first}, here is the *pricing sheet* we discussed.", "Sure, _Thursday_ works for us."]
LOCAL_PHONE = "+16505550100"  # the demo org's number (Guess: no phone-number resource yet)


def seed(sc: SeedCtx) -> None:
    """A few SMS and WhatsApp messages on the first leads that have a contact with a phone."""
    rng, boot = sc.rng, next(iter(sc.store.users))
    firsts: dict[str, Obj] = {}
    for contact in sc.store.contacts.values():  # the registry is not attached while seeding
        if contact.get("phones"):
            firsts.setdefault(contact["lead_id"], contact)
    for i, (lead_id, contact) in enumerate(list(firsts.items())[:12]):
        first, phone = contact["name"].split()[0], contact["phones"][0]["phone"]
        when = sc.now - timedelta(days=rng.randint(1, 60), minutes=rng.randint(0, 600))
        base = {"lead_id": lead_id, "contact_id": contact["id"], "user_id": rng.choice(sc.user_ids)}
        base.update(activity_at=iso(when), users=[], organization_id=sc.store.org["id"])
        base.update(date_created=iso(when), date_updated=iso(when), created_by=boot, updated_by=boot)
        aid = sc.ids.new("acti")
        if i % 3 != 2:
            inbound = rng.random() < 0.5
            sms = {**base, "id": aid, "_type": "SMS", "text": rng.choice(SMS_LINES).format(first=first)}
            sms.update(status="inbox" if inbound else "sent", direction="inbound" if inbound else "outbound")
            sms.update(local_phone=LOCAL_PHONE, remote_phone=phone, template_id=None, date_scheduled=None)
            sms.update(date_sent=None if inbound else iso(when), error_message=None, cost=None)
            sms.update(attachments=[], source="Close.io")
            sc.store.activities[aid] = sms
        else:
            text = rng.choice(WA_LINES).format(first=first)
            msg = {**base, "id": aid, "_type": "WhatsAppMessage", "direction": "outgoing"}
            msg.update(external_whatsapp_message_id=f"wamid.{aid[5:]}", local_phone=LOCAL_PHONE)
            msg.update(remote_phone=phone, message_markdown=text, message_html=whatsapp_html(text))
            msg.update(text=re.sub(r"[*_~`]", "", text), integration_link=None, response_to_id=None)
            msg.update(attachments=[], integration_name=None)
            sc.store.activities[aid] = msg
