"""Matching and extra_filter validation, against D-FILT's own examples and the edge cases we chose."""

from __future__ import annotations

from typing import Any

import pytest

from close_mcp.sandbox.webhook_delivery import filter_matches, subscription_matches, validate_events

from ._receiver import make_event

USER = "user_N6KhMpzHRCYQHdn4gRNIFNN5JExnsrprKA6ekxM63XA"


def fa(field: str, inner: dict[str, Any]) -> dict[str, Any]:
    return {"type": "field_accessor", "field": field, "filter": inner}


def eq(value: Any) -> dict[str, Any]:
    return {"type": "equals", "value": value}


def contains(value: Any) -> dict[str, Any]:
    return {"type": "contains", "value": value}


EVENT = make_event(
    "lead",
    "updated",
    user_id=USER,
    changed_fields=["name", "status_id"],
    data={
        "id": "lead_x",
        "name": "Big Travel Co",
        "user_id": USER,
        "custom.cf_product": "product_1234",
        "addresses": [{"state": "CA", "country": "US"}, {"state": "MD", "country": "US"}],
        "is_vip": True,
        "score": 1,
        "description": None,
    },
)

CASES = [
    # D-FILT examples
    (fa("user_id", eq(USER)), True),
    (fa("data", fa("user_id", eq(USER))), True),
    (fa("data", fa("user_id", {"type": "not", "filter": eq(USER)})), False),
    (fa("data", fa("user_id", {"type": "not_equals", "value": USER})), False),
    (fa("user_id", {"type": "non_null"}), True),
    (fa("data", fa("name", contains("Travel"))), True),
    (fa("changed_fields", contains("name")), True),
    (fa("changed_fields", {"type": "or", "filters": [contains("description"), contains("name")]}), True),
    (fa("data", fa("custom.cf_product", eq("product_1234"))), True),
    (
        fa(
            "data",
            fa(
                "addresses",
                {
                    "type": "any_array_value",
                    "filter": {"type": "and", "filters": [fa("state", eq("MD")), fa("country", eq("US"))]},
                },
            ),
        ),
        True,
    ),
    # negatives and our guesses
    (fa("data", fa("addresses", {"type": "any_array_value", "filter": fa("state", eq("NY"))})), False),
    (fa("data", fa("name", contains("travel"))), False),  # case-sensitive
    (fa("changed_fields", contains("description")), False),
    (fa("changed_fields", {"type": "and", "filters": [contains("name"), contains("description")]}), False),
    (fa("data", fa("missing_key", {"type": "is_null"})), True),  # a missing field reads as null
    (fa("data", fa("description", {"type": "is_null"})), True),
    (fa("data", fa("description", {"type": "non_null"})), False),
    (fa("data", fa("is_vip", eq(1))), False),  # JSON true is not 1
    (fa("data", fa("score", eq(True))), False),
    (fa("data", fa("score", eq(1))), True),
    (fa("data", fa("name", {"type": "any_array_value", "filter": eq("B")})), False),  # not a list
    (
        fa("data", fa("addresses", eq([{"state": "CA", "country": "US"}, {"state": "MD", "country": "US"}]))),
        True,
    ),
    (fa("meta", fa("request_method", eq("POST"))), True),
    (fa("user_id", fa("nested", {"type": "is_null"})), True),  # accessor on a string reads null
]


@pytest.mark.parametrize(("node", "expected"), CASES)
def test_filter_evaluation(node: dict[str, Any], expected: bool) -> None:
    assert validate_events([{"object_type": "lead", "action": "updated", "extra_filter": node}]) == {}
    assert filter_matches(node, EVENT) is expected


def test_deleted_event_has_null_data() -> None:
    deleted = make_event("lead", "deleted")
    assert filter_matches(fa("data", {"type": "is_null"}), deleted)
    assert not filter_matches(fa("data", fa("name", contains("Lead"))), deleted)
    assert filter_matches(fa("previous_data", fa("name", contains("Lead"))), deleted)


def sub(*entries: dict[str, Any], status: str = "active") -> dict[str, Any]:
    return {"id": "whsub_" + "a" * 22, "status": status, "events": list(entries)}


def test_subscription_matching_needs_object_type_action_and_filter() -> None:
    created = make_event("lead", "created")
    assert subscription_matches(sub({"object_type": "lead", "action": "created"}), created)
    assert not subscription_matches(sub({"object_type": "lead", "action": "updated"}), created)
    assert not subscription_matches(sub({"object_type": "contact", "action": "created"}), created)
    assert not subscription_matches(
        sub({"object_type": "lead", "action": "created"}, status="paused"), created
    )
    wanted = {"object_type": "lead", "action": "created", "extra_filter": fa("data", fa("name", eq("nope")))}
    assert not subscription_matches(sub(wanted), created)
    assert subscription_matches(sub(wanted, {"object_type": "lead", "action": "created"}), created)
    assert subscription_matches(
        sub({"object_type": "lead", "action": "created", "extra_filter": None}), created
    )


def test_a_malformed_stored_filter_never_matches_and_never_raises() -> None:
    broken = {"object_type": "lead", "action": "created", "extra_filter": {"type": "equal", "value": 1}}
    assert not subscription_matches(sub(broken), make_event())


BAD = [
    (None, "events"),
    ([], "events"),
    ({"object_type": "lead"}, "events"),
    (["lead.created"], "events.0"),
    ([{"action": "created"}], "events.0.object_type"),
    ([{"object_type": "lead", "action": 3}], "events.0.action"),
    ([{"object_type": "lead", "action": "created", "extra_filter": "x"}], "events.0.extra_filter"),
    ([{"object_type": "lead", "action": "created", "extra_filter": {"type": "equal", "value": 1}}], None),
    ([{"object_type": "lead", "action": "created", "extra_filter": {"type": "equals"}}], None),
    ([{"object_type": "lead", "action": "created", "extra_filter": {"type": "and", "filters": []}}], None),
    ([{"object_type": "lead", "action": "created", "extra_filter": {"type": "or", "filters": [{}]}}], None),
    ([{"object_type": "lead", "action": "created", "extra_filter": {"type": "not"}}], None),
    (
        [
            {
                "object_type": "lead",
                "action": "created",
                "extra_filter": {"type": "field_accessor", "filter": eq(1)},
            }
        ],
        None,
    ),
    (
        [
            {
                "object_type": "lead",
                "action": "created",
                "extra_filter": fa("data", {"type": "any_array_value"}),
            }
        ],
        None,
    ),
]


@pytest.mark.parametrize(("events", "key"), BAD)
def test_validate_events_reports_the_broken_place(events: Any, key: str | None) -> None:
    errors = validate_events(events)
    assert list(errors) == [key or "events.0.extra_filter"]
    assert errors[next(iter(errors))]


def test_validate_events_names_the_path_inside_the_filter() -> None:
    node = fa("data", {"type": "or", "filters": [eq(1), {"type": "contans", "value": "x"}]})
    good = {"object_type": "lead", "action": "created"}
    errors = validate_events([good, {"object_type": "lead", "action": "updated", "extra_filter": node}])
    assert list(errors) == ["events.1.extra_filter"]
    assert errors["events.1.extra_filter"].startswith(
        "extra_filter.filter.filters[1].type: unknown filter type"
    )


def test_validate_events_refuses_a_filter_nested_without_end() -> None:
    node: dict[str, Any] = {"type": "is_null"}
    for _ in range(100):
        node = {"type": "not", "filter": node}
    errors = validate_events([{"object_type": "lead", "action": "created", "extra_filter": node}])
    assert "nested too deeply" in errors["events.0.extra_filter"]
