"""End-to-end cases for the custom_fields tools."""

from __future__ import annotations

from e2e_cases.registry import Call, case


# ----- custom fields --------------------------------------------------------------------------
async def _custom_fields(call: Call, kind: str) -> None:
    page = await call(f"list_{kind}_custom_fields", {})
    assert {f["id"] for f in page["items"]} == set(call.store.custom_fields[kind]) != set()


for _kind in ("lead", "contact", "opportunity"):
    case(f"list_{_kind}_custom_fields", writes=False)(lambda call, kind=_kind: _custom_fields(call, kind))


@case("create_lead_custom_field")
async def _(call: Call) -> None:
    cf = await call("create_lead_custom_field", {"name": "Renewal date", "type": "date"})
    assert call.store.custom_fields["lead"][cf["id"]]["type"] == "date"
