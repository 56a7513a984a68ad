"""Leads: CRUD, nested contacts on create, the lead ``query`` search and merge
(tool manifest ``leads``)."""

from __future__ import annotations

import copy
from datetime import timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.common import first_lead_status
from close_mcp.sandbox.areas.contacts import new_contact
from close_mcp.sandbox.areas.custom_fields import INDUSTRIES, SOURCES
from close_mcp.sandbox.areas.search_data import EngineSearchData, as_sandbox_error, tz_offset
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Resource, Route, json_response, names, write
from close_mcp.sandbox.search import SearchError, search_leads
from close_mcp.sandbox.seeding import LeadSeed, SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, SandboxError, validation_error
from close_mcp.sandbox.validate import FieldErrors, check_contact_details, check_custom


def lead_view(store: OrgStore, lead: Obj) -> Obj:
    reg = store.registry
    assert reg is not None
    out = copy.deepcopy(lead)
    children = store.children_of(lead["id"])
    contacts = [reg.view(store, "contact", c) for c in children["contacts"]]
    status = store.lead_statuses.get(lead.get("status_id") or "", {})
    # SPEC Lead.primary_email/primary_phone: the first contact's ContactEmail/ContactPhone object
    emails = [e for c in contacts for e in c.get("emails", [])]
    phones = [p for c in contacts for p in c.get("phones", [])]
    out.update(
        display_name=lead.get("name") or (contacts[0]["name"] if contacts else "Untitled"),
        status_label=status.get("label"),
        html_url=f"https://app.close.com/lead/{lead['id']}/",
        contacts=contacts,
        contact_ids=[c["id"] for c in contacts],
        opportunities=[reg.view(store, "opportunity", o) for o in children["opportunities"]],
        tasks=[reg.view(store, "task", t) for t in children["tasks"] if not t.get("is_complete")],
        primary_email=copy.deepcopy(emails[0]) if emails else None,
        primary_phone=copy.deepcopy(phones[0]) if phones else None,
        # SPEC: a string; "" without named contacts (a guess)
        contacts_summary=", ".join(c["name"] for c in contacts if c.get("name")),
    )
    return out


# ----- lead search ---------------------------------------------------------------------
def query_leads(ctx: Ctx) -> list[Obj]:
    """The lead ``query`` search (deprecated but still honoured live, close-api.md §3.2) on the
    search package's evaluator: Close's text syntax (free text, ``status:``, ``custom.…`` …);
    an unknown term is Close's 400, never an empty page. ``sort:`` is checked but the page
    keeps ``/lead/``'s order: the engine orders the items after this hook."""
    try:
        found = search_leads(ctx.params.get("query") or "", EngineSearchData(ctx), tz_offset=tz_offset(ctx))
    except SearchError as exc:
        raise as_sandbox_error(exc) from None
    return [ctx.store.leads[str(lead["id"])] for lead in found]


