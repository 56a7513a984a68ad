"""End-to-end cases for the pipelines tools: lead statuses, pipelines, opportunity statuses, outcomes."""

from __future__ import annotations

from e2e_cases.registry import Call, case, example, gone, not_admin, revoked_key, unknown_ref


def _outcomes(call: Call) -> dict:
    return call.store.collection("outcomes")


# ----- lead statuses ----------------------------------------------------------------------------
@case("get_lead_status", writes=False)
async def _(call: Call) -> None:
    sid, status = next(iter(call.store.lead_statuses.items()))
    assert await call("get_lead_status", {"lead_status_id": sid}) == status


@case("create_lead_status")
async def _(call: Call) -> None:
    label = example("create_lead_status", "label")
    status = await call("create_lead_status", {"label": label})
    assert call.store.lead_statuses[status["id"]] == {"id": status["id"], "label": "Nurturing"}


@case("update_lead_status")
async def _(call: Call) -> None:
    sid = next(iter(call.store.lead_statuses))
    await call("update_lead_status", {"lead_status_id": sid, "label": "Warm"})
    assert call.store.lead_statuses[sid]["label"] == "Warm"


@case("delete_lead_status")
async def _(call: Call) -> None:
    sid = list(call.store.lead_statuses)[-1]
    await call("delete_lead_status", {"lead_status_id": sid})
    assert sid not in call.store.lead_statuses


# ----- pipelines --------------------------------------------------------------------------------
@case("get_pipeline", writes=False)
async def _(call: Call) -> None:
    pid, pipeline = next(iter(call.store.pipelines.items()))
    got = await call("get_pipeline", {"pipeline_id": pid})
    assert got["name"] == pipeline["name"] == "Sales"
    assert [s["id"] for s in got["statuses"]] == [s["id"] for s in pipeline["statuses"]]


@case("create_pipeline")
async def _(call: Call) -> None:
    pipeline = await call("create_pipeline", {"name": example("create_pipeline", "name")})
    stored = call.store.pipelines[pipeline["id"]]
    assert stored["name"] == "Partnerships" and stored["statuses"] == []


@case("update_pipeline")
async def _(call: Call) -> None:
    pid = next(iter(call.store.pipelines))
    await call("update_pipeline", {"pipeline_id": pid, "name": "New Business"})
    assert call.store.pipelines[pid]["name"] == "New Business"


@case("delete_pipeline")
async def _(call: Call) -> None:
    pipeline = await call("create_pipeline", {"name": "Short-lived"})
    await call("delete_pipeline", {"pipeline_id": pipeline["id"]})
    assert pipeline["id"] not in call.store.pipelines and len(call.store.pipelines) == 2


# ----- opportunity statuses ---------------------------------------------------------------------
@case("list_opportunity_statuses", writes=False)
async def _(call: Call) -> None:
    pid, pipeline = list(call.store.pipelines.items())[1]
    page = await call("list_opportunity_statuses", {"pipeline_id": pid, "limit": 100})
    assert [s["id"] for s in page["items"]] == [s["id"] for s in pipeline["statuses"]]
    won = await call("list_opportunity_statuses", {"status_type": "won", "limit": 100})
    assert sorted(s["label"] for s in won["items"]) == ["Renewed", "Won"]


@case("get_opportunity_status", writes=False)
async def _(call: Call) -> None:
    sid, status = next(iter(call.store.opportunity_statuses().items()))
    got = await call("get_opportunity_status", {"opportunity_status_id": sid})
    assert (got["label"], got["status_type"], got["pipeline_id"]) == (
        status["label"],
        status["type"],
        status["pipeline_id"],
    )


@case("create_opportunity_status")
async def _(call: Call) -> None:
    pid = list(call.store.pipelines)[1]
    label = example("create_opportunity_status", "label")
    status = await call(
        "create_opportunity_status", {"label": label, "status_type": "active", "pipeline_id": pid}
    )
    assert call.store.pipelines[pid]["statuses"][-1] == {
        "id": status["id"],
        "label": "Contract Sent",
        "type": "active",
        "pipeline_id": pid,
    }


@case("update_opportunity_status")
async def _(call: Call) -> None:
    sid = next(iter(call.store.opportunity_statuses()))
    await call("update_opportunity_status", {"opportunity_status_id": sid, "label": "Discovery"})
    assert call.store.opportunity_statuses()[sid]["label"] == "Discovery"


@case("delete_opportunity_status")
async def _(call: Call) -> None:
    created = await call("create_opportunity_status", {"label": "Unused", "status_type": "lost"})
    sid = created["id"]  # every seeded status has opportunities, which Close would refuse
    await call("delete_opportunity_status", {"opportunity_status_id": sid})
    assert sid not in call.store.opportunity_statuses()


# ----- outcomes ---------------------------------------------------------------------------------
@case("list_outcomes", writes=False)
async def _(call: Call) -> None:
    page = await call("list_outcomes", {"type": "custom", "limit": 100})
    expected = [o["id"] for o in _outcomes(call).values() if o["type"] == "custom"]
    assert [o["id"] for o in page["items"]] == expected and len(expected) == 3


@case("get_outcome", writes=False)
async def _(call: Call) -> None:
    oid, outcome = next(iter(_outcomes(call).items()))
    got = await call("get_outcome", {"outcome_id": oid})
    assert got["name"] == outcome["name"] == "Interested" and got["applies_to"] == ["calls", "meetings"]


@case("create_outcome")
async def _(call: Call) -> None:
    name = example("create_outcome", "name")
    outcome = await call("create_outcome", {"name": name, "type": "vm-dropped"})
    stored = _outcomes(call)[outcome["id"]]
    assert (stored["name"], stored["type"], stored["applies_to"]) == (
        "Asked for pricing",
        "vm-dropped",
        ["calls"],
    )


@case("update_outcome")
async def _(call: Call) -> None:
    oid = next(iter(_outcomes(call)))
    await call("update_outcome", {"outcome_id": oid, "description": "Wants a demo next week."})
    assert _outcomes(call)[oid]["description"] == "Wants a demo next week."


@case("delete_outcome")
async def _(call: Call) -> None:
    oid = next(iter(_outcomes(call)))
    await call("delete_outcome", {"outcome_id": oid})
    assert oid not in _outcomes(call)


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
not_admin("create_lead_status", {"label": "Nurturing"})
unknown_ref(
    "create_opportunity_status",
    "pipeline",
    {"label": "Contract Sent", "status_type": "active", "pipeline_id": gone("pipe")},
)
not_admin("create_outcome", {"name": "Asked for pricing"})
not_admin("create_pipeline", {"name": "Partnerships"})
revoked_key("list_opportunity_statuses", "list_outcomes")
