"""Check the sandbox's answers against the response schemas of Close's published OpenAPI spec
(``../shared/reference/close-openapi.yml``).

Attach a :class:`SpecResponses` to a sandbox (``attach``); it validates every 2xx JSON answer of an
operation whose spec declares a response schema and keeps the mismatches. Where the spec and observed
Close behaviour disagree, observed behaviour wins (close-api.md): such differences are listed in
:data:`SPEC_DEVIATIONS` with the reason, and ignored for that operation and JSON path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).resolve().parents[2] / "shared" / "reference" / "close-openapi.yml"
METHODS = ("get", "post", "put", "patch", "delete")

# "<METHOD> <spec path>" → {text in "<json path>: <message>": why the sandbox follows observed Close there}.
_GROUP_NAME = "close-api.md §3.1: a group's name and members come only when asked for with _fields"
SPEC_DEVIATIONS: dict[str, dict[str, str]] = {
    "GET /group/{id}/": {"'name' is a required property": _GROUP_NAME},
    "POST /group/": {"'name' is a required property": _GROUP_NAME},
    "PUT /group/{id}/": {"'name' is a required property": _GROUP_NAME},
    "GET /group/": {"'name' is a required property": _GROUP_NAME},
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as in the spec, e.g. /lead/{id}/
    pattern: re.Pattern[str]
    validator: Draft202012Validator

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Mismatch:
    operation: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.operation} at {self.where or '<root>'}: {self.message}"


@cache
def operations() -> tuple[Operation, ...]:
    spec = yaml.safe_load(SPEC.read_text())
    registry: Registry[Any] = Registry().with_resource(
        "spec", Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            schema = _success_schema(op)
            if schema is None:
                continue
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"
            anchored = {"$ref": f"spec#/paths/{_pointer(path)}/{method}/responses/{schema}"}
            validator = Draft202012Validator({**anchored}, registry=registry)
            found.append(Operation(method.upper(), path, re.compile(regex), validator))
    # Literal paths before templated ones (/lead/merge/ before /lead/{id}/).
    found.sort(key=lambda o: (o.path.count("{"), -len(o.path)))
    return tuple(found)


def _success_schema(op: dict[str, Any]) -> str | None:
    for code, response in (op.get("responses") or {}).items():
        if str(code).startswith("2") and ((response.get("content") or {}).get("application/json") or {}).get(
            "schema"
        ):
            return f"{code}/content/application~1json/schema"
    return None


def _pointer(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


def operation_for(method: str, path: str) -> Operation | None:
    return next((o for o in operations() if o.method == method and o.pattern.match(path)), None)


@dataclass
class SpecResponses:
    """Validates what a sandbox answers; ``checked`` counts answers per operation."""

    mismatches: list[Mismatch] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    def attach(self, sandbox: Any) -> SpecResponses:
        sandbox.response_observers.append(self.observe)
        return self

    def observe(self, request: dict[str, Any], status: int, body: bytes) -> None:
        if not 200 <= status < 300 or not body:
            return
        operation = operation_for(request["method"], request["path"])
        if operation is None:
            return
        try:
            document = json.loads(body)
        except ValueError:
            return  # not JSON (a file download): the spec describes JSON only
        self.checked[operation.key] = self.checked.get(operation.key, 0) + 1
        projected = "_fields" in request.get("query", {})
        self.mismatches.extend(self._errors(operation, document, projected))

    def _errors(self, operation: Operation, document: Any, projected: bool) -> Iterator[Mismatch]:
        allowed = SPEC_DEVIATIONS.get(operation.key, {})
        for error in operation.validator.iter_errors(document):
            if projected and error.validator == "required":
                continue  # `_fields` asked for some fields only: those sent must still match
            mismatch = Mismatch(operation.key, _json_path(error), error.message[:300])
            if not any(text in f"{mismatch.where}: {mismatch.message}" for text in allowed):
                yield mismatch

    def fail_on_new(self, seen: int) -> None:
        """Fail the test whose sandbox answered against the spec since ``seen`` mismatches."""
        new = self.mismatches[seen:]
        if new:
            shown = "\n".join(str(m) for m in new[:10])
            raise AssertionError(
                f"{len(new)} sandbox answer(s) differ from Close's response schemas:\n{shown}"
            )

    def summary(self) -> str:
        with_schema = len(operations())
        answers = sum(self.checked.values())
        return (
            f"Close spec response schemas: {with_schema} operations have one; {len(self.checked)} checked "
            f"in this run ({answers} answers), {len(self.mismatches)} mismatches"
        )


def _json_path(error: ValidationError) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
