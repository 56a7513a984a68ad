"""Sandbox routes for leads (with search and merge) and contacts."""

from __future__ import annotations

import re
import shlex

from starlette.responses import Response

from close_mcp.sandbox.http import Ctx, filter_by, json_response, one, page
from close_mcp.sandbox.ids import iso, now_utc
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, SandboxError, apply_patch, validation_error
from close_mcp.sandbox.validate import (
    FieldErrors,
    check_contact_details,
    check_custom,
    check_reference,
    check_type,
    normalize_contact_details,
    pick,
)
from close_mcp.sandbox.views import contact_view, lead_view

LEAD_FIELDS = {"name", "description", "url", "status_id", "status", "addresses", "source"}
CONTACT_FIELDS = {"lead_id", "name", "title", "emails", "phones", "urls"}
LEAD_MAX_LIMIT = 200  # observed live (close-api.md §2.1)
LEAD_MAX_SKIP = 35_000


def newest_first(objs: dict[str, Obj]) -> list[Obj]:
    """Guess: Close lists leads/contacts/opportunities newest first (not documented)."""
    return sorted(objs.values(), key=lambda o: o["date_created"], reverse=True)


# ----- lead search ---------------------------------------------------------------------
def _lead_haystack(store: OrgStore, lead: Obj) -> dict[str, list[str]]:
    contacts = store.children_of(lead["id"])["contacts"]
    return {
        "name": [lead.get("name") or ""],
        "contact": [c.get("name") or "" for c in contacts],
        "email": [e.get("email", "") for c in contacts for e in c.get("emails", [])],
        "phone": [re.sub(r"\D", "", p.get("phone", "")) for c in contacts for p in c.get("phones", [])],
    }


def search_leads(store: OrgStore, query: str) -> list[Obj]:
    """The lead ``query`` search (deprecated but still honoured live, close-api.md §3.2).

    Supports free text over lead name, contact names, emails and phones, and
    ``status:"…"``, ``name:…``, ``email:…``, ``phone:…`` terms; all terms must match.
    ``sort:`` terms are accepted and ignored (the sandbox keeps its default order).
    """
    try:
        terms = shlex.split(query)
    except ValueError:
        raise SandboxError(400, {"error": "Invalid query: unbalanced quotes."}) from None
    status_labels = {s["label"].lower(): sid for sid, s in store.lead_statuses.items()}
    leads = newest_first(store.leads)
    for term in terms:
        key, sep, value = term.partition(":")
        key, value = key.lower(), value.lower()
        if sep and key == "sort":
            continue
        if sep and key in ("status", "lead_status"):
            sid = status_labels.get(value)
            leads = [lead for lead in leads if lead.get("status_id") == sid]
        elif sep and key in ("name", "email", "phone", "contact"):
            needle = re.sub(r"\D", "", value) if key == "phone" else value
            leads = [
                lead for lead in leads if any(needle in h.lower() for h in _lead_haystack(store, lead)[key])
            ]
        else:
            text = term.lower()
            digits = re.sub(r"\D", "", text)
            leads = [
                lead
                for lead in leads
                if any(
                    text in h.lower()
                    for k, hs in _lead_haystack(store, lead).items()
                    if k != "phone"
                    for h in hs
                )
                or (len(digits) >= 4 and any(digits in h for h in _lead_haystack(store, lead)["phone"]))
            ]
    return leads


# ----- leads ---------------------------------------------------------------------------
def list_leads(ctx: Ctx) -> Response:
    query = ctx.params.get("query")
    leads = search_leads(ctx.store, query) if query else newest_first(ctx.store.leads)
    return page(ctx, leads, lead_view, max_limit=LEAD_MAX_LIMIT, max_skip=LEAD_MAX_SKIP)


def _resolve_status(errs: FieldErrors, store: OrgStore, body: Obj) -> None:
    label = body.pop("status", None)
    if label is not None:
        match = [sid for sid, s in store.lead_statuses.items() if s["label"].lower() == str(label).lower()]
        if match:
            body["status_id"] = match[0]
        else:
            errs.add("status", "Not a valid choice.")
    if body.get("status_id") is not None and body["status_id"] not in store.lead_statuses:
        errs.add("status_id", "Object does not exist.")


