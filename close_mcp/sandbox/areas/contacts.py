"""Contacts (tool manifest ``contacts``)."""

from __future__ import annotations

import copy

from close_mcp.sandbox.engine import Ctx, Field, Hooks, Parent, Resource, names, write
from close_mcp.sandbox.seeding import LeadSeed, SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore
from close_mcp.sandbox.validate import FieldErrors, check_contact_details, normalize_contact_details


def contact_view(_store: OrgStore, contact: Obj) -> Obj:
    return {**copy.deepcopy(contact), "display_name": contact.get("name") or ""}


def _check(_ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    check_contact_details(errs, body)


def _prepare(ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    normalize_contact_details(body)  # on update emails/phones/urls replace the whole list (OBS-APP)
    if existing is None and body.get("lead_id") is None:
        # Since 2025-02-14 a contact without lead_id gets a new lead named after it (close-api.md §5.3).
        body["lead_id"] = write.insert(ctx, ctx.registry["lead"], {"name": body.get("name")})["id"]


def new_contact(ctx: Ctx, lead_id: str, data: Obj) -> Obj:
    """A contact made by another write (a lead's nested contacts)."""
    normalize_contact_details(data)
    return write.insert(ctx, ctx.registry["contact"], {"lead_id": lead_id, **data})


CONTACT = Resource(
    "contact",
    "Contact",
    "/contact/",
    "cont",
    fields=(
        Field("lead_id", ref="lead"),
        *Field.many("name title", "str", default=None),
        *Field.many("emails phones urls", default=[]),  # checked by check_contact_details
    ),
    parent=Parent("lead", "lead_id"),
    custom_fields="contact",
    filters=("lead_id",),  # the only documented filter (close-api.md §3.3)
    hooks=Hooks(view=contact_view, validate=_check, prepare=_prepare),
)
RESOURCES = (CONTACT,)

# ----- seed ----------------------------------------------------------------------------
FIRST = names("Ava Liam Noah Emma Olivia Mateo Sofia Lucas Mia Ethan Chloe Arjun Priya Kenji Yuki Lena")
FIRST += names("Jonas Marta Diego Fatima Omar Grace Henry Isla Jack Zara Leo Nora Hugo Elena Tomás Aisha")
FIRST += names("Felix Ingrid Ravi Sara")
LAST = names("Garcia Smith Nguyen Müller Rossi Kowalski Tanaka Okafor Silva Johnson Brown Patel Kim Dubois")
LAST += names("Larsen Novak Haddad Moreau Fischer Costa Walsh Ibrahim Ortiz Svensson Chen Ahmed Lopez")
LAST += names("Schmidt Jensen Ferreira")
TITLES = ["CEO", "CTO", "VP Sales", "Head of Operations", "Office Manager", "Procurement Lead", "Founder"]
TITLES += ["Marketing Director", "IT Manager", "CFO"]


def seed_lead(sc: SeedCtx, one: LeadSeed) -> None:
    rng = sc.rng
    for _ in range(rng.randint(1, 4)):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        cid = sc.ids.new("cont")
        email = f"{first.lower()}.{last.lower()}@{one.slug}.example".replace("ü", "u").replace("á", "a")
        title = rng.choice(TITLES)
        phone = {"phone": f"+1512{rng.randint(1000000, 9999999)}", "type": rng.choice(["office", "mobile"])}
        contact = {
            "id": cid,
            "lead_id": one.lead["id"],
            "name": f"{first} {last}",
            "title": title,
            "emails": [{"email": email, "type": "office", "is_unsubscribed": False}],
            "phones": [phone],
            "urls": [],
            f"custom.{sc.custom_fields['LinkedIn']}": f"https://linkedin.example/in/{first.lower()}{last.lower()}",
        }
        sc.store.contacts[cid] = sc.stamp(contact, one.created)
        one.contacts.append(contact)
