"""Close's text search syntax on leads (``GET /lead/?query=``): one test per feature."""

from __future__ import annotations

import pytest

from close_mcp.sandbox.search import DictSearchData, SearchError, search_leads

from .search_org import field_errors, leads

ALL = leads(*range(1, 13))


@pytest.fixture
def q(org: DictSearchData):
    def run(query: str, tz_offset: float = 0.0) -> list[str]:
        return [lead["id"] for lead in search_leads(query, org, tz_offset=tz_offset)]

    return run


@pytest.fixture
def error(org: DictSearchData):
    def run(query: str) -> str:
        with pytest.raises(SearchError) as excinfo:
            search_leads(query, org)
        return field_errors(excinfo)["query"]

    return run


def test_empty_query_returns_every_lead_in_adapter_order(q):
    assert q("") == ALL
    assert q("   ") == ALL


def test_free_text_matches_whole_words_in_names_contacts_and_emails(q):
    assert q("industries") == leads(6, 11)
    assert q("indus") == []
    assert q("Gibbons") == ["lead_03"]
    assert q("gavin@hooli.xyz") == ["lead_05"]


def test_free_text_matches_phone_digits(q):
    assert q("2125550199") == ["lead_02"]
    assert q('"212 555 0199"') == ["lead_02"]
    assert q("5550") == []  # fewer than five digits is not a phone search


def test_quoted_phrases_need_words_in_order(q):
    assert q('"Stark Industries"') == ["lead_06"]
    assert q('"Industries Stark"') == []


def test_adjacent_terms_are_anded(q):
    assert q("industries stark") == ["lead_06"]
    assert q("industries AND status:qualified") == ["lead_06"]


def test_status_and_lead_status_by_label(q):
    assert q('status:"Bad Fit"') == leads(4, 12)
    assert q("lead_status:customer") == leads(3, 7, 11)


def test_unknown_status_label_is_a_400_naming_it(error):
    assert error("status:Unknown") == (
        "unknown lead status 'Unknown' (statuses: Bad Fit, Customer, Potential, Qualified)"
    )


def test_name_matches_the_lead_name_only(q):
    assert q("name:Acme") == ["lead_01"]
    assert q('name:"Globex Corporation"') == ["lead_02"]
    assert q("name:Jane") == []


def test_email_exact_word_and_domain(q):
    assert q("email:JANE@ACME.COM") == ["lead_01"]
    assert q("email:jane@acme.co") == []
    assert q("email:acme") == ["lead_01"]
    assert q("email_domain:stark.com") == ["lead_06"]


def test_phone_by_digits(q, error):
    assert q("phone:4155550101") == ["lead_01"]
    assert q('phone:"+44 20 7946 0958"') == ["lead_04"]
    assert error("phone:abc") == "phone: needs digits, not 'abc'"


def test_contact_name(q):
    assert q('contact:"Lucius Fox"') == ["lead_07"]
    assert q("contact:Fox") == ["lead_07"]
    assert q("contact:Acme") == []


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("email", leads(1, 2, 3, 5, 6, 7, 10, 11, 12)),
        ("phone", leads(1, 2, 4, 12)),
        ("contacts", leads(1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12)),
        ("opportunities", leads(1, 2, 3, 6, 11)),
        ("tasks", leads(1, 2, 7, 10)),
    ],
)
def test_has(q, what, expected):
    assert q(f"has:{what}") == expected


def test_unknown_has_value_is_a_400(error):
    assert (
        error("has:fax") == "unknown has: value 'fax' (expected email, phone, contacts, opportunities, tasks)"
    )


def test_date_comparisons_by_day(q):
    assert q('created >= "2026-06-01"') == leads(4, 10, 12)
    assert q('created > "2026-06-01"') == leads(4, 12)
    assert q("date_created<2026-01-01") == leads(3, 7)
    assert q("created <= 2025-12-01") == leads(3, 7)
    assert q("created:2026-06-14") == ["lead_04"]


def test_date_comparison_with_a_time(q):
    assert q('date_updated>="2026-06-15T10:00"') == ["lead_02"]
    assert q("date_updated>=2026-06-15T10:00") == ["lead_02"]
    assert q('updated < "2026-04-01T10:00:01Z"') == leads(5, 11)


