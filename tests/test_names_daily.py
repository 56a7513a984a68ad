"""The composite daily answers: a lead found by company name (ambiguity lists the candidates), my work
today for me or a colleague by name, what changed grouped by lead with user names, pipeline figures
with statuses by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import connect, payload, text_of

pytestmark = pytest.mark.anyio


async def test_a_lead_by_name_id_or_ambiguous_name(shared_sandbox: Any) -> None:
    store = shared_sandbox.sandbox.store()
    novas = sorted(lead["name"] for lead in store.leads.values() if lead["name"].split()[0] == "Nova")
    some = next(iter(store.leads.values()))
    async with connect(shared_sandbox) as client:
        several = await client.call_tool("get_lead_overview", {"lead": "Nova"})
        nothing = await client.call_tool("get_lead_overview", {"lead": "Zzyzx Unheard Of"})
        by_id = await client.call_tool("get_lead_overview", {"lead": some["id"]})
        exact = await client.call_tool("get_lead_overview", {"lead": some["name"].upper()})
    assert len(novas) > 1 and several.is_error
    shown = text_of(several).split("matches several: ")[1].split(". Pass")[0]
    assert shown.count("= lead_") == min(10, len(novas))
    assert all(n.split(" = ")[0] in novas for n in shown.split(" and more")[0].split("; "))
    assert ("and more" in shown) == (len(novas) > 10)
    assert nothing.is_error and "no lead matches 'Zzyzx Unheard Of'" in text_of(nothing)
    assert payload(by_id)["id"] == some["id"] == payload(exact)["id"]


async def test_my_work_today_for_a_colleague_by_name(shared_sandbox: Any) -> None:
    store = shared_sandbox.sandbox.store()
    marco = next(u for u in store.users.values() if u["first_name"] == "Marco")
    today = datetime.now(UTC).date().isoformat()
    overdue = {
        t["id"]
        for t in store.tasks.values()
        if t.get("assigned_to") == marco["id"]
        and not t.get("is_complete")
        and str(t.get("date") or "9") < today
    }
    async with connect(shared_sandbox) as client:
        work = await client.call_tool("get_my_work_today", {"user": "marco bellini"})
        typo = await client.call_tool("get_my_work_today", {"user": "Marko"})
    assert {t["id"] for t in payload(work).get("overdue", [])} == overdue and overdue
    assert typo.is_error and "did you mean 'Marco Bellini'?" in text_of(typo)


async def test_what_changed_is_grouped_by_lead_with_names(sandbox: Any, http: Any) -> None:
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    for n in range(3):
        (await http.put(f"/lead/{lead_id}/", json={"description": f"v{n}"})).raise_for_status()
    (await http.post("/lead/", json={"name": "Brand New Co"})).raise_for_status()
    (await http.delete(f"/lead/{next(i for i in store.leads if i != lead_id)}/")).raise_for_status()
    me = next(iter(store.users.values()))
    async with connect(sandbox) as client:
        changed = payload(await client.call_tool("list_recent_changes", {}))
        since = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
        none = payload(await client.call_tool("list_recent_changes", {"since": since}))
    groups = changed["by_lead"]
    ours = next(lines for key, lines in groups.items() if key.startswith(store.leads[lead_id]["name"]))
    assert len(ours) == 3 and all(
        f"{me['first_name']} {me['last_name']}: updated lead" in line for line in ours
    )
    assert any(key.startswith("Brand New Co") for key in groups)
    assert any(key.startswith("lead_") for key in groups)  # deleted since: named by its ID
    assert changed["count"] == sum(len(lines) for lines in groups.values()) >= 5
    assert none["count"] == 0


async def test_pipeline_figures_name_statuses_for_one_user(shared_sandbox: Any) -> None:
    async with connect(shared_sandbox) as client:
        figures = payload(
            await client.call_tool(
                "get_pipeline_figures", {"user": "me", "date_start": "2026-01-01", "date_end": "2026-12-31"}
            )
        )["opportunities"]
    assert figures["status_overview"] and all("status_id" not in row for row in figures["status_overview"])
    assert all(not str(t["from_status"]).startswith("stat_") for t in figures["status_transitions"])
