"""End-to-end cases for the export tools."""

from __future__ import annotations

from e2e_cases.registry import BAD_REQUEST, Call, case, close_error, revoked_key


@case("list_exports", writes=False)
async def _(call: Call) -> None:
    page = await call("list_exports", {})
    assert {e["id"] for e in page["items"]} == set(call.store.collection("exports")) != set()


@case("get_export")
async def _(call: Call) -> None:
    export_id = next(e["id"] for e in call.store.collection("exports").values() if e["object_type"] == "lead")
    export = await call("get_export", {"export_id": export_id})
    assert export["status"] == "done" and export["download_url"].endswith(f"/export/{export_id}/download/")


@case("export_leads")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    query = {
        "type": "and",
        "queries": [{"type": "object_type", "object_type": "lead"}, {"type": "id", "value": lead_id}],
    }
    job = await call("export_leads", {"s_query": query, "format": "csv", "columns": ["id", "name"]})
    stored = call.store.collection("exports")[job["id"]]
    assert (
        stored["status"] == "created"
        and stored["_lead_ids"] == [lead_id]
        and stored["fields"] == ["id", "name"]
    )


@case("export_opportunities")
async def _(call: Call) -> None:
    job = await call("export_opportunities", {"params": {"status_type": "won"}, "format": "json"})
    stored = call.store.collection("exports")[job["id"]]
    assert stored["object_type"] == "opportunity" and stored["_params"] == {"status_type": "won"}


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
close_error("export_leads", {"s_query": {"type": "and", "queries": []}}, BAD_REQUEST, "object_type clause")
revoked_key("export_opportunities", "list_exports")