def test_relative_dates(q):
    assert q("created:today") == ["lead_12"]
    assert q("created:yesterday") == ["lead_04"]
    assert q('created >= "7 days ago"') == leads(4, 12)


def test_relative_dates_follow_the_tz_offset(q):
    assert q("created:today", tz_offset=10) == leads(4, 12)


def test_bad_date_is_a_400(error):
    assert error('created > "soon"') == "invalid date 'soon' for created (use YYYY-MM-DD or today)"


def test_custom_fields_by_name(q):
    assert q("custom.Industry:Software") == leads(1, 3)
    assert q('custom.industry:"air conditioning"') == ["lead_06"]
    assert q("custom.Employees >= 1000") == leads(2, 4)
    assert q('custom."Account Owner":user_bob') == ["lead_02"]
    assert q('"custom.Account Owner":user_me') == ["lead_01"]
    assert q("custom.Founded < 2000-01-01") == ["lead_02"]
    assert q("custom.Tags:vip") == ["lead_11"]


def test_custom_field_by_id(q):
    assert q("custom.cf_employees<100") == ["lead_01"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("custom.Nope:x", "unknown custom field 'Nope' for leads"),
        ("custom.Employees:many", "custom.Employees needs a number, not 'many'"),
        ('"Industry":Software', "unknown search keyword 'Industry'"),
        ("bogus:1", "unknown search keyword 'bogus'"),
        ("name > a", "operator '>' is not supported for name; use name:value"),
    ],
)
def test_unknown_fields_and_operators_are_400s(error, query, message):
    assert error(query).startswith(message)


def test_or(q):
    assert q('status:customer OR status:"bad fit"') == leads(3, 4, 7, 11, 12)
    assert q('id:"lead_01" OR id:"lead_05"') == leads(1, 5)


def test_negation_with_minus_and_not(q):
    assert q("-status:potential") == leads(2, 3, 4, 6, 7, 9, 11, 12)
    assert q("NOT has:contacts") == ["lead_08"]
    assert q("not acme") == [x for x in ALL if x != "lead_01"]


def test_parentheses_group(q):
    assert q("(status:customer OR status:qualified) has:opportunities") == leads(2, 3, 6, 11)
    assert q("-(status:customer OR status:qualified)") == leads(1, 4, 5, 8, 10, 12)


def test_sort_orders_and_descending_sorts(q):
    assert q("sort:name") == leads(1, 8, 2, 5, 3, 12, 9, 6, 10, 4, 7, 11)
    assert q("sort:-created") == leads(12, 4, 10, 9, 8, 6, 5, 11, 2, 1, 7, 3)
    assert q("status:potential sort:-created") == leads(10, 8, 5, 1)


def test_sort_by_custom_field_puts_missing_last(q):
    assert q("sort:custom.Employees") == leads(1, 3, 6, 2, 4, 5, 7, 8, 9, 10, 11, 12)


def test_several_sorts(q):
    assert q("sort:status sort:-name") == leads(4, 12, 11, 7, 3, 10, 5, 8, 1, 6, 9, 2)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort:bogus", "cannot sort leads by 'bogus'"),
        ("acme OR sort:name", "sort: must be a top-level term"),
        ("(sort:name)", "sort: must be a top-level term"),
        ("NOT sort:name", "sort: must be a top-level term"),
    ],
)
def test_bad_sorts_are_400s(error, query, message):
    assert error(query).startswith(message)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('name:"Acme', "unbalanced quote: the quote at position 5 is never closed"),
        ("(status:customer", "unbalanced parenthesis: '(' is never closed"),
        ("status:customer)", "unbalanced parenthesis: ')' without a matching '('"),
        ("created >", "created> needs a value"),
        (":foo", "operator ':' needs a field name before it"),
        ("()", "empty parentheses"),
        ("OR acme", "OR needs a search term on both sides"),
        ("acme NOT", "NOT / - needs a search term after it"),
        ("status_change(old_status:active)", "function-style term status_change(…) is not supported"),
    ],
)
def test_syntax_errors_are_400s_naming_the_problem(error, query, message):
    assert error(query) == message
