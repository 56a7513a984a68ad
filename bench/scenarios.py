"""Nine everyday sales-ops tasks played as an agent would, through a real MCP client on the sandbox,
counting tool calls and the characters of tool output read (issue 15's measure).

    python -m bench.scenarios          # prints one row per task and the totals against the goals

``tests/test_scenarios.py`` plays the same tasks and asserts the call counts and exactness.
Before the tasks, colleagues make a few dozen changes through the REST API (not counted), so
"what changed in the last hour" has something to say.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2
from mcp import Client

from close_mcp.app import Upstream, open_local_app
from close_mcp.credentials import Credential
from close_mcp.manifest import load_manifests
from close_mcp.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from close_mcp.settings import Settings

TOTAL_CALLS_GOAL = 15
TOTAL_CHARS_GOAL = 15_000
CHANGES_GOAL_CHARS = 4_000


@dataclass
class Played:
    """One task: what it cost and whether its answer was right."""

    name: str
    goal_calls: int | None
    calls: int = 0
    chars: int = 0
    exact: bool = False
    answer: Any = None
    notes: list[str] = field(default_factory=list)


class Agent:
    """Calls tools as the agent would and counts every call and every character it reads."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.task: Played | None = None

    async def __call__(self, tool: str, args: dict[str, Any]) -> tuple[Any, str, bool]:
        result = await self.client.call_tool(tool, args)
        text = "".join(getattr(c, "text", "") for c in result.content)
        assert self.task is not None
        self.task.calls += 1
        self.task.chars += len(text)
        data = result.structured_content
        if data is None and not result.is_error:  # the default result form: the JSON is the text
            data = json.loads(text)
        return data, text, bool(result.is_error)


def _label(store: Any, status_id: str) -> str:
    return str(store.opportunity_statuses()[status_id]["label"])


def _pipeline_of(store: Any, status_id: str) -> str:
    return str(store.opportunity_statuses()[status_id]["pipeline_id"])


async def colleagues_change_things(sandbox: RunningSandbox, n: int = 24) -> None:
    """Changes made in the last hour by someone else (REST, not counted): lead descriptions, new
    tasks, deal confidence."""
    store = sandbox.sandbox.store()
    leads = list(store.leads)[:8]
    deals = list(store.opportunities)[:8]
    async with httpx2.AsyncClient(base_url=sandbox.base_url, auth=(sandbox.api_key, "")) as http:
        for i in range(n):
            kind = i % 3
            if kind == 0:
                r = await http.put(f"/lead/{leads[i % 8]}/", json={"description": f"Reviewed ({i})."})
            elif kind == 1:
                r = await http.post("/task/", json={"lead_id": leads[i % 8], "text": f"Follow up {i}"})
            else:
                r = await http.put(f"/opportunity/{deals[i % 8]}/", json={"confidence": 10 + i})
            r.raise_for_status()


def _pick_lead(store: Any) -> str:
    """A lead with contacts, an open task and an open opportunity in the Sales pipeline."""
    sales = next(p["id"] for p in store.pipelines.values() if p["name"] == "Sales")
    for lead_id in store.leads:
        kids = store.children_of(lead_id)
        open_sales = [
            o
            for o in kids["opportunities"]
            if store.opportunity_statuses()[o["status_id"]]["type"] == "active"
            and _pipeline_of(store, o["status_id"]) == sales
        ]
        if kids["contacts"] and open_sales and any(not t.get("is_complete") for t in kids["tasks"]):
            return str(lead_id)
    raise LookupError("no seeded lead with contacts, open task and open Sales deal")


