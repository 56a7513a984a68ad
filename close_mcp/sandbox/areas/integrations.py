"""Integration links (org-wide link templates shown on leads, contacts or opportunities) and
the read-only forms (tool manifest ``integrations``)."""

from __future__ import annotations

from datetime import timedelta

from close_mcp.sandbox.engine import READ, Ctx, Field, Hooks, Resource, choice
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, RequestInfo
from close_mcp.sandbox.validate import FieldErrors, check_not_blank

LINK_TYPES = ("lead", "contact", "opportunity")  # IntegrationLinkType (close-openapi.yml)


def _check_link(_ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    check_not_blank(errs, body, "name", "url")
    # The url is a template Close renders ({{ lead.id }} …); the sandbox stores it as sent.


INTEGRATION_LINK = Resource(
    "integration_link",
    "IntegrationLink",
    "/integration_link/",
    "intlink",  # guess: the prefix is not documented (close-api.md §5.1 lists none)
    fields=(
        Field("name", "str", required=True),
        Field("url", "str", required=True),
        Field("type", choices=choice(*LINK_TYPES), required=True),
    ),
    events=(),
    admin_ops=("create", "update", "delete"),  # org-wide links: admins only (guess, as custom fields)
    filters=("type",),
    default_order="date_created",
    hooks=Hooks(validate=_check_link),
)

# Forms exist only in the second spec (close-api.md §11 "SPEC2 only"): read-only here. The
# shape (name, fields with formfld_ IDs) follows SPEC2's prefixes (close-api.md §5.1);
# everything else is a guess.
FORM = Resource("form", "Form", "/form/", "form", ops=READ, events=(), default_order="date_created")
RESOURCES = (INTEGRATION_LINK, FORM)

# ----- seed ----------------------------------------------------------------------------
LINKS = [
    ("Open in Billing", "https://billing.acme-demo.example/customers?lead={{ lead.id }}", "lead"),
    (
        "Search on LinkedIn",
        "https://www.linkedin.com/search/results/all/?keywords={{ contact.name }}",
        "contact",
    ),
    ("Deal in ERP", "https://erp.acme-demo.example/deals/{{ opportunity.id }}", "opportunity"),
]
FORMS = {
    "Website contact form": [
        ("Name", "text"),
        ("Email", "email"),
        ("Company", "text"),
        ("Message", "textarea"),
    ],
    "Demo request": [("Name", "text"), ("Work email", "email"), ("Team size", "number")],
}


def seed(sc: SeedCtx) -> None:
    sc.boot = RequestInfo(sc.user_ids[0], sc.ids.new("req"), "POST", "/api/v1/seed/")
    for i, (name, url, kind) in enumerate(LINKS):
        lid = sc.ids.new("intlink")
        link = {"id": lid, "name": name, "url": url, "type": kind}
        sc.store.collection("integration_links")[lid] = sc.stamp(link, sc.org_created + timedelta(days=i))
    for i, (name, fields) in enumerate(FORMS.items()):
        fid = sc.ids.new("form")
        form: Obj = {"id": fid, "name": name, "is_active": True}
        form["fields"] = [
            {"id": sc.ids.new("formfld"), "label": label, "type": kind, "required": kind == "email"}
            for label, kind in fields
        ]
        sc.store.collection("forms")[fid] = sc.stamp(form, sc.org_created + timedelta(days=30 + i))
