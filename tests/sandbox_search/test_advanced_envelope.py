"""The ``/data/search/`` envelope: _fields, _limit, cursor walks and expiry, counts, sort."""

from __future__ import annotations

from datetime import timedelta

import pytest

from close_mcp.sandbox.search import DictSearchData, SearchError, run_search

from .search_org import NOW, and_, cond, custom, field_errors, lead_cond, lead_type, leads, regular

SECRET = b"secret"
CUSTOMERS = and_(lead_type(), lead_cond("status_label", {"type": "term", "values": ["Customer"]}))


def walk(org: DictSearchData, body: dict) -> tuple[list[str], int]:
    """Follow cursors to the end; the ids seen, in order, and the number of pages."""
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        answer = run_search({**body, "cursor": cursor}, org, cursor_secret=SECRET)
        pages += 1
        seen += [d["id"] for d in answer["data"]]
        cursor = answer["cursor"]
        if cursor is None:
            return seen, pages


def test_default_answer_is_type_and_id_with_a_null_cursor_and_no_has_more(search):
    assert search(CUSTOMERS) == {
        "data": [{"__object_type": "lead", "id": x} for x in leads(3, 7, 11)],
        "cursor": None,
    }


def test_fields_select_per_object_type_and_drop_unknown_names(search):
    answer = search(CUSTOMERS, _fields={"lead": ["name", "status_label", "nope"]})
    assert answer["data"][0] == {
        "__object_type": "lead",
        "id": "lead_03",
        "name": "Initech",
        "status_label": "Customer",
    }


def test_fields_custom_selects_every_custom_key(search):
    answer = search(and_(lead_type(), {"type": "id", "value": "lead_01"}), _fields={"lead": ["custom"]})
    item = answer["data"][0]
    assert sorted(k for k in item if k.startswith("custom.")) == [
        "custom.cf_champion",
        "custom.cf_employees",
        "custom.cf_founded",
        "custom.cf_industry",
        "custom.cf_owner",
    ]
    assert "name" not in item


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (["name"], '_fields must be an object keyed by object type, e.g. {"lead": ["name"]}'),
        ({"widget": ["name"]}, "unknown object type 'widget'"),
        ({"lead": "name"}, "_fields.lead must be a list of field names"),
    ],
)
def test_bad_fields_are_400s(search, fields, message):
    with pytest.raises(SearchError) as excinfo:
        search(CUSTOMERS, _fields=fields)
    assert field_errors(excinfo) == {"_fields": message}


def test_cursor_walk_yields_every_record_exactly_once(org):
    seen, pages = walk(org, {"query": lead_type(), "_limit": 5})
    assert seen == leads(*range(1, 13))
    assert pages == 3


def test_cursor_walk_with_sort_is_stable(org):
    sort = [{"direction": "desc", "field": regular("lead", "date_created")}]
    full = [
        d["id"] for d in run_search({"query": lead_type(), "sort": sort}, org, cursor_secret=SECRET)["data"]
    ]
    seen, _ = walk(org, {"query": lead_type(), "sort": sort, "_limit": 4})
    assert seen == full
    assert len(set(seen)) == 12


def test_expired_cursor_is_the_observed_400(org):
    first = run_search({"query": lead_type(), "_limit": 5}, org, cursor_secret=SECRET, now=NOW)
    body = {"query": lead_type(), "_limit": 5, "cursor": first["cursor"]}
    still_fresh = run_search(body, org, cursor_secret=SECRET, now=NOW + timedelta(seconds=29))
    assert [d["id"] for d in still_fresh["data"]] == leads(6, 7, 8, 9, 10)
    with pytest.raises(SearchError) as excinfo:
        run_search(body, org, cursor_secret=SECRET, now=NOW + timedelta(seconds=31))
    assert excinfo.value.body == {"errors": [], "field-errors": {"cursor": "Expired cursor"}}


@pytest.mark.parametrize("tamper", ["garbage", "eyJvIjogNX0.bad", None])
def test_forged_or_foreign_cursors_are_invalid(org, tamper):
    first = run_search({"query": lead_type(), "_limit": 5}, org, cursor_secret=SECRET)
    cursor = tamper
    query = lead_type()
    if tamper is None:  # a real cursor, but for another query
        cursor, query = first["cursor"], CUSTOMERS
    with pytest.raises(SearchError) as excinfo:
        run_search({"query": query, "cursor": cursor}, org, cursor_secret=SECRET)
    assert field_errors(excinfo) == {"cursor": "Invalid cursor"}


def test_a_cursor_from_another_secret_is_invalid(org):
    first = run_search({"query": lead_type(), "_limit": 5}, org, cursor_secret=b"one")
    with pytest.raises(SearchError) as excinfo:
        run_search({"query": lead_type(), "cursor": first["cursor"]}, org, cursor_secret=b"two")
    assert field_errors(excinfo) == {"cursor": "Invalid cursor"}


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (0, "Input should be greater than or equal to 1"),
        (201, "Input should be less than or equal to 200"),
        ("10", "Input should be a valid integer"),
    ],
)
def test_limit_bounds(search, limit, message):
    with pytest.raises(SearchError) as excinfo:
        search(lead_type(), _limit=limit)
    assert field_errors(excinfo) == {"_limit": message}