def _new_contact(store: OrgStore, info: RequestInfo, lead_id: str, data: Obj) -> Obj:
    contact = {
        "id": store.ids.new("cont"),
        "lead_id": lead_id,
        "name": None,
        "title": None,
        "emails": [],
        "phones": [],
        "urls": [],
        **data,
    }
    normalize_contact_details(contact)
    store.contacts[contact["id"]] = store.stamp_new(contact, info)
    store.emit("contact", "created", contact, info)
    return contact


def create_lead(ctx: Ctx) -> Response:
    store, errs = ctx.store, FieldErrors()
    body = pick(ctx.body, LEAD_FIELDS | {"contacts"})
    check_type(errs, body, "name", str, "string")
    check_type(errs, body, "addresses", list, "list")
    check_type(errs, body, "contacts", list, "list")
    _resolve_status(errs, store, body)
    check_custom(errs, store, "lead", body)
    nested = body.pop("contacts", None) or []
    for i, c in enumerate(nested):
        if not isinstance(c, dict):
            errs.add(f"contacts.{i}", "Not a valid contact.")
            continue
        check_contact_details(errs, c, f"contacts.{i}.")
        check_custom(errs, store, "contact", c)
    errs.raise_if_any()
    lead = {
        "id": store.ids.new("lead"),
        "name": None,
        "description": "",
        "url": None,
        "status_id": next(iter(store.lead_statuses)),
        "addresses": [],
        "integration_links": [],
        "source": None,
        **body,
    }
    store.leads[lead["id"]] = store.stamp_new(lead, ctx.info)
    store.emit("lead", "created", lead, ctx.info)
    for c in nested:
        _new_contact(store, ctx.info, lead["id"], pick(c, CONTACT_FIELDS - {"lead_id"}))
    return one(ctx, lead_view(store, lead))


def get_lead(ctx: Ctx) -> Response:
    return one(ctx, lead_view(ctx.store, ctx.store.get("leads", ctx.path_id, "Lead")))


def update_lead(ctx: Ctx) -> Response:
    store, errs = ctx.store, FieldErrors()
    lead = store.get("leads", ctx.path_id, "Lead")
    body = pick(ctx.body, LEAD_FIELDS)
    check_type(errs, body, "name", str, "string")
    check_type(errs, body, "addresses", list, "list")
    _resolve_status(errs, store, body)
    check_custom(errs, store, "lead", body)
    errs.raise_if_any()
    previous, changed = apply_patch(lead, body)
    if changed:
        store.stamp_update(lead, ctx.info)
        store.emit("lead", "updated", lead, ctx.info, previous=previous, changed=changed)
    return one(ctx, lead_view(store, lead))


def _delete_lead_cascade(store: OrgStore, info: RequestInfo, lead: Obj, meta: Obj | None = None) -> None:
    """Deleting a lead deletes its children, each firing its own deleted event (seed table)."""
    children = store.children_of(lead["id"])
    for collection, object_type in (
        ("activities", None),
        ("opportunities", "opportunity"),
        ("tasks", "task"),
        ("contacts", "contact"),
    ):
        for child in children[collection]:
            del getattr(store, collection)[child["id"]]
            kind = object_type or f"activity.{child['_type'].lower()}"
            store.emit(kind, "deleted", child, info, previous=child, meta=meta)
    del store.leads[lead["id"]]
    store.emit("lead", "deleted", lead, info, previous=lead, meta=meta)


def delete_lead(ctx: Ctx) -> Response:
    lead = ctx.store.get("leads", ctx.path_id, "Lead")
    _delete_lead_cascade(ctx.store, ctx.info, lead)
    return json_response({})


