"""Status change, sent email and custom (Explorer) reports, computed from the store (tool
manifest ``reports``). Every ``{org_id}`` must be the caller's organization's id, else 404.

Status change reports (developer.close.com/api/resources/reporting/get-lead-statuses, via the
docs search): optional ``date_start``/``date_end``, ``query`` or ``smart_view_id`` (not both),
opportunities also ``user_id``. Each status of ``status_overview`` has ``status_id``,
``status_label``, ``status_is_deleted``, ``started``, ``ended``, ``change``, ``change_percent``,
``gained``, ``lost``, ``entered``, ``left``; an overall report (no dates) keeps only ``ended``.
Histories come from the LeadStatusChange / OpportunityStatusChange activities: before an
object's first change its status was that change's ``old_status_id``. Not served: ``_queries``
and ``_leads_page_urls`` (UI links). Guesses: ``status_transitions`` rows as
``{from_status_id, to_status_id, count}``; an opportunity ``query`` filters by its lead.

Sent emails (``GET /report/sent_emails/{org_id}/``; params from the OpenAPI: ``date_start``,
``date_end``, ``user_id``): outgoing sent emails grouped by template. Row shape is a guess.

Custom reports (``GET /report/custom/{org_id}/``; params from the OpenAPI: ``x``, ``y``,
``group_by``, ``transform_y``, ``interval``, ``start``, ``end``, ``query``): fields are named
``<object>.<field>`` as ``GET /report/custom/fields/`` lists them; ``y`` is ``<object>.count``
or a number field, ``transform_y`` ``sum`` (default), ``avg``, ``min`` or ``max``; a date ``x``
is bucketed by ``interval`` (``day``, ``week``, ``month`` (default), ``quarter``, ``year``).
The naming and the answer's shape are guesses (the spec gives an empty schema).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from close_mcp.sandbox.areas.bulk_select import select_leads
from close_mcp.sandbox.areas.leads import query_leads
from close_mcp.sandbox.areas.reports_common import check_org
from close_mcp.sandbox.engine import Ctx, Resource, Route, json_response
from close_mcp.sandbox.ids import iso, now_utc, parse_when
from close_mcp.sandbox.store import Obj, not_found, validation_error

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _when(value: object) -> datetime | None:
    when = parse_when(str(value or ""))
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def _period(ctx: Ctx, start_key: str, end_key: str) -> tuple[datetime, datetime] | None:
    raw_start, raw_end = ctx.params.get(start_key), ctx.params.get(end_key)
    if not raw_start and not raw_end:
        return None
    start, end = _when(raw_start) if raw_start else EPOCH, _when(raw_end) if raw_end else now_utc()
    errs = {k: "Not a valid date." for k, v in ((start_key, start), (end_key, end)) if v is None}
    if errs:
        raise validation_error(errs)
    assert start is not None and end is not None
    return start, end


# ----- status change reports -------------------------------------------------------------
def _leads_in_scope(ctx: Ctx) -> list[Obj]:
    query, view = ctx.params.get("query"), ctx.params.get("smart_view_id")
    if query and view:
        raise validation_error(errors=["Specify either query or smart_view_id, not both."])
    if view:
        saved = ctx.store.collection("saved_searches").get(view)
        if saved is None:
            raise not_found("SavedSearch")
        return select_leads(ctx, saved.get("s_query"))
    return query_leads(ctx) if query else list(ctx.store.leads.values())


def _history(ctx: Ctx, kind: str, key: str) -> dict[str, list[Obj]]:
    changes: dict[str, list[Obj]] = {}
    for a in ctx.store.activities.values():
        if a.get("_type") == kind and a.get(key):
            changes.setdefault(a[key], []).append(a)
    for rows in changes.values():
        rows.sort(key=lambda a: a["date_created"])
    return changes


def _status_at(obj: Obj, changes: list[Obj], t: datetime) -> str | None:
    if (_when(obj["date_created"]) or EPOCH) > t:
        return None
    before = [c for c in changes if (_when(c["date_created"]) or EPOCH) <= t]
    if before:
        return before[-1].get("new_status_id")
    return changes[0].get("old_status_id") if changes else obj.get("status_id")


def _status_report(
    ctx: Ctx, objs: list[Obj], statuses: list[Obj], history: dict[str, list[Obj]], key: str
) -> Obj:
    period = _period(ctx, "date_start", "date_end")
    in_period = [
        c
        for rows in history.values()
        for c in rows
        if period is None or period[0] <= (_when(c["date_created"]) or EPOCH) < period[1]
    ]
    ids = {o["id"] for o in objs}
    in_period = [c for c in in_period if c.get(key) in ids]
    overview = []
    for status in statuses:
        sid = status["id"]
        row: Obj = {"status_id": sid, "status_label": status["label"], "status_is_deleted": False}
        if period is None:
            row["ended"] = sum(1 for o in objs if o.get("status_id") == sid)
        else:
            start = {o["id"]: _status_at(o, history.get(o["id"], []), period[0]) for o in objs}
            end = {o["id"]: _status_at(o, history.get(o["id"], []), period[1]) for o in objs}
            started = sum(1 for v in start.values() if v == sid)
            ended = sum(1 for v in end.values() if v == sid)
            row.update(started=started, ended=ended, change=ended - started)
            row["change_percent"] = round(100 * (ended - started) / started, 1) if started else None
            row["gained"] = sum(1 for i in ids if start[i] != sid and end[i] == sid)
            row["lost"] = sum(1 for i in ids if start[i] == sid and end[i] != sid)
            row["entered"] = len({c[key] for c in in_period if c.get("new_status_id") == sid})
            row["left"] = len({c[key] for c in in_period if c.get("old_status_id") == sid})
        overview.append(row)
    pairs: dict[tuple[str | None, str | None], int] = {}
    for c in in_period:
        pair = (c.get("old_status_id"), c.get("new_status_id"))
        pairs[pair] = pairs.get(pair, 0) + 1
    transitions = [{"from_status_id": a, "to_status_id": b, "count": n} for (a, b), n in pairs.items()]
    answer: Obj = {"status_overview": overview, "status_transitions": transitions}
    if period is not None:
        answer.update(date_start=iso(period[0]), date_end=iso(period[1]))
    return answer


def lead_statuses(ctx: Ctx) -> Response:
    check_org(ctx)
    objs = _leads_in_scope(ctx)
    history = _history(ctx, "LeadStatusChange", "lead_id")
    return json_response(
        _status_report(ctx, objs, list(ctx.store.lead_statuses.values()), history, "lead_id")
    )


def opportunity_statuses(ctx: Ctx) -> Response:
    check_org(ctx)
    user = ctx.params.get("user_id")
    if user and user not in ctx.store.users:
        raise validation_error({"user_id": "Object does not exist."})
    leads = {lead["id"] for lead in _leads_in_scope(ctx)}
    objs = [
        o
        for o in ctx.store.opportunities.values()
        if o.get("lead_id") in leads and (not user or o.get("user_id") == user)
    ]
    history = _history(ctx, "OpportunityStatusChange", "opportunity_id")
    return json_response(
        _status_report(ctx, objs, list(ctx.store.opportunity_statuses().values()), history, "opportunity_id")
    )


# ----- sent emails -----------------------------------------------------------------------
def sent_emails(ctx: Ctx) -> Response:
    check_org(ctx)
    period = _period(ctx, "date_start", "date_end")
    user = ctx.params.get("user_id")
    rows: dict[str | None, Obj] = {}
    for a in ctx.store.activities.values():
        if a.get("_type") != "Email" or a.get("direction") != "outgoing" or a.get("status") != "sent":
            continue
        when = _when(a.get("date_sent") or a.get("date_created"))
        if (user and a.get("user_id") != user) or (period and not (when and period[0] <= when < period[1])):
            continue
        row = rows.setdefault(
            a.get("template_id"),
            {"template_id": a.get("template_id"), "template_name": a.get("template_name"), "sent": 0},
        )
        row["sent"] += 1
        row["opened"] = row.get("opened", 0) + (1 if a.get("opens") else 0)
        row["replied"] = row.get("replied", 0) + (1 if a.get("has_reply") else 0)
    data = sorted(rows.values(), key=lambda r: -r["sent"])
    return json_response({"data": data, "total_sent": sum(r["sent"] for r in data)})


# ----- custom reports (Explorer) ---------------------------------------------------------
DATE_FIELDS = {
    "lead": ("date_created", "date_updated"),
    "opportunity": ("date_created", "date_updated", "date_won"),
}
CATEGORIES = {"lead": ("status_id", "created_by"), "opportunity": ("status_id", "user_id", "value_period")}
NUMBERS = {"lead": (), "opportunity": ("value", "confidence")}


def report_fields(ctx: Ctx) -> list[Obj]:
    out: list[Obj] = []
    for obj in ("lead", "opportunity"):
        out.append({"id": f"{obj}.count", "object_type": obj, "type": "count", "axes": ["y"]})
        out += [
            {"id": f"{obj}.{f}", "object_type": obj, "type": "date", "axes": ["x"]} for f in DATE_FIELDS[obj]
        ]
        out += [
            {"id": f"{obj}.{f}", "object_type": obj, "type": "category", "axes": ["x", "group_by"]}
            for f in CATEGORIES[obj]
        ]
        out += [
            {"id": f"{obj}.{f}", "object_type": obj, "type": "number", "axes": ["y"]} for f in NUMBERS[obj]
        ]
        for cf in ctx.store.custom_fields[obj].values():
            kind = (
                "number"
                if cf["type"] == "number"
                else "date"
                if cf["type"] in ("date", "datetime")
                else "category"
            )
            axes = ["y"] if kind == "number" else ["x"] if kind == "date" else ["x", "group_by"]
            out.append(
                {
                    "id": f"{obj}.custom.{cf['id']}",
                    "label": cf["name"],
                    "object_type": obj,
                    "type": kind,
                    "axes": axes,
                }
            )
    return out


def list_report_fields(ctx: Ctx) -> Response:
    return json_response({"data": report_fields(ctx)})


def _bucket(when: datetime, interval: str) -> str:
    if interval == "day":
        return when.date().isoformat()
    if interval == "week":
        return (when.date() - timedelta(days=when.weekday())).isoformat()
    if interval == "quarter":
        return f"{when.year}-Q{(when.month - 1) // 3 + 1}"
    return str(when.year) if interval == "year" else f"{when.year}-{when.month:02d}"


AGGREGATES: dict[str, Callable[[list[float]], Any]] = {
    "sum": sum,
    "avg": lambda v: round(sum(v) / len(v), 2) if v else None,
    "min": lambda v: min(v) if v else None,
    "max": lambda v: max(v) if v else None,
}


def custom_report(ctx: Ctx) -> Response:
    check_org(ctx)
    fields = {f["id"]: f for f in report_fields(ctx)}
    p = ctx.params
    errs = {k: "This field is required." for k in ("x", "y") if not p.get(k)}
    errs.update(
        {
            k: "Unknown field."
            for k in ("x", "y", "group_by")
            if p.get(k) and k not in errs and p[k] not in fields
        }
    )
    if errs:
        raise validation_error(errs)
    x, y, group = fields[p["x"]], fields[p["y"]], fields.get(p.get("group_by") or "")
    errs = {
        k: f"This field cannot be used as {k}."
        for k, f in (("x", x), ("y", y), ("group_by", group))
        if f and k not in f["axes"]
    }
    if len({f["object_type"] for f in (x, y, group) if f}) > 1:
        errs["y"] = "x, y and group_by must be fields of the same object."
    interval, transform = p.get("interval", "month"), p.get("transform_y", "sum")
    if interval not in ("day", "week", "month", "quarter", "year"):
        errs["interval"] = "Not a valid choice."
    if transform not in AGGREGATES:
        errs["transform_y"] = "Not a valid choice."
    if errs:
        raise validation_error(errs)
    obj = x["object_type"]
    leads = {lead["id"] for lead in _leads_in_scope(ctx)}
    items = [
        o
        for o in ctx.registry.objects(ctx.store, obj)
        if (o["id"] if obj == "lead" else o.get("lead_id")) in leads
    ]
    period = _period(ctx, "start", "end")
    key = lambda f: f["id"].split(".", 1)[1]  # noqa: E731
    cells: dict[tuple[Any, Any], list[float]] = {}
    for o in items:
        raw = o.get(key(x))
        if x["type"] == "date":
            when = _when(raw)
            if when is None or (period and not period[0] <= when < period[1]):
                continue
            raw = _bucket(when, interval)
        value = 1.0 if y["type"] == "count" else o.get(key(y))
        if value is None:
            continue
        cells.setdefault((raw, o.get(key(group)) if group else None), []).append(float(value))
    agg = sum if y["type"] == "count" else AGGREGATES[transform]
    rows: dict[Any, Obj] = {}
    for (xv, gv), values in sorted(cells.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        result = agg(values)
        result = int(result) if isinstance(result, float) and result.is_integer() else result
        if group:
            rows.setdefault(xv, {"x": xv, "y": {}})["y"][str(gv)] = result
        else:
            rows[xv] = {"x": xv, "y": result}
    answer = {
        "x": x["id"],
        "y": y["id"],
        "group_by": group["id"] if group else None,
        "data": list(rows.values()),
    }
    answer.update(
        interval=interval if x["type"] == "date" else None,
        transform_y=None if y["type"] == "count" else transform,
    )
    return json_response(answer)


STATUS_REPORTS = Resource(
    "status_report",
    "Report",
    "/report/statuses/",
    "report",
    ops=(),
    events=(),
    routes=(
        Route("/report/statuses/lead/{id}/", "GET", lead_statuses),
        Route("/report/statuses/opportunity/{id}/", "GET", opportunity_statuses),
        Route("/report/sent_emails/{id}/", "GET", sent_emails),
        Route("/report/custom/fields/", "GET", list_report_fields),
        Route("/report/custom/{id}/", "GET", custom_report),
    ),
)
RESOURCES = (STATUS_REPORTS,)
