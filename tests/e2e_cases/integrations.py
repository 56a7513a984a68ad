"""End-to-end cases for the integrations tools: integration links and forms."""

from __future__ import annotations

from e2e_cases.registry import Call, case, example, not_admin, revoked_key


def _links(call: Call) -> dict:
    return call.store.collection("integration_links")


@case("list_integration_links", writes=False)
async def _(call: Call) -> None:
    page = await call("list_integration_links", {"type": "contact", "limit": 100})
    assert [link["id"] for link in page["items"]] == [
        i for i, link in _links(call).items() if link["type"] == "contact"
    ] and page["count"] == 1


@case("get_integration_link", writes=False)
async def _(call: Call) -> None:
    lid, link = next(iter(_links(call).items()))
    got = await call("get_integration_link", {"integration_link_id": lid})
    assert (got["name"], got["url"], got["type"]) == (link["name"], link["url"], "lead")


@case("create_integration_link")
async def _(call: Call) -> None:
    name = example("create_integration_link", "name")
    url = "https://billing.example/c?id={{ lead.id }}"
    link = await call("create_integration_link", {"name": name, "url": url, "type": "lead"})
    stored = _links(call)[link["id"]]
    assert (stored["name"], stored["url"], stored["type"]) == ("Open in Billing", url, "lead")


@case("update_integration_link")
async def _(call: Call) -> None:
    lid = next(iter(_links(call)))
    await call("update_integration_link", {"integration_link_id": lid, "name": "Billing"})
    assert _links(call)[lid]["name"] == "Billing"


@case("delete_integration_link")
async def _(call: Call) -> None:
    lid = next(iter(_links(call)))
    await call("delete_integration_link", {"integration_link_id": lid})
    assert lid not in _links(call)


@case("list_forms", writes=False)
async def _(call: Call) -> None:
    page = await call("list_forms", {"limit": 100})
    assert [f["name"] for f in page["items"]] == ["Website contact form", "Demo request"]


@case("get_form", writes=False)
async def _(call: Call) -> None:
    fid, form = next(iter(call.store.collection("forms").items()))
    got = await call("get_form", {"form_id": fid})
    assert got["name"] == form["name"] and [f["label"] for f in got["fields"]] == [
        "Name",
        "Email",
        "Company",
        "Message",
    ]


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
not_admin(
    "create_integration_link",
    {"name": "Billing", "url": "https://billing.example/c?id={{ lead.id }}", "type": "lead"},
)
revoked_key("list_forms", "list_integration_links")
