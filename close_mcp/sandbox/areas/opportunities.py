"""Opportunities, with status-change activities and list aggregates (tool manifest ``opportunities``)."""

from __future__ import annotations

import copy
from datetime import timedelta

from close_mcp.sandbox.areas.activities import NOTE_LINES
from close_mcp.sandbox.areas.common import current_user
from close_mcp.sandbox.areas.custom_fields import PRODUCTS
from close_mcp.sandbox.areas.search_data import EngineSearchData, as_sandbox_error, tz_offset
from close_mcp.sandbox.areas.smart_views import saved_search_lead_ids
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Parent, Resource, choice, names, write
from close_mcp.sandbox.ids import now_utc
from close_mcp.sandbox.search import SearchError, search_opportunities
from close_mcp.sandbox.seeding import LeadSeed, SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore
from close_mcp.sandbox.validate import FieldErrors

PERIODS = ("one_time", "monthly", "annual")
_PERIOD_FACTOR = {"one_time": 1, "monthly": 12, "annual": 1}


def format_money(cents: int | None, period: str | None, symbol: str) -> str | None:
    if cents is None:
        return None
    amount = cents / 100
    text = f"{symbol}{amount:,.0f}" if amount == int(amount) else f"{symbol}{amount:,.2f}"
    return text if period in (None, "one_time") else f"{text} {period}"


def opportunity_view(store: OrgStore, opp: Obj) -> Obj:
    out = copy.deepcopy(opp)
    status = store.opportunity_statuses().get(opp.get("status_id") or "", {})
    pipeline = store.pipelines.get(status.get("pipeline_id", ""), {})
    value, confidence = opp.get("value"), opp.get("confidence") or 0
    period = opp.get("value_period") or "one_time"
    out.update(
        status_label=status.get("label"),
        status_type=status.get("type"),
        status_display_name=status.get("label"),
        pipeline_id=pipeline.get("id"),
        pipeline_name=pipeline.get("name"),
        value_currency=store.org["currency"],
        value_formatted=format_money(value, period, store.org["currency_symbol"]),
        expected_value=None if value is None else round(value * confidence / 100),
        annualized_value=None if value is None else value * _PERIOD_FACTOR.get(period, 1),
    )
    annualized = out["annualized_value"]
    out["annualized_expected_value"] = None if annualized is None else round(annualized * confidence / 100)
    return out


def aggregates(views: list[Obj]) -> Obj:
    """``/opportunity/`` always adds these to the page (close-api.md §2.1)."""
    agg: Obj = {"count_by_value_period": {}}
    for period in PERIODS:
        same = [v for v in views if v.get("value_period") == period]
        agg["count_by_value_period"][period] = len(same)
        agg[f"total_value_{period}"] = sum(v.get("value") or 0 for v in same)
        agg[f"expected_value_{period}"] = sum(v.get("expected_value") or 0 for v in same)
    agg["total_value_annualized"] = sum(v.get("annualized_value") or 0 for v in views)
    agg["expected_value_annualized"] = sum(v.get("annualized_expected_value") or 0 for v in views)
    return agg


