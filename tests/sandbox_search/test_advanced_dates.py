"""``moment_range`` date conditions: fixed dates, offsets, day ends, time zones."""

from __future__ import annotations

import pytest

from close_mcp.sandbox.search import SearchError, run_search

from .search_org import and_, cond, custom, field_errors, lead_cond, lead_type, leads, regular


def fixed(day: str, which: str = "start") -> dict:
    return {"type": "fixed_local_date", "value": day, "which": which}


def past(which: str | None = None, **amounts: int) -> dict:
    node = {"type": "offset", "direction": "past", "moment": {"type": "now"}, "offset": amounts}
    return {**node, "which_day_end": which} if which else node


def between(low: dict | None, high: dict | None) -> dict:
    return {"type": "moment_range", "on_or_after": low, "before": high}


def created(low: dict | None, high: dict | None) -> dict:
    return and_(lead_type(), lead_cond("date_created", between(low, high)))


def test_fixed_local_dates_include_the_end_day(ids):
    assert ids(created(fixed("2026-06-01"), fixed("2026-06-14", "end"))) == leads(4, 10)
    assert ids(created(fixed("2026-06-01"), fixed("2026-06-14", "start"))) == ["lead_10"]


def test_offset_in_hours_is_not_snapped_to_the_day(ids):
    updated = and_(lead_type(), lead_cond("date_updated", between(past("start", hours=2), {"type": "now"})))
    assert ids(updated) == ["lead_02"]


def test_yesterday_as_the_ui_copies_it(ids):
    yesterday = between(past("start", days=1), past("end", days=1))
    assert ids(and_(lead_type(), lead_cond("date_created", yesterday))) == ["lead_04"]
    assert ids(and_(lead_type(), lead_cond("date_updated", yesterday))) == leads(1, 4)


def test_offset_in_months(ids):
    assert ids(created(past("start", months=6), None)) == leads(1, 2, 4, 5, 6, 8, 9, 10, 11, 12)


def test_future_moments_on_task_dates(ids):
    future = cond(regular("task", "date"), between({"type": "now"}, None))
    related = {
        "type": "has_related",
        "this_object_type": "lead",
        "related_object_type": "task",
        "related_query": future,
    }
    assert ids(and_(lead_type(), related)) == leads(1, 10)


def test_date_and_datetime_custom_fields(ids):
    before_2000 = cond(custom("cf_founded"), between(None, fixed("2000-01-01")))
    assert ids(and_(lead_type(), before_2000)) == ["lead_02"]
    synced = cond(custom("cf_last_sync"), between(past(hours=2), None))
    assert ids(and_(lead_type(), synced)) == ["lead_02"]


@pytest.mark.parametrize(
    ("tz_offset", "expected"), [(0, ["lead_12"]), (-10, []), (10, ["lead_04", "lead_12"])]
)
def test_local_dates_follow_the_tz_offset(org, tz_offset, expected):
    body = {"query": created(fixed("2026-06-15"), fixed("2026-06-15", "end"))}
    answer = run_search(body, org, cursor_secret=b"s", tz_offset=tz_offset)
    assert [d["id"] for d in answer["data"]] == expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (between(None, None), "moment_range needs 'on_or_after' or 'before'"),
        (
            between({"type": "start_of_week"}, None),
            "condition.on_or_after: unknown moment type 'start_of_week' (expected now, fixed_local_date, offset)",
        ),
        (between(fixed("2026-13-01"), None), "value must be a date YYYY-MM-DD, not '2026-13-01'"),
        (between(fixed("2026-01-01", "middle"), None), "which must be 'start' or 'end', not 'middle'"),
        (
            between({"type": "offset", "direction": "sideways", "offset": {}}, None),
            "direction must be 'past' or 'future'",
        ),
        (between(past(fortnights=1), None), "unknown offset unit 'fortnights'"),
        (between(past(days=-1), None), "offset.days: must be a non-negative integer"),
    ],
)
def test_bad_moments_are_400s(search, condition, message):
    with pytest.raises(SearchError) as excinfo:
        search(and_(lead_type(), lead_cond("date_created", condition)))
    assert message in field_errors(excinfo)["query"]


def test_moment_range_does_not_apply_to_numbers(search):
    with pytest.raises(SearchError) as excinfo:
        search(and_(lead_type(), cond(custom("cf_employees"), between({"type": "now"}, None))))
    assert "condition moment_range does not apply to number field" in field_errors(excinfo)["query"]