async def play(client: Client, sandbox: RunningSandbox) -> list[Played]:
    store = sandbox.sandbox.store()
    agent = Agent(client)
    played: list[Played] = []
    today = datetime.now(UTC).date().isoformat()

    def start(name: str, goal: int | None) -> Played:
        agent.task = Played(name, goal)
        played.append(agent.task)
        return agent.task

    # 1. a lead by company name with its contacts, open opportunities and open tasks
    lead_id = _pick_lead(store)
    lead = store.leads[lead_id]
    task = start("lead by company name: contacts, open deals, open tasks", 1)
    overview, _, _ = await agent("get_lead_overview", {"lead": lead["name"]})
    kids = store.children_of(lead_id)
    open_deals = {
        o["id"]
        for o in kids["opportunities"]
        if store.opportunity_statuses()[o["status_id"]]["type"] == "active"
    }
    task.exact = (
        overview["id"] == lead_id
        and {c["id"] for c in overview["contacts"]} == {c["id"] for c in kids["contacts"]}
        and {o["id"] for o in overview.get("open_opportunities", [])} == open_deals
        and {t["id"] for t in overview.get("open_tasks", [])}
        == {t["id"] for t in kids["tasks"] if not t.get("is_complete")}
    )

    # 2. move that lead's Sales deal to "Won", by name
    deal = next(
        o for o in overview["open_opportunities"] if o.get("pipeline_name") == "Sales"
    )  # read in task 1
    task = start('move a deal to "Won" by name', 1)
    moved, _, error = await agent("update_opportunity", {"opportunity_id": deal["id"], "status": "Won"})
    now = store.opportunities[deal["id"]]
    task.exact = (
        not error
        and _label(store, now["status_id"]) == "Won"
        and "pipeline_id" not in moved["changes"]["fields"]
    )

    # 3. leads in a status with a custom-field value, exactly
    task = start("leads by status and custom-field value", 1)
    found, _, _ = await agent(
        "search_leads", {"status": "Qualified", "custom": {"Industry": "Software"}, "page_size": 50}
    )
    industry = next(c for c, cf in store.custom_fields["lead"].items() if cf["name"] == "Industry")
    qualified = next(s for s, v in store.lead_statuses.items() if v["label"] == "Qualified")
    expected = {
        i
        for i, lead in store.leads.items()
        if lead["status_id"] == qualified and lead.get(f"custom.{industry}") == "Software"
    }
    task.exact = {i["id"] for i in found["items"]} == expected and found["total_results"] == len(expected)

    # 4. what changed in the last hour, readable with names
    task = start("what changed in the last hour", 1)
    changes, text, _ = await agent("list_recent_changes", {})
    users = {f"{u['first_name']} {u['last_name']}" for u in store.users.values()}
    lines = [line for group in changes.get("by_lead", {}).values() for line in group]
    task.exact = (
        bool(lines)
        and all(any(u in line for u in users) for line in lines)
        and len(text) < CHANGES_GOAL_CHARS
    )
    task.answer = changes.get("count")

    # 5. my work today
    task = start("my work today", 1)
    me = next(iter(store.users))  # the demo key's user
    work, _, _ = await agent("get_my_work_today", {})
    mine = [t for t in store.tasks.values() if t.get("assigned_to") == me and not t.get("is_complete")]
    overdue = {t["id"] for t in mine if str(t.get("date") or "9")[:10] < today}
    due = {t["id"] for t in mine if str(t.get("date") or "")[:10] == today}
    task.exact = bool(overdue) and {t["id"] for t in work.get("overdue", [])} == overdue
    task.exact = task.exact and {t["id"] for t in work.get("due_today", [])} == due

    # 6. complete my overdue tasks: preview, then confirm
    task = start("complete my overdue tasks (preview, confirm)", 2)
    bulk = {
        "filter_assigned_to": "me",
        "filter_is_complete": False,
        "filter_date_lt": today,
        "is_complete": True,
    }
    _, preview, refused = await agent("bulk_update_tasks", bulk)
    done, _, error = await agent("bulk_update_tasks", {**bulk, "confirm": True})
    task.exact = (
        refused
        and f"{len(overdue)} objects match" in preview
        and not error
        and set(done["ids"]) == overdue
        and all(store.tasks[t]["is_complete"] for t in overdue)
    )

    # 7. pipeline figures per status
    task = start("pipeline figures per status", 1)
    figures, _, _ = await agent("get_pipeline_figures", {})
    labels = {s["label"] for s in store.opportunity_statuses().values()}
    task.exact = {r["status_label"] for r in figures["opportunities"]["status_overview"]} == labels

    # 8. a colleague's deals in negotiation, biggest first
    task = start("Marco's deals in Negotiation, biggest first", 1)
    deals, _, _ = await agent(
        "search_opportunities",
        {"owner": "marco@acme-demo.example", "status": "Negotiation", "sort": "-value", "page_size": 50},
    )
    marco = next(u for u, v in store.users.items() if v["first_name"] == "Marco")
    want = [
        o
        for o in store.opportunities.values()
        if o.get("user_id") == marco and _label(store, o["status_id"]) == "Negotiation"
    ]
    got = [store.opportunities[i["id"]]["value"] for i in deals.get("items", [])]
    task.exact = {i["id"] for i in deals.get("items", [])} == {o["id"] for o in want} and got == sorted(
        got, reverse=True
    )

    # 9. whose email address is this? (the lead it belongs to)
    contact = next(c for c in store.contacts.values() if c.get("emails"))
    email = contact["emails"][0]["email"]
    task = start("which lead an email address belongs to", 1)
    owners, _, _ = await agent("search_leads", {"text": email, "page_size": 5})
    task.exact = [i["id"] for i in owners.get("items", [])] == [contact["lead_id"]]
    return played


def settings() -> Settings:
    """What a user gets without flags: the default toolset, the default output budget."""
    return replace(Settings.load(environ={}), sandbox=True)


async def run_all(make_settings: Callable[[], Settings] = settings) -> list[Played]:
    async with run_sandbox(SandboxConfig()) as sandbox:
        await colleagues_change_things(sandbox)
        upstream = Upstream(sandbox.base_url, Credential(sandbox.api_key))
        async with (
            open_local_app(make_settings(), upstream, specs=load_manifests()) as app,
            Client(app.server, mode="legacy") as client,
        ):
            return await play(client, sandbox)


def report(played: list[Played], out: Callable[[str], Any] = print) -> dict[str, Any]:
    out(f"{'task':<58} {'calls':>5} {'goal':>4} {'chars':>7}  exact")
    for p in played:
        goal = "" if p.goal_calls is None else str(p.goal_calls)
        out(f"{p.name:<58} {p.calls:>5} {goal:>4} {p.chars:>7}  {'yes' if p.exact else 'NO'}")
    calls, chars = sum(p.calls for p in played), sum(p.chars for p in played)
    out(
        f"{'all nine':<58} {calls:>5} {TOTAL_CALLS_GOAL:>4} {chars:>7}  (goal: < {TOTAL_CALLS_GOAL} calls, < {TOTAL_CHARS_GOAL} chars)"
    )
    return {
        "tasks": [{"name": p.name, "calls": p.calls, "chars": p.chars, "exact": p.exact} for p in played],
        "calls": calls,
        "chars": chars,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    played = anyio.run(run_all)
    figures = report(played)
    if args.json:
        print(json.dumps(figures, indent=1))
    ok = (
        all(p.exact for p in played)
        and figures["calls"] < TOTAL_CALLS_GOAL
        and figures["chars"] < TOTAL_CHARS_GOAL
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
