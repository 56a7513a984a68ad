"""Sequences (Close's "Workflows") with their steps, and sequence subscriptions (tool
manifest ``sequences``).

Enrolling a contact (``POST /sequence_subscription/``) starts sending: every step due at
once (the first steps whose delays add up to 0) runs at enrolment. The sandbox sends no
mail: an email step is recorded as a sent Email activity on the lead (``activity.email.sent``
fired, ``sequence_*`` fields set), rendered from the step's template as Close does.
Later steps would run on Close's scheduler as their delays pass; the sandbox has no clock
that advances, so they are not run (a documented limitation, not Close behaviour).

Sources: Close's Sequences reference pages (developer.close.com, "Sequences (Workflows)"),
the spec (``close-openapi.yml``: list filters, 201 on subscribe, "steps left out of a PUT are
removed"), close-api.md §5.1 (``seq_``/``sub_``/``step_`` prefixes). Field names of steps and
subscriptions follow Close's documentation examples; guesses are marked where made.
"""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import Any

from starlette.responses import Response

from close_mcp.sandbox.areas import templates as templates_area
from close_mcp.sandbox.areas.common import current_user, now, strip_html
from close_mcp.sandbox.areas.templates import render_template
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Parent, Resource, Route, choice, names, write
from close_mcp.sandbox.engine.handlers import list_handler
from close_mcp.sandbox.ids import iso
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, SandboxError
from close_mcp.sandbox.validate import FieldErrors

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STEP_TYPES = ("email", "call", "sms")  # guess: the step kinds Close's workflow editor offers
THREADING = ("new_thread", "old_thread")
STATUSES = ("active", "paused", "finished")
# Which status changes a PUT may make: pause, resume, finish, and resume a finished one
# (the bulk action's "resume_finished", Close's Bulk Actions docs).
TRANSITIONS = {"active": {"paused", "finished"}, "paused": {"active", "finished"}, "finished": {"active"}}
DEFAULT_SCHEDULE = {"ranges": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(1, 6)]}


# ----- sequences -----------------------------------------------------------------------
def _check_steps(ctx: Ctx, steps: Any, errs: FieldErrors) -> None:
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        errs.add("steps", "Not a valid list of steps.")
        return
    for n, step in enumerate(steps, 1):
        kind = step.get("step_type")
        delay = step.get("delay", 0)
        if kind not in STEP_TYPES:
            errs.add("steps", f"Step {n}: step_type must be one of {', '.join(STEP_TYPES)}.")
        elif not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
            errs.add("steps", f"Step {n}: delay must be a number of seconds, 0 or more.")
        elif step.get("threading", "new_thread") not in THREADING:
            errs.add("steps", f"Step {n}: threading must be new_thread or old_thread.")
        elif kind == "email" and step.get("email_template_id") not in ctx.store.collection("email_templates"):
            errs.add("steps", f"Step {n}: email_template_id: Object does not exist.")
        elif kind == "sms" and step.get("sms_template_id") not in ctx.store.collection("sms_templates"):
            errs.add("steps", f"Step {n}: sms_template_id: Object does not exist.")