def test_default_limit_is_100(org):
    many = DictSearchData(leads=[{"id": f"lead_{n:04d}"} for n in range(150)], clock=NOW)
    answer = run_search({"query": lead_type()}, many, cursor_secret=SECRET)
    assert len(answer["data"]) == 100
    assert answer["cursor"] is not None


def test_results_limit_caps_the_walk(org):
    seen, pages = walk(org, {"query": lead_type(), "_limit": 2, "results_limit": 3})
    assert seen == leads(1, 2, 3)
    assert pages == 2


def test_results_limit_must_be_a_non_negative_integer(search):
    with pytest.raises(SearchError) as excinfo:
        search(lead_type(), results_limit=-1)
    assert field_errors(excinfo) == {"results_limit": "Input should be greater than or equal to 0"}


def test_include_counts(search):
    assert search(CUSTOMERS, include_counts=True)["count"] == {"limited": 3, "total": 3}
    assert search(CUSTOMERS, include_counts=True, results_limit=2)["count"] == {"limited": 2, "total": 3}
    assert "count" not in search(CUSTOMERS)


def test_counts_only_with_results_limit_zero(search):
    assert search(lead_type(), include_counts=True, results_limit=0) == {
        "data": [],
        "cursor": None,
        "count": {"limited": 0, "total": 12},
    }


def test_include_counts_must_be_boolean(search):
    with pytest.raises(SearchError) as excinfo:
        search(lead_type(), include_counts="yes")
    assert field_errors(excinfo) == {"include_counts": "Input should be a valid boolean"}


def test_walk_is_capped_at_10000_objects():
    big = DictSearchData(leads=[{"id": f"lead_{n:05d}"} for n in range(10_050)], clock=NOW)
    seen, pages = walk(big, {"query": lead_type(), "_limit": 200})
    assert len(seen) == 10_000
    assert seen == [f"lead_{n:05d}" for n in range(10_000)]
    assert pages == 50
    counts = run_search({"query": lead_type(), "include_counts": True}, big, cursor_secret=SECRET)["count"]
    assert counts == {"limited": 10_000, "total": 10_050}


def test_sort_by_number_desc_puts_missing_values_last(ids):
    sort = [{"direction": "desc", "field": custom("cf_employees")}]
    assert ids(lead_type(), sort=sort) == leads(4, 2, 6, 3, 1, 5, 7, 8, 9, 10, 11, 12)


def test_sort_by_own_text_field_and_by_date(ids):
    by_name = ids(lead_type(), sort=[{"direction": "asc", "field": regular("lead", "name")}])
    assert by_name == leads(1, 8, 2, 5, 3, 12, 9, 6, 10, 4, 7, 11)
    oldest = ids(lead_type(), sort=[{"direction": "asc", "field": regular("lead", "date_created")}])
    assert oldest[:3] == leads(3, 7, 1)


def test_sort_by_custom_date_ascending(ids):
    assert ids(lead_type(), sort=[{"direction": "asc", "field": custom("cf_founded")}])[:2] == leads(2, 1)


def test_multi_key_sort(ids):
    sort = [
        {"direction": "asc", "field": regular("lead", "status_label")},
        {"direction": "desc", "field": regular("lead", "name")},
    ]
    assert ids(lead_type(), sort=sort) == leads(4, 12, 11, 7, 3, 10, 5, 8, 1, 6, 9, 2)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"direction": "asc", "field": regular("lead", "created_by")},
            "field created_by (user) is not sortable",
        ),
        ({"direction": "asc", "field": regular("lead", "status_id")}, "field status_id (id) is not sortable"),
        (
            {"direction": "up", "field": regular("lead", "name")},
            "direction must be 'asc' or 'desc', not 'up'",
        ),
        (
            {"direction": "asc", "field": regular("contact", "name")},
            "field name belongs to contact, which is not searched",
        ),
        ({"direction": "asc", "field": regular("lead", "nope")}, "unknown field 'nope' for object type lead"),
    ],
)
def test_bad_sorts_are_400s_naming_them(search, entry, message):
    with pytest.raises(SearchError) as excinfo:
        search(lead_type(), sort=[entry])
    assert message in field_errors(excinfo)["sort"]


def test_unknown_body_keys_are_ignored(ids):
    assert ids(CUSTOMERS, limit=None) == leads(3, 7, 11)


def test_search_reads_custom_values_through_the_adapter_only(org, ids):
    org.leads[0]["custom.cf_industry"] = "Retail"
    query = and_(lead_type(), cond(custom("cf_industry"), {"type": "term", "values": ["Retail"]}))
    assert ids(query) == leads(1, 2)
