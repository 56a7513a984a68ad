"""Check tool arguments against the manifest schema and build the Close request from them.

Nothing is sent unless every argument is valid; the error names each bad argument and
what is expected.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from close_mcp.manifest import ToolSpec
from close_mcp.plan import RequestPlan, fill_path

if TYPE_CHECKING:
    import jsonschema


class ToolInputError(Exception):
    """Bad arguments: the message is shown to the agent as a tool error."""


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: jsonschema.ValidationError, spec: ToolSpec) -> str:
    path = [str(p) for p in error.absolute_path]
    name = ".".join(path) or "arguments"
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"missing required argument `{'.'.join([*path, missing])}`"
    if error.validator == "additionalProperties" and not path:
        allowed = ", ".join(sorted(spec.input_schema["properties"]))
        given = error.instance if isinstance(error.instance, dict) else {}
        extra = sorted(set(given) - set(spec.input_schema["properties"]))
        return f"unknown argument(s) {', '.join(f'`{e}`' for e in extra)}; valid arguments: {allowed}"
    if error.validator == "dependentRequired":
        return f"{error.message}: Close ignores this filter without it"
    if (
        error.validator == "pattern"
        and str(schema.get("pattern", "")).startswith("^")
        and "_[A-Za-z0-9]+$" in str(schema.get("pattern"))
    ):
        prefix = str(schema["pattern"])[1:].split("_[")[0]
        return f"`{name}` must be a Close ID starting with {prefix}_ (letters and digits only); got {_show(error.instance)}"
    if error.validator == "format" and schema.get("format") == "date-time":
        return (
            f"`{name}` must be a real ISO-8601 date or datetime, e.g. 2026-01-31 or 2026-01-31T12:00:00Z; "
            f"got {_show(error.instance)}"
        )
    if error.validator == "enum":
        return f"`{name}` must be one of {', '.join(map(_show, schema.get('enum', [])))}; got {_show(error.instance)}"
    if error.validator == "type":
        return f"`{name}` must be of type {error.validator_value}; got {_show(error.instance)}"
    return f"`{name}`: {error.message}"


@cache
def _formats() -> jsonschema.FormatChecker:
    """The format checks, built with the first validator (jsonschema is imported on the first call,
    not at start-up)."""
    import jsonschema

    checker = jsonschema.FormatChecker()
    checker.checks("date-time", raises=ValueError)(_iso_date_or_datetime)
    return checker


def _iso_date_or_datetime(value: object) -> bool:
    """Close takes a date (2026-01-31) or a datetime (2026-01-31T12:00:00Z, with or without offset)
    wherever it takes either; the date itself must exist (not 2026-13-45)."""
    if not isinstance(value, str):
        return True
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    (datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text))
    return True


class ArgumentChecker:
    def __init__(self, spec: ToolSpec) -> None:
        self.spec = spec
        import jsonschema

        self._validator = jsonschema.Draft202012Validator(spec.input_schema, format_checker=_formats())

    def check(self, args: dict[str, Any]) -> None:
        problems = [
            _describe(e, self.spec)
            for e in sorted(self._validator.iter_errors(args), key=lambda e: list(e.path))
        ]
        for group in self.spec.require_one_of:
            if not any(args.get(name) is not None for name in group):
                problems.append(f"pass at least one of: {', '.join(group)}")
        if problems:
            raise ToolInputError(
                f"Invalid arguments for {self.spec.name}: "
                + "; ".join(problems)
                + ". Nothing was sent to Close."
            )


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():  # JSON Schema counts 2.0 as an integer; Close not
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_query_value(v) for v in value)
    return str(value)


def _integral(spec: ToolSpec, name: str, value: Any) -> bool:
    """An integer argument given as 2.0 (valid JSON Schema) goes to Close as 2."""
    return (
        isinstance(value, float)
        and value.is_integer()
        and spec.input_schema["properties"][name].get("type") == "integer"
    )


MAX_QUERY_VALUE = 2000  # characters of one query parameter; whole URLs stay well under servers' limits


def check_url_size(tool: str, argument: str, value: str) -> None:
    """Anything that reaches a URL is bounded, whatever the manifest's schema says."""
    if len(value) > MAX_QUERY_VALUE:
        raise ToolInputError(
            f"Invalid arguments for {tool}: `{argument}` is too long for a Close URL ({len(value)} characters "
            f"as sent, at most {MAX_QUERY_VALUE}); narrow it down. Nothing was sent to Close."
        )


def prepare(spec: ToolSpec, args: dict[str, Any]) -> RequestPlan:
    """Fill the path template, the query and the JSON body from validated arguments."""
    ids = {n: str(v) for n, v in args.items() if n in spec.bindings and spec.bindings[n].location == "path"}
    request = RequestPlan(spec.name, spec.method, fill_path(spec.path, ids), ids=ids)
    request.idempotent = spec.idempotent
    if spec.preview is not None:
        request.preview_path = fill_path(spec.preview.path, args)
        if spec.preview.second is not None:
            request.preview_second_path = fill_path(spec.preview.second[0], args)
    body: dict[str, Any] = {}
    for name, value in args.items():
        binding = spec.bindings.get(name)
        if binding is None or binding.location in ("path", "search"):  # search: search_query.py builds it
            continue
        if binding.location == "query":
            request.params[binding.wire] = _query_value(value)
            check_url_size(spec.name, name, request.params[binding.wire])
        elif binding.location == "body":
            body[binding.wire] = int(value) if _integral(spec, name, value) else value
        else:  # body_custom: {"cf_x": v} -> "custom.cf_x": v
            body.update({f"custom.{cf}": v for cf, v in value.items()})
    if spec.method in ("POST", "PUT"):
        request.body = body
    return request
