"""The declarative resource engine: declare a Close resource once, get its endpoints.

A plain resource is one declaration in its area module (``close_mcp/sandbox/areas/``)::

    COMMENT = Resource(
        "comment", "Comment", "/comment/", "comm",          # name, 404 model, URL, id prefix
        fields=(Field("lead_id", ref="lead", required=True), Field("body", "str", default="")),
        parent=Parent("lead", "lead_id"),                    # deleted with / merged with its lead
        filters=("lead_id",), create_status=201, delete_status=204,
    )

and is listed in the area's ``RESOURCES``. That yields ``GET/POST /comment/`` and
``GET/PUT/DELETE /comment/{id}/`` with validation (types, choices, required, references),
``_fields``, filters, ``_order_by``, offset or cursor pagination, audit stamps and
``comment.created/updated/deleted`` events. Behaviour the declaration cannot express goes
into :class:`Hooks` or extra :class:`Route` entries; :mod:`.write` offers the same writes
to hooks (``create``, ``update``, ``patch``, ``insert``, ``delete``, ``move_children``).
"""

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
