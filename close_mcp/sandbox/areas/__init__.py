"""The sandbox's resources, one module per tool-manifest area (``tool_manifests/<area>.json``).

Each area module declares its ``RESOURCES``, the hooks for behaviour the engine cannot
derive, and its part of the demo seed.
"""

from __future__ import annotations

from close_mcp.sandbox.areas import (
    activities,
    contacts,
    custom_fields,
    leads,
    opportunities,
    tasks,
    users_org,
    webhooks_events,
)
from close_mcp.sandbox.engine import Registry

AREAS = (leads, contacts, opportunities, activities, tasks, custom_fields, users_org, webhooks_events)


def default_registry() -> Registry:
    return Registry(res for area in AREAS for res in area.RESOURCES)
