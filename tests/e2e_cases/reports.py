"""End-to-end cases for the report tools: each figure is recomputed from the store."""

from __future__ import annotations

from e2e_cases.registry import BAD_REQUEST, Call, case, close_error, gone, revoked_key, unknown_ref


def org(call: Call) -> str:
    return str(call.store.org["id"])


def sent(call: Call) -> list[dict]:
    return [
        a
        for a in call.store.activities.values()
        if a["_type"] == "Email" and a["direction"] == "outgoing" and a["status"] == "sent"
    ]


@case("list_activity_metrics", writes=False)
async def _(call: Call) -> None:
    keys = {m["key"] for m in (await call("list_activity_metrics", {}))["data"]}
    assert {"calls.all.count", "emails.sent.count", "opportunities.won.sum_value"} <= keys


@case("run_activity_report", writes=False)
async def _(call: Call) -> None:
    args = {
        "type": "overview",
        "relative_range": "all-time",
        "metrics": ["emails.sent.count", "notes.all.count"],
    }
    totals = (await call("run_activity_report", args))["totals"]
    notes = sum(1 for a in call.store.activities.values() if a["_type"] == "Note")
    assert totals == {"emails.sent.count": len(sent(call)), "notes.all.count": notes}


def pipeline_opps(call: Call) -> tuple[str, dict[str, str], list[dict]]:
    pipeline = next(iter(call.store.pipelines.values()))
    kinds = {s["id"]: s["type"] for s in pipeline["statuses"]}
    return pipeline["id"], kinds, [o for o in call.store.opportunities.values() if o["status_id"] in kinds]


@case("run_funnel_stages_report", writes=False)
async def _(call: Call) -> None:
    pipeline, kinds, opps = pipeline_opps(call)
    args = {"pipeline": pipeline, "type": "created-cohort", "report_relative_range": "all-time"}
    stages = (await call("run_funnel_stages_report", args))["data"]
    assert [s["stage_id"] for s in stages] == [s for s, k in kinds.items() if k != "lost"]
    assert {s["stage_id"]: s["in_stage"] for s in stages} == {
        s: sum(1 for o in opps if o["status_id"] == s) for s, k in kinds.items() if k != "lost"
    }


@case("run_funnel_totals_report", writes=False)
async def _(call: Call) -> None:
    pipeline, kinds, opps = pipeline_opps(call)
    args = {"pipeline": pipeline, "type": "created-cohort", "report_relative_range": "all-time"}
    totals = (await call("run_funnel_totals_report", args))["data"]
    won = [o for o in opps if kinds[o["status_id"]] == "won"]
    assert (totals["cohort_size"], totals["won_count"]) == (len(opps), len(won))
    assert totals["won_value"] == sum(o.get("value") or 0 for o in won)


@case("get_sent_emails_report", writes=False)
async def _(call: Call) -> None:
    report = await call("get_sent_emails_report", {"org_id": org(call)})
    assert report["total_sent"] == len(sent(call)) > 0


@case("get_lead_status_report", writes=False)
async def _(call: Call) -> None:
    rows = (await call("get_lead_status_report", {"org_id": org(call)}))["status_overview"]
    leads = list(call.store.leads.values())
    assert {r["status_id"]: r["ended"] for r in rows} == {
        s: sum(1 for lead in leads if lead["status_id"] == s) for s in call.store.lead_statuses
    }


@case("get_opportunity_status_report")
async def _(call: Call) -> None:
    opp = next(iter(call.store.opportunities.values()))
    old = opp["status_id"]
    new = next(s for s in call.store.opportunity_statuses() if s != old)
    args = {"org_id": org(call), "date_start": "2000-01-01", "date_end": "2100-01-01"}

    def moves(report: dict) -> int:  # the seed holds status changes too (activities area)
        return sum(
            t["count"]
            for t in report["status_transitions"]
            if (t["from_status_id"], t["to_status_id"]) == (old, new)
        )

    before = moves(await call("get_opportunity_status_report", args))
    await call("update_opportunity", {"opportunity_id": opp["id"], "status_id": new})
    assert moves(await call("get_opportunity_status_report", args)) == before + 1


@case("list_custom_report_fields", writes=False)
async def _(call: Call) -> None:
    fields = {f["id"]: f for f in (await call("list_custom_report_fields", {}))["data"]}
    assert fields["opportunity.value"]["axes"] == ["y"] and fields["lead.date_created"]["type"] == "date"
    numbers = [f for f in call.store.custom_fields["lead"].values() if f["type"] == "number"]
    assert {f"lead.custom.{f['id']}" for f in numbers} <= set(fields)


@case("run_custom_report", writes=False)
async def _(call: Call) -> None:
    args = {"org_id": org(call), "x": "lead.status_id", "y": "lead.count"}
    rows = (await call("run_custom_report", args))["data"]
    expect: dict[str, int] = {}
    for lead in call.store.leads.values():
        expect[lead["status_id"]] = expect.get(lead["status_id"], 0) + 1
    assert {r["x"]: r["y"] for r in rows} == expect


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
close_error(
    "run_activity_report",
    {"metrics": ["calls.bogus"], "type": "overview", "relative_range": "today"},
    BAD_REQUEST,
    "Unknown metrics: calls.bogus",
)
for _tool in ("run_funnel_stages_report", "run_funnel_totals_report"):
    unknown_ref(
        _tool,
        "pipeline",
        {"pipeline": gone("pipe"), "type": "created-cohort", "report_relative_range": "this-year"},
    )
revoked_key("list_activity_metrics", "list_custom_report_fields")
