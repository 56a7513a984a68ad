"""How stored sandbox objects are returned: Close's derived and embedded fields."""

from __future__ import annotations

import copy
from datetime import date

from close_mcp.sandbox.store import Obj, OrgStore

_PERIOD_FACTOR = {"one_time": 1, "monthly": 12, "annual": 1}


def _user_name(store: OrgStore, user_id: str | None) -> str | None:
    user = store.users.get(user_id or "")
    return f"{user['first_name']} {user['last_name']}" if user else None


def format_money(cents: int | None, period: str | None, symbol: str) -> str | None:
    if cents is None:
        return None
    amount = cents / 100
    text = f"{symbol}{amount:,.0f}" if amount == int(amount) else f"{symbol}{amount:,.2f}"
    return text if period in (None, "one_time") else f"{text} {period}"


def contact_view(store: OrgStore, contact: Obj) -> Obj:
    out = copy.deepcopy(contact)
    out["display_name"] = contact.get("name") or ""
    return out


def opportunity_view(store: OrgStore, opp: Obj) -> Obj:
    out = copy.deepcopy(opp)
    status = store.opportunity_statuses().get(opp.get("status_id") or "", {})
    pipeline = store.pipelines.get(status.get("pipeline_id", ""), {})
    lead = store.leads.get(opp["lead_id"], {})
    contact = store.contacts.get(opp.get("contact_id") or "", {})
    value, confidence = opp.get("value"), opp.get("confidence") or 0
    period = opp.get("value_period") or "one_time"
    out.update(
        lead_name=lead.get("name"),
        status_label=status.get("label"),
        status_type=status.get("type"),
        status_display_name=status.get("label"),
        pipeline_id=pipeline.get("id"),
        pipeline_name=pipeline.get("name"),
        value_currency=store.org["currency"],
        value_formatted=format_money(value, period, store.org["currency_symbol"]),
        expected_value=None if value is None else round(value * confidence / 100),
        annualized_value=None if value is None else value * _PERIOD_FACTOR.get(period, 1),
        contact_name=contact.get("name"),
        user_name=_user_name(store, opp.get("user_id")),
    )
    if out["annualized_value"] is not None:
        out["annualized_expected_value"] = round(out["annualized_value"] * confidence / 100)
    return out


def task_view(store: OrgStore, task: Obj) -> Obj:
    out = copy.deepcopy(task)
    lead = store.leads.get(task["lead_id"], {})
    contact = store.contacts.get(task.get("contact_id") or "", {})
    due = (task.get("date") or "")[:10]
    today = date.today().isoformat()
    view = "archive" if task.get("is_complete") else ("future" if due and due > today else "inbox")
    out.update(
        lead_name=lead.get("name"),
        assigned_to_name=_user_name(store, task.get("assigned_to")),
        contact_name=contact.get("name"),
        is_dateless=not task.get("date"),
        due_date=due or None,
        view=view,
    )
    return out


def activity_view(store: OrgStore, activity: Obj) -> Obj:
    out = copy.deepcopy(activity)
    out["user_name"] = _user_name(store, activity.get("user_id"))
    return out


def lead_view(store: OrgStore, lead: Obj) -> Obj:
    out = copy.deepcopy(lead)
    children = store.children_of(lead["id"])
    contacts = [contact_view(store, c) for c in children["contacts"]]
    status = store.lead_statuses.get(lead.get("status_id") or "", {})
    emails = [e["email"] for c in contacts for e in c.get("emails", [])]
    phones = [p["phone"] for c in contacts for p in c.get("phones", [])]
    out.update(
        display_name=lead.get("name") or (contacts[0]["name"] if contacts else "Untitled"),
        status_label=status.get("label"),
        html_url=f"https://app.close.com/lead/{lead['id']}/",
        contacts=contacts,
        contact_ids=[c["id"] for c in contacts],
        opportunities=[opportunity_view(store, o) for o in children["opportunities"]],
        tasks=[task_view(store, t) for t in children["tasks"] if not t.get("is_complete")],
        primary_email=emails[0] if emails else None,
        primary_phone=phones[0] if phones else None,
        contacts_summary=", ".join(c["name"] for c in contacts if c.get("name")) or None,
    )
    return out


def user_view(store: OrgStore, user: Obj) -> Obj:
    out = copy.deepcopy(user)
    out["organizations"] = [store.org["id"]]
    return out


def organization_view(store: OrgStore) -> Obj:
    out = copy.deepcopy(store.org)
    out["lead_statuses"] = [{"id": s["id"], "label": s["label"]} for s in store.lead_statuses.values()]
    out["pipelines"] = copy.deepcopy(list(store.pipelines.values()))
    out["memberships"] = [
        {
            "id": u["membership_id"],
            "user_id": u["id"],
            "user_email": u["email"],
            "user_full_name": _user_name(store, u["id"]),
            "role_id": u["role_id"],
        }
        for u in store.users.values()
    ]
    return out
