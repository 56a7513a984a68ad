"""End-to-end cases for the opportunities tools."""

from __future__ import annotations

from e2e_cases.registry import Call, case, example, gone, revoked_key, unknown_ref


# ----- opportunities --------------------------------------------------------------------------
@case("list_opportunities", writes=False)
async def _(call: Call) -> None:
    statuses = call.store.opportunity_statuses()
    active = sum(1 for o in call.store.opportunities.values() if statuses[o["status_id"]]["type"] == "active")
    page = await call("list_opportunities", {"status_type": "active", "limit": 100})
    assert active > 0 and page["total_results"] == active
    assert page["summary"]["count_by_value_period"]


@case("get_opportunity", writes=False)
async def _(call: Call) -> None:
    opp_id = next(iter(call.store.opportunities))
    assert (await call("get_opportunity", {"opportunity_id": opp_id}))["id"] == opp_id


@case("create_opportunity")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    value = example("create_opportunity", "value")
    opp = await call("create_opportunity", {"lead_id": lead_id, "value": value, "confidence": 50})
    assert call.store.opportunities[opp["id"]]["value"] == value == 250000


@case("update_opportunity")
async def _(call: Call) -> None:
    statuses = call.store.opportunity_statuses()
    opp_id = next(
        o["id"] for o in call.store.opportunities.values() if statuses[o["status_id"]]["type"] == "active"
    )
    status = statuses[call.store.opportunities[opp_id]["status_id"]]
    won = next(s for s in call.store.pipelines[status["pipeline_id"]]["statuses"] if s["type"] == "won")
    await call("update_opportunity", {"opportunity_id": opp_id, "status_id": won["id"]})
    stored = call.store.opportunities[opp_id]
    assert stored["status_id"] == won["id"] and stored["date_won"]


@case("delete_opportunity")
async def _(call: Call) -> None:
    opp_id = next(iter(call.store.opportunities))
    await call("delete_opportunity", {"opportunity_id": opp_id})
    assert opp_id not in call.store.opportunities


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
unknown_ref("create_opportunity", "lead", {"lead_id": gone("lead")})
revoked_key("list_opportunities")