def _check(ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    if isinstance(body.get("confidence"), int) and not 0 <= body["confidence"] <= 100:
        errs.add("confidence", "Must be between 0 and 100.")
    if body.get("status_id") is not None and body["status_id"] not in ctx.store.opportunity_statuses():
        errs.add("status", "Object does not exist.")


def _prepare(ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    body.pop("pipeline_id", None)  # accepted, implied by the status
    if existing is None and body.get("lead_id") is None:  # Close creates an "Untitled" lead (close-api.md §6)
        body["lead_id"] = write.insert(ctx, ctx.registry["lead"], {"name": "Untitled"})["id"]


def _first_status(ctx: Ctx) -> str:
    return str(next(iter(ctx.store.pipelines.values()))["statuses"][0]["id"])


def _status_moved(ctx: Ctx, opp: Obj, previous: Obj | None = None, changed: list[str] | None = None) -> None:
    """A status change records an OpportunityStatusChange activity; a won status sets date_won.
    Guess (close-api.md lists ``date_lost`` beside ``date_won``): a lost status sets date_lost the same way."""
    if changed is not None and "status_id" not in changed:
        return
    statuses = ctx.store.opportunity_statuses()
    new = statuses[opp["status_id"]]
    if new["type"] == "won" and not opp.get("date_won"):
        opp["date_won"] = now_utc().date().isoformat()
    if new["type"] == "lost" and not opp.get("date_lost"):
        opp["date_lost"] = now_utc().date().isoformat()
    old = statuses.get((previous or {}).get("status_id") or "", {})
    activity = {"_type": "OpportunityStatusChange", "lead_id": opp["lead_id"], "opportunity_id": opp["id"]}
    activity.update(old_status_id=old.get("id"), old_status_label=old.get("label"))
    activity.update(new_status_id=new["id"], new_status_label=new["label"])
    write.insert(ctx, ctx.registry["activity"], activity, emit_event=False)


def _items(ctx: Ctx) -> list[Obj]:
    """``query`` (the opportunity text syntax) and ``lead_saved_search_id`` (opportunities of
    the leads a smart view selects), close-api.md §3.3; both on the search package, whose
    unknown terms are Close's 400."""
    items = ctx.registry.objects(ctx.store, "opportunity")
    if ctx.params.get("query"):
        try:
            found = search_opportunities(ctx.params["query"], EngineSearchData(ctx), tz_offset=tz_offset(ctx))
        except SearchError as exc:
            raise as_sandbox_error(exc) from None
        items = [ctx.store.opportunities[str(o["id"])] for o in found]
    saved = ctx.params.get("lead_saved_search_id")
    if saved:
        leads = saved_search_lead_ids(ctx, saved)
        items = [o for o in items if o.get("lead_id") in leads]
    return items


OPPORTUNITY = Resource(
    "opportunity",
    "Opportunity",
    "/opportunity/",
    "oppo",
    collection="opportunities",
    fields=(
        Field("lead_id", ref="lead", named="lead_name"),
        Field("status_id", default=_first_status),
        Field("value", "int", label="integer (the value in cents)", default=None),
        Field("value_period", choices=choice(*PERIODS), default="one_time"),
        Field("confidence", "int", default=0),
        Field("note", "str", default=""),
        Field("contact_id", ref="contact", default=None, named="contact_name"),
        Field("user_id", ref="user", default=current_user, named="user_name"),
        *Field.many("date_won date_lost", "date", default=None),
        Field("pipeline_id"),
    ),
    parent=Parent("lead", "lead_id"),
    custom_fields="opportunity",
    filters=names(
        "lead_id user_id status_id status_label status_type value_period date_won date_created date_updated"
        " contact_id pipeline_id"
    ),
    filter_views=True,  # status_label/status_type are derived
    order_by=names(
        "date_won date_updated date_created confidence user_name value annualized_value annualized_expected_value"
    ),
    total_results=True,
    hooks=Hooks(
        view=opportunity_view,
        validate=_check,
        prepare=_prepare,
        inserted=_status_moved,
        changed=_status_moved,
        list_extra=aggregates,
        items=_items,
    ),
)
RESOURCES = (OPPORTUNITY,)


# ----- seed ----------------------------------------------------------------------------
def seed_lead(sc: SeedCtx, one: LeadSeed) -> None:
    rng, statuses = sc.rng, list(sc.store.opportunity_statuses().values())
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        status = rng.choice(statuses)
        oid = sc.ids.new("oppo")
        opp = {"id": oid, "lead_id": one.lead["id"], "status_id": status["id"]}
        opp["value"] = rng.choice([50000, 120000, 250000, 900000, 4800])
        opp["value_period"] = rng.choice(PERIODS)
        opp["confidence"] = rng.choice([10, 25, 50, 75, 90])
        opp["note"] = rng.choice(NOTE_LINES)
        opp.update(contact_id=one.contacts[0]["id"], user_id=rng.choice(sc.user_ids))
        won = (one.created + timedelta(days=20)).date().isoformat()
        opp["date_won"] = won if status["type"] == "won" else None
        opp["date_lost"] = won if status["type"] == "lost" else None
        opp[f"custom.{sc.custom_fields['Product']}"] = rng.choice(PRODUCTS)
        sc.store.opportunities[oid] = sc.stamp(opp, one.created)
