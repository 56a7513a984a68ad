"""Selecting leads with an Advanced Filtering ``s_query`` (bulk actions and lead exports share it).

No resources here (no ``RESOURCES``): the area loader skips this module. The store is handed to
:mod:`close_mcp.sandbox.search` through a :class:`DictSearchData` built per request; leads already
keep custom values as flat ``custom.cf_…`` keys, which is what the evaluators read.
"""

from __future__ import annotations

from typing import Any

from close_mcp.sandbox.engine import Ctx
from close_mcp.sandbox.ids import now_utc
from close_mcp.sandbox.search import CustomField, DictSearchData, SearchError
from close_mcp.sandbox.search.conditions import Env
from close_mcp.sandbox.search.dates import tz_from_offset
from close_mcp.sandbox.search.sorting import apply_sort, parse_sort
from close_mcp.sandbox.search.tree import compile_root
from close_mcp.sandbox.store import Obj, OrgStore, SandboxError, validation_error


def search_data(store: OrgStore, user_id: str) -> DictSearchData:
    reg = store.registry
    assert reg is not None
    fields = [
        CustomField(
            cf["id"],
            cf["name"],
            cf["type"],
            kind,
            bool(cf.get("accepts_multiple_values")),
            tuple(cf.get("choices") or ()),
        )
        for kind, defs in store.custom_fields.items()
        for cf in defs.values()
    ]
    opp_statuses = [
        {
            "id": s["id"],
            "label": s["label"],
            "status_type": s.get("type"),
            "pipeline_id": s.get("pipeline_id"),
        }
        for s in store.opportunity_statuses().values()
    ]
    return DictSearchData(
        leads=reg.objects(store, "lead"),
        contacts=reg.objects(store, "contact"),
        opportunities=reg.objects(store, "opportunity"),
        tasks=list(store.tasks.values()),
        activities=list(store.activities.values()),
        custom_fields=fields,
        user_id=user_id,
        lead_status_list=list(store.lead_statuses.values()),
        opportunity_status_list=opp_statuses,
        saved_searches=dict(store.collection("saved_searches")),
        clock=now_utc(),
    )


def _offset(ctx: Ctx) -> float:
    raw = ctx.request.headers.get("x-tz-offset", "0") if ctx.request is not None else "0"
    try:
        return float(raw)
    except ValueError:
        return 0.0


def select_leads(ctx: Ctx, s_query: Any, sort: Any = None, results_limit: Any = None) -> list[Obj]:
    """The stored leads an ``s_query`` selects, in ``sort`` order, at most ``results_limit``.

    A query over contacts selects their leads (Close's bulk actions act on leads; a guess that the
    lead of each matching contact is the target, from the "leads or contacts" wording of
    developer.close.com/resources/bulk-actions). Search errors are Close's 400 bodies.
    """
    if not isinstance(s_query, dict):
        raise validation_error({"s_query": "This field is required."})
    if results_limit is not None and (not isinstance(results_limit, int) or results_limit < 0):
        raise validation_error({"results_limit": "Not a valid integer."})
    data = search_data(ctx.store, ctx.info.user_id)
    tz = tz_from_offset(_offset(ctx))
    try:
        pred, types = compile_root(s_query, data, Env(now=data.now(), tz=tz, user_id=data.current_user_id()))
        keys = parse_sort(sort, data, types)
    except SearchError as exc:
        raise SandboxError(exc.status, exc.body) from None
    matches = apply_sort([(t, o) for t in types for o in data.objects(t) if pred(t, o)], keys, tz)
    seen: dict[str, Obj] = {}
    for t, obj in matches:
        lead_id = str(obj["id"] if t == "lead" else obj.get("lead_id") or "")
        lead = ctx.store.leads.get(lead_id)
        if lead is not None and lead_id not in seen:
            seen[lead_id] = lead
    leads = list(seen.values())
    return leads if results_limit is None else leads[:results_limit]
