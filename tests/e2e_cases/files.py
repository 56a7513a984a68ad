"""End-to-end cases for the file upload and field enrichment tools."""

from __future__ import annotations

from e2e_cases.registry import Call, case, gone, revoked_key, unknown_ref


@case("upload_file")
async def _(call: Call) -> None:
    answer = await call("upload_file", {"filename": "proposal.pdf", "content_type": "application/pdf"})
    record = call.store.collection("sandbox_uploads")[answer["upload"]["fields"]["key"]]
    assert record["filename"] == "proposal.pdf" and answer["download"]["url"].endswith("/proposal.pdf")


@case("enrich_field")
async def _(call: Call) -> None:
    store = call.store
    field = next(f for f in store.custom_fields["lead"].values() if f["type"] == "number")
    lead_id = next(iter(store.leads))
    args = {
        "organization_id": store.org["id"],
        "object_type": "lead",
        "object_id": lead_id,
        "field_id": field["id"],
    }
    answer = await call("enrich_field", {**args, "overwrite_existing_value": True})
    assert answer["sandbox"] is True and store.leads[lead_id][f"custom.{field['id']}"] == answer["value"]


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
unknown_ref(
    "enrich_field",
    "field_id",
    lambda store: {
        "organization_id": store.org["id"],
        "object_type": "lead",
        "object_id": next(iter(store.leads)),
        "field_id": gone("cf"),
    },
)
revoked_key("upload_file", args={"filename": "proposal.pdf", "content_type": "application/pdf"})