def _check_sequence(ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    if "name" in body and body["name"] == "":
        errs.add("name", "This field may not be blank.")
    if "steps" in body and body["steps"] is not None:
        _check_steps(ctx, body["steps"], errs)


def _prepare_steps(ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    """Steps keep their id when sent back with it; new ones get one; steps left out of a
    PUT are removed (spec note on "Update a Sequence")."""
    if "steps" not in body:
        return
    if body["steps"] is None:  # null clears, as on every PUT
        body["steps"] = []
    known = {s["id"] for s in (existing or {}).get("steps", [])}
    steps = []
    for step in body["steps"]:
        kept = {k: step[k] for k in names("step_type delay email_template_id sms_template_id") if k in step}
        kept.update(threading=step.get("threading", "new_thread"), required=bool(step.get("required")))
        kept.setdefault("delay", 0)
        sid = step.get("id") if step.get("id") in known else ctx.store.ids.new("step")
        steps.append({"id": sid, **kept})
    body["steps"] = steps


SEQUENCE = Resource(
    "sequence",
    "Sequence",
    "/sequence/",
    "seq",
    fields=(
        Field("name", "str", required=True),
        Field("timezone", "str", default="America/New_York"),  # guess: the org's users' zone
        Field("schedule", "dict", default=DEFAULT_SCHEDULE),  # guess: weekdays 9–17
        Field("schedule_id", default=None),
        *Field.many("max_activations_per_day throttle_capacity throttle_period_seconds", "int", default=None),
        Field("steps", "list", default=[]),
    ),
    hooks=Hooks(validate=_check_sequence, prepare=_prepare_steps),
)


# ----- subscriptions -------------------------------------------------------------------
def _is_unsubscribed(ctx: Ctx, email: str) -> bool:
    return email.lower() in ctx.store.collection("unsubscribed_emails")


def _check_subscription(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    if existing is None:
        for name in ("contact_email", "sender_email"):
            value = body.get(name)
            if isinstance(value, str) and value and not EMAIL_RE.match(value):
                errs.add(name, "Not a valid email address.")
        email = body.get("contact_email")
        if isinstance(email, str) and EMAIL_RE.match(email) and _is_unsubscribed(ctx, email):
            # Close never mails an unsubscribed address (Unsubscribed Emails docs); the wording is a guess.
            errs.add("contact_email", "This email address has unsubscribed.")
        users = body.get("calls_assigned_to") or []
        if not all(isinstance(u, str) and u in ctx.store.users for u in users):
            errs.add("calls_assigned_to", "Object does not exist.")
        twin = next(
            (
                s
                for s in ctx.store.collection("sequence_subscriptions").values()
                if s["sequence_id"] == body.get("sequence_id")
                and s["contact_id"] == body.get("contact_id")
                and s["status"] != "finished"
            ),
            None,
        )
        if twin is not None:  # guess: one running subscription per contact and sequence
            raise SandboxError(400, {"errors": ["Contact is already subscribed to this sequence."]})
        return
    new = body.get("status")
    if new is not None and new != existing["status"] and new not in TRANSITIONS[existing["status"]]:
        errs.add("status", f"Cannot change status from {existing['status']} to {new}.")


def _prepare_subscription(ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    if existing is None:  # lead_id is kept for the documented lead_id filter
        body["lead_id"] = ctx.store.contacts[body["contact_id"]]["lead_id"]


def send_step(ctx: Ctx, subscription: Obj, sequence: Obj, step: Obj) -> Obj | None:
    """Record what one email step sends, without sending: a sent Email activity."""
    if step["step_type"] != "email":
        return None  # call and SMS steps need a person or a phone number: not run by the sandbox
    template = ctx.store.collection("email_templates").get(step.get("email_template_id") or "")
    if template is None:
        return None  # its template was deleted since: nothing to send (guess: Close skips the step)
    lead = ctx.store.leads[subscription["lead_id"]]
    contact = ctx.store.contacts[subscription["contact_id"]]
    rendered = render_template(ctx, template, lead, contact)
    text = strip_html(rendered["body"])
    email: Obj = {"lead_id": lead["id"], "contact_id": contact["id"], "user_id": ctx.info.user_id}
    email.update(status="sent", direction="outgoing", users=[], activity_at=now())
    email.update(sender=f'"{subscription["sender_name"]}" <{subscription["sender_email"]}>')
    email.update(to=[subscription["contact_email"]], cc=[], bcc=[], attachments=[], opens=[])
    email.update(
        subject=rendered["subject"], body_html=rendered["body"], body_text=text, body_preview=text[:120]
    )
    email.update(template_id=template["id"], template_name=template["name"], date_sent=now())
    email.update(sequence_id=sequence["id"], sequence_name=sequence["name"])
    email.update(sequence_subscription_id=subscription["id"], sequence_step_id=step["id"])
    email_res = ctx.registry["email"]
    activity = write.insert(ctx, email_res, email)
    write.emit(ctx, email_res, "sent", activity)
    return activity


def _start(ctx: Ctx, subscription: Obj) -> None:
    """Enrolment runs every step due now: the leading steps whose delays add up to 0."""
    sequence = ctx.store.collection("sequences")[subscription["sequence_id"]]
    elapsed = 0
    for step in sequence.get("steps", []):
        elapsed += step.get("delay", 0)
        if elapsed > 0:
            break
        send_step(ctx, subscription, sequence, step)


def list_subscriptions(ctx: Ctx) -> Response:
    """At least one of ``sequence_id``, ``contact_id``, ``lead_id`` is required (spec)."""
    if not any(ctx.params.get(k) for k in ("sequence_id", "contact_id", "lead_id")):
        raise SandboxError(400, {"error": "At least one of sequence_id, contact_id or lead_id is required."})
    return list_handler(SUBSCRIPTION)(ctx)


SUBSCRIPTION = Resource(
    "sequence_subscription",
    "SequenceSubscription",
    "/sequence_subscription/",
    "sub",
    fields=(
        Field("sequence_id", ref="sequence", required=True, writable="create", named="sequence_name"),
        Field("contact_id", ref="contact", required=True, writable="create"),
        Field("contact_email", "str", required=True, writable="create"),
        Field("sender_account_id", ref="connected_account", required=True, writable="create"),
        *Field.many("sender_name sender_email", "str", required=True, writable="create"),
        Field("calls_assigned_to", "list", writable="create", default=[]),
        Field("status", choices=choice(*STATUSES), writable="update", default="active"),
        Field("lead_id", writable="never"),
        Field("user_id", writable="never", default=current_user),  # who enrolled (guess)
    ),
    ops=("get", "create", "update"),  # no DELETE in Close: finish instead
    parent=Parent("sequence", "sequence_id"),  # guess: deleting a sequence ends its subscriptions
    filters=names("sequence_id contact_id lead_id status"),
    create_status=201,  # spec
    hooks=Hooks(
        validate=_check_subscription,
        prepare=_prepare_subscription,
        after_create=_start,
    ),
    routes=(Route("/sequence_subscription/", "GET", list_subscriptions),),
)
RESOURCES = (SEQUENCE, SUBSCRIPTION)


# ----- seed ----------------------------------------------------------------------------
def seed(sc: SeedCtx) -> None:
    """Two sequences built on the seeded email templates, a few enrolled contacts (not on
    the first leads, which tests use for fresh enrolments)."""
    templates_area.seed(sc)  # the steps need the templates (that area seeds after this one by name)
    store = sc.store
    templates = list(store.collection("email_templates"))
    accounts = list(store.collection("connected_accounts").values())
    if len(templates) < 3 or not accounts:
        return
    plans = {
        "New inbound demo requests": [(0, templates[0], "new_thread"), (3, templates[1], "old_thread")],
        "Re-engage stalled deals": [(0, templates[1], "new_thread"), (7, templates[2], "old_thread")],
    }
    when = sc.org_created + timedelta(days=30)
    sequences = []
    for name, steps in plans.items():
        sid = sc.ids.new("seq")
        seq: Obj = {
            "id": sid,
            "name": name,
            "timezone": "America/New_York",
            "schedule": copy.deepcopy(DEFAULT_SCHEDULE),
        }
        seq.update(schedule_id=None, max_activations_per_day=None, throttle_capacity=None)
        seq.update(throttle_period_seconds=None)
        seq["steps"] = [
            {"id": sc.ids.new("step"), "step_type": "email", "delay": days * 86400, "email_template_id": t}
            | {"threading": threading, "required": False}
            for days, t, threading in steps
        ]
        store.collection("sequences")[sid] = _stamp(sc, seq, when)
        sequences.append(seq)
    first_leads = set(list(store.leads)[:20])
    contacts = [c for c in store.contacts.values() if c.get("emails") and c["lead_id"] not in first_leads]
    for n, contact in enumerate(sc.rng.sample(contacts, min(6, len(contacts)))):
        lead = store.leads[contact["lead_id"]]
        account = sc.rng.choice(accounts)
        seq = sequences[n % len(sequences)]
        sub = {"id": sc.ids.new("sub"), "sequence_id": seq["id"], "contact_id": contact["id"]}
        sub.update(contact_email=contact["emails"][0]["email"], sender_account_id=account["id"])
        sub.update(sender_name=account["identities"][0]["name"], sender_email=account["email"])
        sub.update(calls_assigned_to=[], status=("active", "active", "paused")[n % 3], lead_id=lead["id"])
        sub["user_id"] = account["user_id"]
        store.collection("sequence_subscriptions")[sub["id"]] = _stamp(sc, sub, when + timedelta(days=n))


def _stamp(sc: SeedCtx, obj: Obj, when: Any) -> Obj:
    user, ts = sc.user_ids[0], iso(when)
    obj.update(organization_id=sc.store.org["id"], date_created=ts, date_updated=ts)
    obj.update(created_by=user, updated_by=user)
    return obj
