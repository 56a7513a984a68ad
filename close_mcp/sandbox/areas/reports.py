"""Reports computed from the store: the activity report and its metrics, the opportunity funnel
(tool manifest ``reports``; status, sent-email and custom reports are in ``reports_more.py``).

Every figure is counted from the stored objects, so a report always matches the data.

Activity report (developer.close.com/api/resources/reporting/get-activity, via the docs search):
``type`` (``overview``|``comparison``) and ``metrics`` are required; ``datetime_range``
``{start, end}`` or ``relative_range`` (``today`` … ``all-time``) is required; ``users`` limits
the users; ``query`` ``{type: saved_search, saved_search_id}`` is accepted and not applied
(saved searches are another area). Guesses: the metric names and their list's shape (Close
publishes the list only through the API), the answer's shape (``totals`` and, for comparison,
one row per user), weeks starting on Monday, ranges in UTC.

Funnel (``POST /report/funnel/opportunity/{stages,totals}/``): ``pipeline`` and ``type``
(``created-cohort``|``active-stage-cohort``) required, ``report_datetime_range`` or
``report_relative_range``, ``users``. The sandbox keeps no stage history beyond
OpportunityStatusChange activities, so an opportunity counts as having entered every active
stage up to its current one (pipeline order) and every stage a status change shows; a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.common import user_name
from close_mcp.sandbox.engine import Ctx, Resource, Route, json_response
from close_mcp.sandbox.ids import iso, now_utc, parse_when
from close_mcp.sandbox.store import Obj, OrgStore, validation_error

RELATIVE = [
    "today",
    "this-week",
    "this-month",
    "this-quarter",
    "this-year",
    "yesterday",
    "last-week",
    "last-month",
    "last-quarter",
    "last-year",
    "all-time",
]


def _quarter(d: datetime) -> datetime:
    return d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1)


def _shift_months(d: datetime, months: int) -> datetime:
    total = d.year * 12 + d.month - 1 + months
    return d.replace(year=total // 12, month=total % 12 + 1)


def relative_range(name: str, now: datetime) -> tuple[datetime, datetime]:
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    month, quarter, year = today.replace(day=1), _quarter(today), today.replace(month=1, day=1)
    ranges = {
        "today": (today, today + timedelta(days=1)),
        "yesterday": (today - timedelta(days=1), today),
        "this-week": (week, week + timedelta(days=7)),
        "last-week": (week - timedelta(days=7), week),
        "this-month": (month, _shift_months(month, 1)),
        "last-month": (_shift_months(month, -1), month),
        "this-quarter": (quarter, _shift_months(quarter, 3)),
        "last-quarter": (_shift_months(quarter, -3), quarter),
        "this-year": (year, year.replace(year=year.year + 1)),
        "last-year": (year.replace(year=year.year - 1), year),
        "all-time": (datetime(2000, 1, 1, tzinfo=UTC), today + timedelta(days=1)),
    }
    return ranges[name]


def date_range(body: Obj, absolute: str, relative: str) -> tuple[datetime, datetime]:
    """The report's period from ``<absolute>: {start, end}`` or ``<relative>: name``."""
    if body.get(relative) is not None:
        if body[relative] not in RELATIVE:
            raise validation_error({relative: "Not a valid choice."})
        return relative_range(body[relative], now_utc())
    span = body.get(absolute)
    if not isinstance(span, dict):
        raise validation_error(errors=[f"Either {absolute} or {relative} is required."])
    start, end = parse_when(str(span.get("start") or "")), parse_when(str(span.get("end") or ""))
    if start is None or end is None:
        raise validation_error({absolute: "start and end must be ISO 8601 dates or datetimes."})
    return start, end


def within(value: object, start: datetime, end: datetime) -> bool:
    when = parse_when(str(value or ""))
    return when is not None and start <= when < end


def _users(ctx: Ctx, body: Obj) -> list[str]:
    users = body.get("users")
    if users is None:
        return list(ctx.store.users)
    if not isinstance(users, list) or any(u not in ctx.store.users for u in users):
        raise validation_error({"users": "Object does not exist."})
    return list(users)


