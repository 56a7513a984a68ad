"""The declarative resource engine: declare a Close resource once, get its endpoints."""

from close_mcp.sandbox.engine.context import Ctx, json_response, one
from close_mcp.sandbox.engine.registry import Registry
from close_mcp.sandbox.engine.resource import (
    CRUD,
    READ,
    UNSET,
    Field,
    Hooks,
    Parent,
    Resource,
    Route,
    choice,
    names,
)

__all__ = [
    "CRUD",
    "READ",
    "UNSET",
    "Ctx",
    "Field",
    "Hooks",
    "Parent",
    "Registry",
    "Resource",
    "Route",
    "choice",
    "json_response",
    "names",
    "one",
]
