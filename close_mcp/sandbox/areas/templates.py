"""Email templates (with render) and SMS templates (tool manifest ``templates``).

Sources: Close's "Email Templates" and "SMS Templates" reference pages (developer.close.com)
and the spec (``../shared/reference/close-openapi.yml``), which types the request bodies of
SMS templates only; the email template shape is a guess from Close's UI fields, written down
at each field.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from close_mcp.sandbox.areas.common import user_name
from close_mcp.sandbox.areas.leads import query_leads
from close_mcp.sandbox.engine import Ctx, Field, Resource, Route, choice, json_response, names
from close_mcp.sandbox.ids import iso
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, validation_error
from close_mcp.sandbox.validate import FieldErrors

# ----- render --------------------------------------------------------------------------
# Close's template language: ``{{ lead.display_name }}``, ``{{ contact.first_name }}``,
# ``{{ user.first_name }}``, ``{{ organization.name }}``; a missing value renders empty and
# ``|default:"there"`` (or ``|default("there")``) supplies a fallback (Close help "Email
# template variables"; the filter spellings are a guess covering both forms seen in examples).
_TAG = re.compile(
    r"\{\{\s*([a-z_]+)\.([A-Za-z0-9_]+)\s*(?:\|\s*default\s*(?::\s*|\(\s*)\"([^\"]*)\"\s*\)?\s*)?\}\}"
)


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = (name or "").strip().partition(" ")
    return first, last.strip()


def render_context(ctx: Ctx, lead: Obj, contact: Obj | None) -> dict[str, dict[str, Any]]:
    """The variables a template sees for one lead and contact, as the current user."""
    lead_view = ctx.registry.view(ctx.store, "lead", lead)
    user = ctx.user
    out: dict[str, dict[str, Any]] = {
        "lead": {k: lead_view.get(k) for k in names("id name display_name description url status_label")},
        "user": {
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "full_name": user_name(ctx.store, user["id"]),
            "email": user["email"],
        },
        "organization": {"name": ctx.store.org["name"]},
        "contact": {},
    }
    if contact is not None:
        first, last = _split_name(contact.get("name") or "")
        emails = contact.get("emails") or []
        out["contact"] = {
            "name": contact.get("name"),
            "display_name": contact.get("name") or "",
            "first_name": first,
            "last_name": last,
            "title": contact.get("title"),
            "email": emails[0]["email"] if emails else None,
        }
    return out


def render_text(text: str, variables: dict[str, dict[str, Any]]) -> str:
    def sub(match: re.Match[str]) -> str:
        value = variables.get(match.group(1), {}).get(match.group(2))
        if value in (None, ""):
            return match.group(3) or ""
        return str(value)

    return _TAG.sub(sub, text or "")


def render_template(ctx: Ctx, template: Obj, lead: Obj, contact: Obj | None) -> Obj:
    variables = render_context(ctx, lead, contact)
    return {
        "subject": render_text(template.get("subject") or "", variables),
        "body": render_text(template.get("body") or "", variables),
    }


def _contacts_with_email(ctx: Ctx, lead_id: str) -> list[Obj]:
    return [c for c in ctx.store.children_of(lead_id)["contacts"] if c.get("emails")]


def _preview_entry(ctx: Ctx, query: str, entry: int, mode: str) -> tuple[Obj, Obj] | None:
    """The ``entry``-th lead (first contact with an email) or contact of a search (docs)."""
    leads = query_leads(Ctx(ctx.request, ctx.store, ctx.info, {"query": query}, {}))
    if mode == "contact":
        pairs = [(lead, c) for lead in leads for c in _contacts_with_email(ctx, lead["id"])]
    else:
        pairs = [(lead, cs[0]) for lead in leads if (cs := _contacts_with_email(ctx, lead["id"]))]
    return pairs[entry] if entry < len(pairs) else None


def render(ctx: Ctx) -> Response:
    """``GET /email_template/{id}/render/``: one lead+contact, or entry N of a search (docs)."""
    template = ctx.registry.lookup(ctx.store, "email_template", ctx.path_id)
    params = ctx.params
    if params.get("query"):
        errs = FieldErrors()
        entry_raw, mode = params.get("entry", "0"), params.get("mode", "lead")
        if not entry_raw.isdigit() or int(entry_raw) > 99:  # documented range 0–99
            errs.add("entry", "Must be between 0 and 99.")
        if mode not in ("lead", "contact"):
            errs.add("mode", "Not a valid choice. Valid choices: contact, lead.")
        errs.raise_if_any()
        found = _preview_entry(ctx, params["query"], int(entry_raw), mode)
        if found is None:
            return json_response({})  # documented: an empty dict when there are no more entries
        lead, contact = found
        body = render_template(ctx, template, lead, contact)
        return json_response({**body, "lead_id": lead["id"], "contact_id": contact["id"]})
    errs = FieldErrors()
    for name in ("lead_id", "contact_id"):  # documented: both required in this form
        if not params.get(name):
            errs.add(name, "This field is required.")
    errs.raise_if_any()
    one_lead = ctx.store.leads.get(params["lead_id"])
    one_contact = ctx.store.contacts.get(params["contact_id"])
    if one_lead is None:
        raise validation_error({"lead": "Object does not exist."})
    if one_contact is None or one_contact.get("lead_id") != one_lead["id"]:
        raise validation_error({"contact": "Object does not exist."})  # guess: a contact of another lead
    return json_response(render_template(ctx, template, one_lead, one_contact))


ATTACHMENTS = Field("attachments", "list", default=[])  # [{url, filename, content_type}] (spec)

EMAIL_TEMPLATE = Resource(
    "email_template",
    "EmailTemplate",
    "/email_template/",
    "tmpl",  # prefix seen in Close's own examples ("tmpl_DCFo6…", philfreo's drip gist)
    fields=(
        Field("name", "str", required=True),
        Field("subject", "str", default=""),
        Field("body", "str", default=""),  # HTML, like the UI's editor (guess)
        Field("is_shared", "bool", default=False),
        Field("is_archived", "bool", default=False),
        ATTACHMENTS,
    ),
    filters=names("is_archived is_shared"),  # the documented list filters (spec)
    default_order="name",  # guess: the UI lists templates by name
    routes=(Route("/email_template/{id}/render/", "GET", render),),
)
SMS_TEMPLATE = Resource(
    "sms_template",
    "SMSTemplate",
    "/sms_template/",
    "smstmpl",  # guess: no example ID in the docs
    fields=(
        Field("name", "str", required=True),
        Field("text", "str", default=""),
        Field("is_shared", "bool", default=False),
        # status is only in UpdateSMSTemplate (spec): a new template is active.
        Field("status", choices=choice("active", "archived"), writable="update", default="active"),
        ATTACHMENTS,
    ),
    create_status=201,  # spec: 201
    delete_status=204,  # spec: 204
    default_order="name",
)

RESOURCES = (EMAIL_TEMPLATE, SMS_TEMPLATE)

# ----- seed ----------------------------------------------------------------------------
EMAIL_TEMPLATES = [
    (
        "Intro after demo request",
        "{{ lead.display_name }} x {{ organization.name }}",
        '<p>Hi {{ contact.first_name|default:"there" }},</p><p>Thanks for asking for a demo of our CRM '
        "for {{ lead.display_name }}. Would Tuesday or Thursday suit you?</p><p>{{ user.first_name }}</p>",
        True,
    ),
    (
        "Follow-up: proposal",
        "Your proposal, {{ contact.first_name }}",
        "<p>Hi {{ contact.first_name }},</p><p>Attached is the proposal we discussed. Happy to walk "
        "your team through it.</p><p>Best,<br>{{ user.full_name }}</p>",
        True,
    ),
    (
        "Break-up email",
        "Should I close your file?",
        '<p>Hi {{ contact.first_name|default:"there" }},</p><p>I have not heard back, so I will '
        "assume the timing is off for {{ lead.display_name }}.</p><p>{{ user.first_name }}</p>",
        False,
    ),
]
SMS_TEMPLATES = [
    (
        "Running late",
        "Hi {{ contact.first_name }}, running 5 minutes late for our call. {{ user.first_name }}",
    ),
    ("Demo reminder", "Reminder: our demo for {{ lead.display_name }} is tomorrow. Reply STOP to opt out."),
]


def seed(sc: SeedCtx) -> None:
    """A few shared templates; idempotent, as the sequences area seeds them first for its steps."""
    if sc.store.collection("email_templates"):
        return
    when = sc.org_created
    for name, subject, body, shared in EMAIL_TEMPLATES:
        tid = sc.ids.new("tmpl")
        template = {"id": tid, "name": name, "subject": subject, "body": body, "is_shared": shared}
        template.update(is_archived=False, attachments=[])
        sc.store.collection("email_templates")[tid] = _stamp(sc, template, when)
    for name, text in SMS_TEMPLATES:
        sid = sc.ids.new("smstmpl")
        template = {"id": sid, "name": name, "text": text, "is_shared": True, "status": "active"}
        template["attachments"] = []
        sc.store.collection("sms_templates")[sid] = _stamp(sc, template, when)


def _stamp(sc: SeedCtx, obj: Obj, when: Any) -> Obj:
    user = sc.user_ids[0]
    ts = iso(when)
    obj.update(organization_id=sc.store.org["id"], date_created=ts, date_updated=ts)
    obj.update(created_by=user, updated_by=user)
    return obj