def merge_leads(ctx: Ctx) -> Response:
    """``POST /lead/merge/``: children move to the destination, the source is deleted."""
    store, errs = ctx.store, FieldErrors()
    for name in ("source", "destination"):
        if not isinstance(ctx.body.get(name), str) or not ctx.body.get(name):
            errs.add(name, "This field is required.")
    errs.raise_if_any()
    source_id, dest_id = ctx.body["source"], ctx.body["destination"]
    if source_id not in store.leads:
        raise SandboxError(404, {"errors": ["Source lead does not exist."]})
    if dest_id not in store.leads:
        raise SandboxError(404, {"errors": ["Destination lead does not exist."]})
    if source_id == dest_id:
        raise validation_error(errors=["Source and destination leads must be different."])
    source, dest = store.leads[source_id], store.leads[dest_id]
    meta = {"merge_source_lead_id": source_id, "merge_destination_lead_id": dest_id}
    for collection, object_type in (
        ("contacts", "contact"),
        ("opportunities", "opportunity"),
        ("tasks", "task"),
        ("activities", None),
    ):
        for child in store.children_of(source_id)[collection]:
            child["lead_id"] = dest_id
            store.stamp_update(child, ctx.info)
            kind = object_type or f"activity.{child['_type'].lower()}"
            store.emit(
                kind,
                "updated",
                child,
                ctx.info,
                previous={"lead_id": source_id},
                changed=["lead_id"],
                meta=meta,
            )
    merge_activity = {
        "id": store.ids.new("acti"),
        "_type": "LeadMerge",
        "lead_id": dest_id,
        "contact_id": None,
        "user_id": ctx.info.user_id,
        "users": [],
        "status": "done",
        "source_lead_id": source_id,
        "source_lead_name": source.get("name"),
        "activity_at": iso(now_utc()),
    }
    store.activities[merge_activity["id"]] = store.stamp_new(merge_activity, ctx.info)
    del store.leads[source_id]
    store.emit("lead", "deleted", source, ctx.info, previous=source, meta=meta)
    store.stamp_update(dest, ctx.info)
    store.emit("lead", "merged", lead_view(store, dest), ctx.info, meta=meta)
    return json_response({})


# ----- contacts ------------------------------------------------------------------------
def list_contacts(ctx: Ctx) -> Response:
    contacts = filter_by(newest_first(ctx.store.contacts), ctx.params, ["lead_id"])
    return page(ctx, contacts, contact_view)


def _check_contact(errs: FieldErrors, store: OrgStore, body: Obj) -> None:
    check_type(errs, body, "name", str, "string")
    check_type(errs, body, "title", str, "string")
    check_contact_details(errs, body)
    check_custom(errs, store, "contact", body)
    check_reference(errs, store, body, "lead_id", "leads")


def create_contact(ctx: Ctx) -> Response:
    store, errs = ctx.store, FieldErrors()
    body = pick(ctx.body, CONTACT_FIELDS)
    _check_contact(errs, store, body)
    errs.raise_if_any()
    lead_id = body.pop("lead_id", None)
    if lead_id is None:  # since 2025-02-14 a contact without lead_id gets a new lead named after it
        lead = {
            "id": store.ids.new("lead"),
            "name": body.get("name"),
            "description": "",
            "url": None,
            "status_id": next(iter(store.lead_statuses)),
            "addresses": [],
            "integration_links": [],
            "source": None,
        }
        store.leads[lead["id"]] = store.stamp_new(lead, ctx.info)
        store.emit("lead", "created", lead, ctx.info)
        lead_id = lead["id"]
    contact = _new_contact(store, ctx.info, lead_id, body)
    return one(ctx, contact_view(store, contact))


def get_contact(ctx: Ctx) -> Response:
    return one(ctx, contact_view(ctx.store, ctx.store.get("contacts", ctx.path_id, "Contact")))


def update_contact(ctx: Ctx) -> Response:
    store, errs = ctx.store, FieldErrors()
    contact = store.get("contacts", ctx.path_id, "Contact")
    body = pick(ctx.body, CONTACT_FIELDS)
    _check_contact(errs, store, body)
    errs.raise_if_any()
    normalize_contact_details(body)  # emails/phones/urls replace the whole list (OBS-APP)
    previous, changed = apply_patch(contact, body)
    if changed:
        store.stamp_update(contact, ctx.info)
        store.emit("contact", "updated", contact, ctx.info, previous=previous, changed=changed)
    return one(ctx, contact_view(store, contact))


def delete_contact(ctx: Ctx) -> Response:
    contact = ctx.store.get("contacts", ctx.path_id, "Contact")
    del ctx.store.contacts[contact["id"]]
    ctx.store.emit("contact", "deleted", contact, ctx.info, previous=contact)
    return json_response({})


ROUTES = [
    ("/lead/", {"GET": list_leads, "POST": create_lead}),
    ("/lead/merge/", {"POST": merge_leads}),
    ("/lead/{id}/", {"GET": get_lead, "PUT": update_lead, "DELETE": delete_lead}),
    ("/contact/", {"GET": list_contacts, "POST": create_contact}),
    ("/contact/{id}/", {"GET": get_contact, "PUT": update_contact, "DELETE": delete_contact}),
]