# ----- activity metrics ------------------------------------------------------------------
def _activities(kind: str, **match: str) -> Callable[[OrgStore], list[tuple[Obj, str, str | None]]]:
    def rows(store: OrgStore) -> list[tuple[Obj, str, str | None]]:
        return [
            (a, a.get("date_created", ""), a.get("user_id"))
            for a in store.activities.values()
            if a.get("_type") == kind and all(a.get(k) == v for k, v in match.items())
        ]

    return rows


def _leads(store: OrgStore) -> list[tuple[Obj, str, str | None]]:
    return [(lead, lead["date_created"], lead.get("created_by")) for lead in store.leads.values()]


def _opps(store: OrgStore) -> list[tuple[Obj, str, str | None]]:
    return [(o, o["date_created"], o.get("user_id")) for o in store.opportunities.values()]


def _won(store: OrgStore) -> list[tuple[Obj, str, str | None]]:
    return [(o, o["date_won"], o.get("user_id")) for o in store.opportunities.values() if o.get("date_won")]


Source = Callable[[OrgStore], list[tuple[Obj, str, str | None]]]
# name -> (label, unit, source, what is summed or None for a count)
METRICS: dict[str, tuple[str, str, Source, str | None]] = {
    "calls.all.count": ("Calls", "count", _activities("Call"), None),
    "calls.outbound.count": ("Outbound calls", "count", _activities("Call", direction="outbound"), None),
    "calls.inbound.count": ("Inbound calls", "count", _activities("Call", direction="inbound"), None),
    "calls.all.sum_duration": ("Time on calls", "seconds", _activities("Call"), "duration"),
    "emails.sent.count": ("Emails sent", "count", _activities("Email", direction="outgoing"), None),
    "emails.received.count": ("Emails received", "count", _activities("Email", direction="incoming"), None),
    "notes.all.count": ("Notes", "count", _activities("Note"), None),
    "leads.created.count": ("Leads created", "count", _leads, None),
    "opportunities.created.count": ("Opportunities created", "count", _opps, None),
    "opportunities.created.sum_value": ("Value created", "cents", _opps, "value"),
    "opportunities.won.count": ("Opportunities won", "count", _won, None),
    "opportunities.won.sum_value": ("Value won", "cents", _won, "value"),
}


def metric_value(store: OrgStore, metric: str, start: datetime, end: datetime, users: set[str]) -> int:
    _label, _unit, source, summed = METRICS[metric]
    rows = [obj for obj, when, user in source(store) if user in users and within(when, start, end)]
    return len(rows) if summed is None else sum(int(obj.get(summed) or 0) for obj in rows)


def list_metrics(_ctx: Ctx) -> Response:
    data = [{"key": k, "label": label, "unit": unit} for k, (label, unit, _s, _f) in METRICS.items()]
    return json_response({"data": data})


def activity_report(ctx: Ctx) -> Response:
    body = ctx.body
    errs = {name: "This field is required." for name in ("type", "metrics") if body.get(name) is None}
    if errs:
        raise validation_error(errs)
    if body["type"] not in ("overview", "comparison"):
        raise validation_error({"type": "Not a valid choice."})
    metrics = body["metrics"]
    unknown = [m for m in metrics if m not in METRICS] if isinstance(metrics, list) else ["?"]
    if unknown or not metrics:
        raise validation_error({"metrics": f"Unknown metrics: {', '.join(map(str, unknown))}."})
    start, end = date_range(body, "datetime_range", "relative_range")
    users = _users(ctx, body)
    store = ctx.store
    totals = {m: metric_value(store, m, start, end, set(users)) for m in metrics}
    answer: Obj = {"type": body["type"], "start": iso(start), "end": iso(end), "totals": totals}
    if body["type"] == "comparison":
        answer["data"] = [
            {
                "user_id": u,
                "user_name": user_name(store, u),
                **{m: metric_value(store, m, start, end, {u}) for m in metrics},
            }
            for u in users
        ]
    return json_response(answer)