# ----- writes --------------------------------------------------------------------------
def _check_lead(ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    label = body.pop("status", None)
    if label is not None:
        match = [
            sid for sid, s in ctx.store.lead_statuses.items() if s["label"].lower() == str(label).lower()
        ]
        if match:
            body["status_id"] = match[0]
        else:
            errs.add("status", "Not a valid choice.")
    nested = body.get("contacts")
    for i, c in enumerate(nested if isinstance(nested, list) else []):
        if not isinstance(c, dict):
            errs.add(f"contacts.{i}", "Not a valid contact.")
            continue
        check_contact_details(errs, c, f"contacts.{i}.")
        check_custom(errs, ctx.store, "contact", c)


def _take_contacts(ctx: Ctx, body: Obj, _existing: Obj | None) -> None:
    ctx.scratch["contacts"] = body.pop("contacts", None) or []


def _create_contacts(ctx: Ctx, lead: Obj) -> None:
    writable = ctx.registry["contact"].writable(True)
    for c in ctx.scratch.get("contacts", []):
        data = {k: v for k, v in c.items() if (k in writable and k != "lead_id") or k.startswith("custom.")}
        new_contact(ctx, lead["id"], data)


def merge_leads(ctx: Ctx) -> Response:
    """``POST /lead/merge/``: every declared child moves to the destination, a ``LeadMerge``
    activity is recorded, the source is deleted and ``lead.merged`` fires (close-api.md §6)."""
    store, errs, leads = ctx.store, FieldErrors(), ctx.registry["lead"]
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
    write.move_children(ctx, leads, source_id, dest_id, meta)
    merge_activity = {"_type": "LeadMerge", "lead_id": dest_id, "status": "done"}
    merge_activity.update(source_lead_id=source_id, source_lead_name=source.get("name"))
    write.insert(ctx, ctx.registry["activity"], merge_activity, emit_event=False)
    write.delete(ctx, leads, source, meta=meta)
    store.stamp_update(dest, ctx.info)
    store.emit("lead", "merged", lead_view(store, dest), ctx.info, meta=meta)
    return json_response({})  # SPEC's {} (close-api.md §10.6: a 2018 recording had {"status": "ok"})


LEAD = Resource(
    "lead",
    "Lead",
    "/lead/",
    "lead",
    fields=(
        Field("name", "str", default=None),  # SPEC Lead.required: null when unnamed
        Field("description", "str", default=""),
        Field("url", default=None),
        Field("status_id", ref="lead_status", error_key="status_id", default=first_lead_status),
        Field("status"),  # a label, resolved to status_id by _check_lead
        Field("addresses", "list", default=[]),
        Field("integration_links", writable="never", default=[]),
        Field("source", default=None),
        Field("contacts", "list", writable="create"),
    ),
    custom_fields="lead",
    events=("created", "updated", "deleted", "merged"),
    total_results=True,  # in Close's own example and 2017 recordings (close-api.md §2.1)
    max_limit=200,  # observed live (close-api.md §2.1)
    max_skip=35_000,
    hooks=Hooks(
        view=lead_view,
        validate=_check_lead,
        prepare=_take_contacts,
        after_create=_create_contacts,
        items=lambda ctx: (
            query_leads(ctx) if ctx.params.get("query") else ctx.registry.objects(ctx.store, "lead")
        ),
    ),
    routes=(Route("/lead/merge/", "POST", merge_leads),),
)
RESOURCES = (LEAD,)

# ----- seed ----------------------------------------------------------------------------
WORD_A = names("Blue North Bright Summit Iron Silver Pine Harbor Quantum Red Atlas Cedar Nova Pioneer")
WORD_A += names("Granite Lumen Orbit Vertex Willow Crest")
WORD_B = names("Logistics Analytics Dental Robotics Foods Capital Labs Health Studios Energy Freight")
WORD_B += names("Software Clinics Outfitters Media Systems Bakery Legal")
SUFFIX = ["Inc", "LLC", "GmbH", "Ltd", "Co", "Group", "AG", "SA", "BV", ""]
CITIES = [("Austin", "TX", "US"), ("Denver", "CO", "US"), ("Berlin", "", "DE"), ("London", "", "GB")]
CITIES += [("Toronto", "ON", "CA"), ("Lisbon", "", "PT"), ("Chicago", "IL", "US"), ("Sydney", "NSW", "AU")]


def seed_lead(sc: SeedCtx, i: int, seen: set[str]) -> LeadSeed:

    rng = sc.rng
    while True:
        company = f"{rng.choice(WORD_A)} {rng.choice(WORD_B)} {rng.choice(SUFFIX)}".strip()
        if company not in seen:
            seen.add(company)
            break
    created = sc.now - timedelta(days=rng.uniform(1, 360), seconds=i)
    city, state, country = rng.choice(CITIES)
    slug = company.split()[0].lower() + company.split()[1].lower()
    lead_id = sc.ids.new("lead")
    description = f"{rng.choice(INDUSTRIES)} company in {city}."
    status_id = rng.choice(list(sc.store.lead_statuses))
    street, zipcode = f"{rng.randint(1, 999)} Main St", f"{rng.randint(10000, 99999)}"
    lead = {
        "id": lead_id,
        "name": company,
        "description": description,
        "url": f"https://www.{slug}.example",
        "status_id": status_id,
        "source": None,
        "addresses": [
            {"label": "business", "address_1": street, "address_2": None, "city": city, "state": state}
            | {"zipcode": zipcode, "country": country}
        ],
        "integration_links": [],
        f"custom.{sc.custom_fields['Industry']}": rng.choice(INDUSTRIES),
        f"custom.{sc.custom_fields['Employees']}": rng.choice([5, 12, 40, 120, 300, 1500]),
        f"custom.{sc.custom_fields['Lead Source']}": rng.choice(SOURCES),
    }
    sc.store.leads[lead_id] = sc.stamp(lead, created)
    if (sc.now - created).days < 30:
        assert sc.boot is not None
        sc.store.emit("lead", "created", lead, sc.boot, when=created)
    return LeadSeed(lead, company, slug, created)
