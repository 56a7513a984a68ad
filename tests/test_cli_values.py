"""``key=value`` words become arguments typed by the tool's own input schema."""

from __future__ import annotations

import pytest
from conftest import SPECS

from close_mcp.commands.values import ArgumentSyntaxError, parse_arguments

SCHEMAS = {s.name: s.input_schema for s in SPECS}


def test_types_follow_the_schema():
    args = parse_arguments(
        ["query=2024", "limit=5", "fields=id,display_name", 'full_fields=["description"]'],
        SCHEMAS["list_leads"],
    )
    assert args == {
        "query": "2024",
        "limit": 5,
        "fields": ["id", "display_name"],
        "full_fields": ["description"],
    }


def test_booleans_objects_and_json_over_words():
    schema = {
        "properties": {
            "dry_run": {"type": "boolean"},
            "contacts": {"type": "array", "items": {"type": "object"}},
            "value": {"type": "number"},
            "custom": {"type": "object"},
        }
    }
    args = parse_arguments(
        ["dry_run=yes", 'contacts=[{"name": "Ann"}]', "value=12.5", 'custom={"a": 1}'],
        schema,
        json_args='{"value": 1, "other": true}',
    )
    assert args == {
        "dry_run": True,
        "contacts": [{"name": "Ann"}],
        "value": 12.5,
        "custom": {"a": 1},
        "other": True,
    }


def test_unknown_keys_are_guessed_so_the_server_can_name_them():
    assert parse_arguments(["n=3", "word=hello", "flag=true"], {}) == {"n": 3, "word": "hello", "flag": True}


@pytest.mark.parametrize(
    "words,says",
    [
        (["limit=many"], "limit: expected a number"),
        (["dry_run=maybe"], "dry_run: expected true or false"),
        (["contacts={bad"], "contacts: expected a JSON list"),
        (["custom={bad"], "custom: not valid JSON"),
        (["=x"], "expected key=value"),
    ],
)
def test_bad_words_say_which_argument(words, says):
    schema = {
        "properties": {
            "limit": {"type": "integer"},
            "dry_run": {"type": "boolean"},
            "contacts": {"type": "array", "items": {"type": "object"}},
            "custom": {"type": "object"},
        }
    }
    with pytest.raises(ArgumentSyntaxError, match=says):
        parse_arguments(words, schema)