# ----- funnel ----------------------------------------------------------------------------
def _funnel_input(ctx: Ctx) -> tuple[Obj, list[Obj], list[Obj]]:
    body = ctx.body
    missing = {n: "This field is required." for n in ("pipeline", "type") if body.get(n) is None}
    if missing:
        raise validation_error(missing)
    pipeline = ctx.store.pipelines.get(str(body["pipeline"]))
    if pipeline is None:
        raise validation_error({"pipeline": "Object does not exist."})
    if body["type"] not in ("created-cohort", "active-stage-cohort"):
        raise validation_error({"type": "Not a valid choice."})
    start, end = date_range(body, "report_datetime_range", "report_relative_range")
    users = set(_users(ctx, body))
    ids = {s["id"] for s in pipeline["statuses"]}
    opps = [
        o for o in ctx.store.opportunities.values() if o.get("status_id") in ids and o.get("user_id") in users
    ]
    if body["type"] == "created-cohort":
        opps = [o for o in opps if within(o["date_created"], start, end)]
    else:  # opportunities alive during the period: created before its end, not closed before its start
        opps = [
            o for o in opps if (parse_when(o["date_created"]) or end) < end and not _closed_before(o, start)
        ]
    return pipeline, pipeline["statuses"], opps


def _closed_before(opp: Obj, start: datetime) -> bool:
    won = parse_when(str(opp.get("date_won") or ""))
    return won is not None and won < start


def _reached(ctx: Ctx, opp: Obj, statuses: list[Obj]) -> set[str]:
    active = [s["id"] for s in statuses if s["type"] == "active"]
    current = opp.get("status_id")
    reached = set(active[: active.index(current) + 1]) if current in active else set()
    if current and current not in active:
        reached.add(current)
        won = next((s for s in statuses if s["id"] == current and s["type"] == "won"), None)
        reached |= set(active) if won else set(active[:1])
    for a in ctx.store.activities.values():
        if a.get("_type") == "OpportunityStatusChange" and a.get("opportunity_id") == opp["id"]:
            reached |= {a.get("old_status_id"), a.get("new_status_id")} - {None}
    return reached


def funnel_stages(ctx: Ctx) -> Response:
    pipeline, statuses, opps = _funnel_input(ctx)
    stages = [s for s in statuses if s["type"] in ("active", "won")]
    reached = {o["id"]: _reached(ctx, o, statuses) for o in opps}
    rows = []
    for i, stage in enumerate(stages):
        entered = [o for o in opps if stage["id"] in reached[o["id"]]]
        later = {s["id"] for s in stages[i + 1 :]}
        moved = [o for o in entered if reached[o["id"]] & later]
        rows.append(
            {
                "stage_id": stage["id"],
                "stage_label": stage["label"],
                "stage_type": stage["type"],
                "entered": len(entered),
                "entered_value": sum(o.get("value") or 0 for o in entered),
                "in_stage": sum(1 for o in opps if o.get("status_id") == stage["id"]),
                "converted": len(moved),
                "conversion_rate": round(100 * len(moved) / len(entered), 1) if entered and later else None,
            }
        )
    return json_response({"pipeline_id": pipeline["id"], "cohort_size": len(opps), "data": rows})


def funnel_totals(ctx: Ctx) -> Response:
    pipeline, statuses, opps = _funnel_input(ctx)
    kind = {s["id"]: s["type"] for s in statuses}
    by_type = {
        t: [o for o in opps if kind.get(o.get("status_id") or "") == t] for t in ("active", "won", "lost")
    }
    closed = len(by_type["won"]) + len(by_type["lost"])
    totals: Obj = {f"{t}_count": len(v) for t, v in by_type.items()}
    totals.update({f"{t}_value": sum(o.get("value") or 0 for o in v) for t, v in by_type.items()})
    totals.update(
        cohort_size=len(opps), win_rate=round(100 * len(by_type["won"]) / closed, 1) if closed else None
    )
    if len(by_type["won"]):
        totals["average_won_value"] = round(totals["won_value"] / len(by_type["won"]))
    return json_response({"pipeline_id": pipeline["id"], "data": totals})


ACTIVITY_REPORT = Resource(
    "activity_report",
    "Report",
    "/report/activity/",
    "report",
    ops=(),
    events=(),
    routes=(
        Route("/report/activity/", "POST", activity_report),
        Route("/report/activity/metrics/", "GET", list_metrics),
        Route("/report/funnel/opportunity/stages/", "POST", funnel_stages),
        Route("/report/funnel/opportunity/totals/", "POST", funnel_totals),
    ),
)
RESOURCES = (ACTIVITY_REPORT,)
