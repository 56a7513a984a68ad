"""The opportunity ``query`` (``GET /opportunity/?query=``), restricted to opportunity properties."""

from __future__ import annotations

import pytest

from close_mcp.sandbox.search import DictSearchData, SearchError, search_opportunities

from .search_org import field_errors


def opps(*numbers: int) -> list[str]:
    return [f"oppo_{n:02d}" for n in numbers]


@pytest.fixture
def q(org: DictSearchData):
    return lambda query: [o["id"] for o in search_opportunities(query, org)]


@pytest.fixture
def error(org: DictSearchData):
    def run(query: str) -> str:
        with pytest.raises(SearchError) as excinfo:
            search_opportunities(query, org)
        return field_errors(excinfo)["query"]

    return run


def test_note_words(q):
    assert q("note:important") == opps(1, 6)
    assert q("note:importance") == []


def test_status_label_and_status_type(q, error):
    assert q("status:won") == opps(2, 4)
    assert q("status_type:active") == opps(1, 5, 6)
    assert error("status_type:pending") == "unknown status_type 'pending' (expected active, won, lost)"
    assert error("status:Nope").startswith("unknown opportunity status 'Nope'")


def test_numbers_and_dates(q):
    assert q("value >= 50000") == opps(1, 2, 4)
    assert q("confidence < 50") == opps(1, 3)
    assert q("date_won >= 2026-06-01") == opps(4)
    assert q("date_won:2026-05-20") == opps(2)


def test_user_lead_and_free_text(q):
    assert q("user:user_me") == opps(1, 3, 4, 6)
    assert q("lead:stark") == opps(4, 5)
    assert q("signed") == opps(2)
    assert q("Globex") == opps(2)


def test_custom_field(q):
    assert q('custom."Deal Source":referral') == opps(4)


def test_sort(q):
    assert q("sort:-value") == opps(2, 4, 1, 5, 3, 6)
    assert q("sort:confidence") == opps(3, 1, 5, 6, 2, 4)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "status_change(old_status:active new_status:won)",
            "function-style term status_change(…) is not supported",
        ),
        ("has:email", "unknown opportunity search keyword 'has'"),
        ("sort:bogus", "cannot sort opportunities by 'bogus'"),
    ],
)
def test_unknown_terms_are_400s(error, query, message):
    assert error(query).startswith(message)
