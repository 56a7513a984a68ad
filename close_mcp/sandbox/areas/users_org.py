"""Users and the organization (tool manifest ``users_org``; its lead status and pipeline list
tools are served by ``areas/pipelines.py``)."""

from __future__ import annotations

import copy

from starlette.responses import Response

from close_mcp.sandbox.areas.common import user_name
from close_mcp.sandbox.areas.pipelines import seed_statuses
from close_mcp.sandbox.engine import READ, Ctx, Field, Hooks, Resource, Route, choice, one
from close_mcp.sandbox.ids import iso
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
RESOURCES = (USER, ORGANIZATION)  # lead statuses and pipelines: areas/pipelines.py

# ----- seed ----------------------------------------------------------------------------
SEED_USERS = [("Dana", "Whitfield", "admin"), ("Marco", "Bellini", "user"), ("Keiko", "Sato", "user")]
SEED_USERS.append(("Sam", "Okoye", "restricteduser"))


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
    seed_statuses(sc)  # on the core stream, where they always were
