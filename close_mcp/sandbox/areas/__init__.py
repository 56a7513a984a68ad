"""The sandbox's resources, one module per tool-manifest area (``tool_manifests/<area>.json``).

Each area module declares its ``RESOURCES``, the hooks for behaviour the engine cannot
derive, and its part of the demo seed.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

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

CORE_AREAS = _CORE = (
    leads,
    contacts,
    opportunities,
    activities,
    tasks,
    custom_fields,
    users_org,
    webhooks_events,
)


def _more_areas() -> tuple[ModuleType, ...]:
    """Every other area module of this package, by name: a new area is a new file, nothing else."""
    known = {m.__name__ for m in _CORE}
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        name = f"{__name__}.{info.name}"
        if name not in known and info.name != "common" and not info.name.startswith("_"):
            module = importlib.import_module(name)
            if hasattr(module, "RESOURCES"):
                found.append(module)
    return tuple(found)


# The core areas first (their seed builds the leads the others hang on), then the rest by name.
AREAS = _CORE + _more_areas()


def default_registry() -> Registry:
    return Registry(res for area in AREAS for res in area.RESOURCES)
