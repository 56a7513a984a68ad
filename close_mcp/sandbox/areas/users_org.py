"""Users, the organization, lead statuses and pipelines (tool manifest ``users_org``)."""

from __future__ import annotations

import copy

from starlette.responses import Response

from close_mcp.sandbox.areas.common import user_name
from close_mcp.sandbox.engine import READ, Ctx, Field, Hooks, Resource, Route, choice, one
from close_mcp.sandbox.ids import iso, iso_naive
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo
from close_mcp.sandbox.validate import FieldErrors

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "$", "AUD": "$"}


def user_view(store: OrgStore, user: Obj) -> Obj:
    return {**copy.deepcopy(user), "organizations": [store.org["id"]]}


def me(ctx: Ctx) -> Response:
    user, org = user_view(ctx.store, ctx.user), ctx.store.org
    membership = {"id": user["membership_id"], "organization_id": org["id"], "user_id": user["id"]}
    user.update(
        organizations=[{"id": org["id"], "name": org["name"]}],
        memberships=[{**membership, "role_id": user["role_id"], "permissions_granted": []}],
        email_accounts=[],
        phone_numbers=[],
    )
    return one(ctx, user)


def organization_view(store: OrgStore, org: Obj) -> Obj:
    out = copy.deepcopy(org)
    out["lead_statuses"] = [{"id": s["id"], "label": s["label"]} for s in store.lead_statuses.values()]
    out["pipelines"] = copy.deepcopy(list(store.pipelines.values()))
    out["memberships"] = [
        {
            "id": u["membership_id"],
            "user_id": u["id"],
            "user_email": u["email"],
            "user_full_name": user_name(store, u["id"]),
            "role_id": u["role_id"],
        }
        for u in store.users.values()
    ]
    return out


def _check_org(_ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    if "name" in body and not body["name"]:
        errs.add("name", "This field may not be blank.")


def _org_changed(_ctx: Ctx, org: Obj, _previous: Obj, _changed: list[str]) -> None:
    org["currency_symbol"] = CURRENCY_SYMBOLS[org["currency"]]


USER = Resource(
    "user",
    "User",
    "/user/",
    "user",
    ops=READ,
    title=lambda user: f"{user['first_name']} {user['last_name']}",
    order_by=("last_name,first_name", "first_name,last_name"),  # close-api.md §3.3
    default_order=None,
    hooks=Hooks(view=user_view),
    routes=(Route("/me/", "GET", me),),
)
ORGANIZATION = Resource(
    "organization",
    "Organization",
    "/organization/",
    "orga",
    fields=(Field("name", "str"), Field("currency", choices=choice(*CURRENCY_SYMBOLS))),
    ops=("get", "update"),
    admin_ops=("update",),
    events=(),
    source=lambda store: [store.org],
    hooks=Hooks(view=organization_view, validate=_check_org, changed=_org_changed),
)
LEAD_STATUS = Resource(
    "lead_status",
    "Status",
    "/status/lead/",
    "stat",
    collection="lead_statuses",
    ops=("list",),
    events=(),
    default_order=None,
)
PIPELINE = Resource("pipeline", "Pipeline", "/pipeline/", "pipe", ops=("list",), default_order=None)
RESOURCES = (USER, ORGANIZATION, LEAD_STATUS, PIPELINE)

# ----- seed ----------------------------------------------------------------------------
SEED_USERS = [("Dana", "Whitfield", "admin"), ("Marco", "Bellini", "user"), ("Keiko", "Sato", "user")]
SEED_USERS.append(("Sam", "Okoye", "restricteduser"))
LEAD_STATUSES = ["Potential", "Qualified", "Bad Fit", "Customer", "Churned"]
WON_LOST = [("Won", "won"), ("Lost", "lost")]
PIPELINES = {
    "Sales": [
        ("Demo Scheduled", "active"),
        ("Proposal Sent", "active"),
        ("Negotiation", "active"),
        *WON_LOST,
    ],
    "Renewals": [("Upcoming", "active"), ("Renewed", "won"), ("Churned", "lost")],
}


def seed(sc: SeedCtx) -> None:
    store, ids, created = sc.store, sc.ids, iso(sc.org_created)
    store.org.update(currency="USD", currency_symbol="$", status="active", date_updated=created)
    for first, last, role in SEED_USERS:
        uid = ids.new("user")
        store.users[uid] = {
            "id": uid,
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}@acme-demo.example",
            "image": None,
            "membership_id": ids.new("memb"),
            "role_id": role,
            "date_created": created,
            "date_updated": created,
            "last_used_timezone": "America/New_York",
        }
    sc.boot = RequestInfo(sc.user_ids[0], ids.new("req"), "POST", "/api/v1/seed/")
    for label in LEAD_STATUSES:
        sid = ids.new("stat")
        store.lead_statuses[sid] = {"id": sid, "label": label}
    naive = iso_naive(sc.org_created)
    for name, statuses in PIPELINES.items():
        pid = ids.new("pipe")
        store.pipelines[pid] = {
            "id": pid,
            "name": name,
            "organization_id": store.org["id"],
            "date_created": naive,
            "date_updated": naive,
            "statuses": [
                {"id": ids.new("stat"), "label": lbl, "type": typ, "pipeline_id": pid}
                for lbl, typ in statuses
            ],
        }
