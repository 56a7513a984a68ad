"""A small, realistic organisation for the search tests, plus query-building helpers.

The clock is fixed at 2026-06-15 12:00 UTC so relative dates are deterministic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from close_mcp.sandbox.search import CustomField, DictSearchData, SearchError

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
ME, BOB = "user_me", "user_bob"
POTENTIAL, QUALIFIED, CUSTOMER, BAD_FIT = "stat_potential", "stat_qualified", "stat_customer", "stat_badfit"
DEMO, WON, LOST = "stat_o_demo", "stat_o_won", "stat_o_lost"


def _lead(n: int, name: str, status: str, created: str, updated: str, **extra: Any) -> dict[str, Any]:
    labels = {POTENTIAL: "Potential", QUALIFIED: "Qualified", CUSTOMER: "Customer", BAD_FIT: "Bad Fit"}
    return {
        "id": f"lead_{n:02d}",
        "name": name,
        "display_name": name,
        "description": extra.pop("description", ""),
        "url": extra.pop("url", None),
        "status_id": status,
        "status_label": labels[status],
        "date_created": created,
        "date_updated": updated,
        "created_by": extra.pop("created_by", ME),
        "addresses": extra.pop("addresses", []),
        **{f"custom.{k}": v for k, v in extra.items()},
    }


LEADS = [
    _lead(1, "Acme Software", POTENTIAL, "2026-01-10T09:00:00+00:00", "2026-06-14T10:00:00+00:00",
          description="Rocket skates and anvils", url="https://acme.com", cf_industry="Software",
          cf_employees=50, cf_founded="2010-03-01", cf_owner=ME, cf_champion="cont_01",
          addresses=[{"city": "Phoenix", "country": "US"}]),
    _lead(2, "Globex Corporation", QUALIFIED, "2026-02-01T08:00:00+00:00", "2026-06-15T10:30:00+00:00",
          cf_industry="Retail", cf_employees=1200, cf_founded="1989-07-04", cf_owner=BOB,
          cf_last_sync="2026-06-15T11:00:00+00:00", created_by=BOB),
    _lead(3, "Initech", CUSTOMER, "2025-11-20T12:00:00+00:00", "2026-05-01T12:00:00+00:00",
          cf_industry="Software", cf_employees=300, description="TPS reports"),
    _lead(4, "Umbrella Health", BAD_FIT, "2026-06-14T15:00:00+00:00", "2026-06-14T15:00:00+00:00",
          cf_industry="Healthcare", cf_employees=5000),
    _lead(5, "Hooli", POTENTIAL, "2026-03-03T10:00:00+00:00", "2026-04-01T10:00:00+00:00"),
    _lead(6, "Stark Industries", QUALIFIED, "2026-04-04T10:00:00+00:00", "2026-06-10T10:00:00+00:00",
          cf_industry="Air Conditioning", cf_employees=800),
    _lead(7, "Wayne Enterprises", CUSTOMER, "2025-12-01T10:00:00+00:00", "2026-06-01T10:00:00+00:00"),
    _lead(8, "Cyberdyne Systems", POTENTIAL, "2026-05-05T10:00:00+00:00", "2026-05-05T10:00:00+00:00"),
    _lead(9, "Soylent Foods", QUALIFIED, "2026-05-20T10:00:00+00:00", "2026-05-21T10:00:00+00:00"),
    _lead(10, "Tyrell Corp", POTENTIAL, "2026-06-01T10:00:00+00:00", "2026-06-02T10:00:00+00:00"),
    _lead(11, "Wonka Industries", CUSTOMER, "2026-02-14T10:00:00+00:00", "2026-03-01T10:00:00+00:00",
          cf_tags=["chocolate", "vip"]),
    _lead(12, "Massive Dynamic", BAD_FIT, "2026-06-15T09:00:00+00:00", "2026-06-15T09:00:00+00:00"),
]  # fmt: skip


def _contact(
    n: int, lead: int, name: str, title: str, emails: list[str], phones: list[str], **custom: Any
) -> dict[str, Any]:
    return {
        "id": f"cont_{n:02d}",
        "lead_id": f"lead_{lead:02d}",
        "name": name,
        "display_name": name,
        "title": title,
        "emails": [{"email": e, "type": "office"} for e in emails],
        "phones": [{"phone": p, "type": "office"} for p in phones],
        "urls": [],
        "date_created": f"2026-0{1 + n % 6}-0{1 + n % 8}T10:00:00+00:00",
        "date_updated": "2026-06-01T10:00:00+00:00",
        **{f"custom.{k}": v for k, v in custom.items()},
    }


CONTACTS = [
    _contact(1, 1, "Jane Doe", "CEO", ["jane@acme.com"], ["+1 415-555-0101"]),
    _contact(2, 1, "Wile E. Coyote", "Head of Procurement", ["wile@acme.com"], []),
    _contact(3, 2, "Hank Scorpio", "CEO and Founder", ["hank@globex.com"], ["+1 (212) 555-0199"]),
    _contact(4, 3, "Peter Gibbons", "Software Engineer", ["peter@initech.io"], []),
    _contact(5, 4, "Alice Abernathy", "Chief Medical Officer", [], ["+44 20 7946 0958"]),
    _contact(6, 5, "Gavin Belson", "CEO", ["gavin@hooli.xyz"], []),
    _contact(7, 6, "Pepper Potts", "COO", ["pepper@stark.com"], [], cf_linkedin="pepperpotts"),
    _contact(8, 7, "Lucius Fox", "CTO", ["lucius@wayne.com"], []),
    _contact(9, 9, "Sol Green", "Chief Executive Officer", [], []),
    _contact(10, 10, "Rachael Rosen", "Replicant Liaison", ["rachael@tyrell.com"], []),
    _contact(11, 11, "Charlie Bucket", "Heir", ["charlie@wonka.com"], []),
    _contact(12, 12, "Nina Sharp", "CEO", ["nina@massivedynamic.com"], ["+1 617 555 0142"]),
    _contact(13, 6, "Tony Stark", "CEO", ["tony@stark.com"], []),
]


def _opp(
    n: int, lead: int, status: str, value: int, confidence: int, user: str, **extra: Any
) -> dict[str, Any]:
    kinds = {DEMO: ("Demo Scheduled", "active"), WON: ("Won", "won"), LOST: ("Lost", "lost")}
    label, status_type = kinds[status]
    return {
        "id": f"oppo_{n:02d}",
        "lead_id": f"lead_{lead:02d}",
        "lead_name": LEADS[lead - 1]["name"],
        "status_id": status,
        "status_label": label,
        "status_type": status_type,
        "value": value,
        "value_period": "one_time",
        "confidence": confidence,
        "user_id": user,
        "pipeline_id": "pipe_sales",
        "note": extra.pop("note", ""),
        "date_won": extra.pop("date_won", None),
        "date_created": extra.pop("date_created", f"2026-0{1 + n % 5}-10T10:00:00+00:00"),
        "date_updated": "2026-06-01T10:00:00+00:00",
        **{f"custom.{k}": v for k, v in extra.items()},
    }


OPPORTUNITIES = [
    _opp(1, 1, DEMO, 50000, 40, ME, note="Enterprise plan, important"),
    _opp(2, 2, WON, 120000, 100, BOB, note="Signed", date_won="2026-05-20"),
    _opp(3, 3, LOST, 8000, 0, ME, note="Budget cut"),
    _opp(4, 6, WON, 75000, 100, ME, date_won="2026-06-10", cf_source="Referral"),
    _opp(5, 6, DEMO, 20000, 60, BOB),
    _opp(6, 11, DEMO, 3000, 80, ME, note="important upsell"),
]

TASKS = [
    {"id": "task_01", "_type": "lead", "lead_id": "lead_01", "assigned_to": ME, "is_complete": False,
     "date": "2026-06-16", "text": "Send proposal", "date_created": "2026-06-01T10:00:00+00:00"},
    {"id": "task_02", "_type": "lead", "lead_id": "lead_02", "assigned_to": BOB, "is_complete": True,
     "date": "2026-06-01", "text": "Kickoff call", "date_created": "2026-05-20T10:00:00+00:00"},
    {"id": "task_03", "_type": "lead", "lead_id": "lead_07", "assigned_to": ME, "is_complete": True,
     "date": "2026-05-01", "text": "Renewal", "date_created": "2026-04-20T10:00:00+00:00"},
    {"id": "task_04", "_type": "lead", "lead_id": "lead_10", "assigned_to": ME, "is_complete": False,
     "date": "2026-06-20", "text": "Follow up", "date_created": "2026-06-02T10:00:00+00:00"},
]  # fmt: skip

ACTIVITIES = [
    {"id": "acti_01", "_type": "Email", "lead_id": "lead_01", "contact_id": "cont_01", "user_id": ME,
     "subject": "Proposal for Acme", "direction": "outgoing", "date_created": "2026-06-10T10:00:00+00:00",
     "activity_at": "2026-06-10T10:00:00+00:00"},
    {"id": "acti_02", "_type": "Call", "lead_id": "lead_02", "contact_id": "cont_03", "user_id": BOB,
     "duration": 300, "direction": "inbound", "date_created": "2026-06-11T10:00:00+00:00",
     "activity_at": "2026-06-11T10:00:00+00:00"},
    {"id": "acti_03", "_type": "Note", "lead_id": "lead_03", "user_id": ME, "note": "Renewal risk",
     "date_created": "2026-05-11T10:00:00+00:00", "activity_at": "2026-05-11T10:00:00+00:00"},
    {"id": "acti_04", "_type": "Meeting", "lead_id": "lead_06", "user_id": ME, "title": "Kickoff",
     "date_created": "2026-06-12T10:00:00+00:00", "activity_at": "2026-06-12T10:00:00+00:00"},
    {"id": "acti_05", "_type": "Email", "lead_id": "lead_07", "contact_id": "cont_08", "user_id": BOB,
     "subject": "Intro", "direction": "incoming", "date_created": "2026-03-01T10:00:00+00:00",
     "activity_at": "2026-03-01T10:00:00+00:00"},
]  # fmt: skip

CUSTOM_FIELDS = [
    CustomField("cf_industry", "Industry", "choices", "lead",
                choices=("Software", "Retail", "Healthcare", "Air Conditioning")),
    CustomField("cf_employees", "Employees", "number", "lead"),
    CustomField("cf_founded", "Founded", "date", "lead"),
    CustomField("cf_owner", "Account Owner", "user", "lead"),
    CustomField("cf_tags", "Tags", "text", "lead", accepts_multiple_values=True),
    CustomField("cf_last_sync", "Last Sync", "datetime", "lead"),
    CustomField("cf_champion", "Champion", "contact", "lead"),
    CustomField("cf_linkedin", "LinkedIn Handle", "text", "contact"),
    CustomField("cf_source", "Deal Source", "choices", "opportunity", choices=("Referral", "Inbound")),
]  # fmt: skip


def lead_type() -> dict[str, Any]:
    return {"type": "object_type", "object_type": "lead"}


def contact_type() -> dict[str, Any]:
    return {"type": "object_type", "object_type": "contact"}


def and_(*queries: dict[str, Any]) -> dict[str, Any]:
    return {"type": "and", "queries": list(queries)}


def or_(*queries: dict[str, Any]) -> dict[str, Any]:
    return {"type": "or", "queries": list(queries)}


def regular(object_type: str, name: str) -> dict[str, Any]:
    return {"type": "regular_field", "object_type": object_type, "field_name": name}


def custom(field_id: str) -> dict[str, Any]:
    return {"type": "custom_field", "custom_field_id": field_id}


def cond(field: dict[str, Any], condition: dict[str, Any], negate: bool = False) -> dict[str, Any]:
    node = {"type": "field_condition", "field": field, "condition": condition}
    return {**node, "negate": True} if negate else node


def lead_cond(name: str, condition: dict[str, Any], negate: bool = False) -> dict[str, Any]:
    return cond(regular("lead", name), condition, negate)


SAVED_SEARCHES = {
    "save_customers": {
        "id": "save_customers",
        "name": "Customers",
        "s_query": and_(lead_type(), lead_cond("status_id", {
            "type": "reference", "reference_type": "status.lead", "object_ids": [CUSTOMER]})),
        "query": None,
    },
    "save_wrapped": {
        "id": "save_wrapped",
        "name": "Software companies",
        "s_query": {"query": and_(lead_type(), cond(custom("cf_industry"), {"type": "term", "values": ["Software"]})),
                    "sort": [], "results_limit": None},
    },
    "save_legacy": {"id": "save_legacy", "name": "Potential (old)", "s_query": None, "query": "status:Potential"},
    "save_loop": {"id": "save_loop", "name": "Loop", "s_query": {"type": "saved_search", "saved_search_id": "save_loop"}},
    "save_empty": {"id": "save_empty", "name": "Nothing", "s_query": None, "query": None},
}  # fmt: skip


def build_org() -> DictSearchData:
    return DictSearchData(
        leads=[dict(x) for x in LEADS],
        contacts=[dict(x) for x in CONTACTS],
        opportunities=[dict(x) for x in OPPORTUNITIES],
        tasks=[dict(x) for x in TASKS],
        activities=[dict(x) for x in ACTIVITIES],
        custom_fields=list(CUSTOM_FIELDS),
        user_id=ME,
        lead_status_list=[
            {"id": POTENTIAL, "label": "Potential"},
            {"id": QUALIFIED, "label": "Qualified"},
            {"id": CUSTOMER, "label": "Customer"},
            {"id": BAD_FIT, "label": "Bad Fit"},
        ],
        opportunity_status_list=[
            {"id": DEMO, "label": "Demo Scheduled", "status_type": "active", "pipeline_id": "pipe_sales"},
            {"id": WON, "label": "Won", "status_type": "won", "pipeline_id": "pipe_sales"},
            {"id": LOST, "label": "Lost", "status_type": "lost", "pipeline_id": "pipe_sales"},
        ],
        saved_searches={k: dict(v) for k, v in SAVED_SEARCHES.items()},
        clock=NOW,
    )


def leads(*numbers: int) -> list[str]:
    """Lead ids by number: leads(1, 3) == ["lead_01", "lead_03"]."""
    return [f"lead_{n:02d}" for n in numbers]


def field_errors(excinfo: pytest.ExceptionInfo[SearchError]) -> dict[str, str]:
    """The ``field-errors`` of a 400 (asserting the status and the empty ``errors``)."""
    assert excinfo.value.status == 400
    assert excinfo.value.body["errors"] == []
    return dict(excinfo.value.body["field-errors"])
