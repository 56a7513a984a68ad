"""The request plan: one tool call turned into the exact Close request it makes.

Made once by the executor, then used by everything that needs to know about the call: the call
itself, the dry run, the confirmation preview, error messages (which IDs it names) and the audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote


def fill_path(template: str, values: dict[str, Any]) -> str:
    """Fill ``{name}`` placeholders with URL-quoted argument values (the one place this is done)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", quote(str(value), safe=""))
    return template


@dataclass
class RequestPlan:
    tool: str
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    ids: dict[str, str] = field(default_factory=dict)  # path arguments: the objects the call names
    idempotent: bool = True  # may be retried when the answer was lost (the manifest's hint)
    preview_path: str | None = None  # GET read first to show what a destructive call affects
    preview_second_path: str | None = None  # and the second object it touches (a merge's destination)
    default_view: bool = False  # the manifest's compact view applies to the result

    def wire(self, base_url: str) -> dict[str, Any]:
        """What a dry run shows: the request exactly as it would be sent."""
        return {"method": self.method, "url": base_url + self.path, "query": self.params, "body": self.body}
