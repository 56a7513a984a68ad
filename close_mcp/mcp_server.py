"""The MCP server generated from the manifests, on the SDK's low-level ``Server``: wiring only.

The handlers live in :mod:`close_mcp.tool_handlers`; :mod:`close_mcp.app` decides what they get.
"""

from __future__ import annotations

import warnings
from typing import Any, cast

from mcp.server import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.shared.exceptions import MCPDeprecationWarning

from close_mcp import __version__
from close_mcp.protocol import ProtocolHandlers
from close_mcp.tool_arguments import STANDARD_ARGUMENTS_TEXT
from close_mcp.tool_handlers import CallTool, ListTools

INSTRUCTIONS = (
    "Tools for one Close CRM organization. Find records with search_leads / search_opportunities (statuses, "
    "users and custom fields by name; exact counts) or list_leads (query searches names, contacts, emails, "
    "phones) before creating, to avoid duplicates; get_lead_overview shows a lead whole. Money values are integer cents. List results are "
    "trimmed to fit your context: follow next_cursor to continue. Deletes, merges and sends are irreversible: "
    "such tools need the user's confirmation. "
    "IDs carry their kind as a prefix (lead_, cont_, oppo_, acti_, task_, user_, stat_, cf_, …); an argument "
    "named x_id takes the ID of an x, found with list_xs (statuses: list_lead_statuses, list_pipelines; the "
    "organization: get_current_user). Dates are ISO-8601: 2026-03-01 or 2026-03-01T15:00:00Z; phones E.164 "
    '(+15125551234). custom takes custom field values by name or cf_ ID, e.g. {"Industry": "Software"} '
    "(list_*_custom_fields gives names, types and choices); null clears a value. On update, emails, phones, urls and addresses replace the whole list. "
    + STANDARD_ARGUMENTS_TEXT
)


class CloseMcpServer(Server[Any]):
    """The SDK's low-level server, declaring ``tools.listChanged`` (discovery changes a session's list)
    whichever transport creates the initialization options."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True),
            experimental_capabilities,
            extensions,
        )


def build_server(list_tools: ListTools, call_tool: CallTool, protocol: ProtocolHandlers) -> Server[Any]:
    with warnings.catch_warnings():
        # The logging capability is deprecated by SEP-2577 (2026-07-28) but hosts still use it and the
        # agent-grade issue asks for it: keep it without a warning on every start (stderr is the log).
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        return _server(list_tools, call_tool, protocol)


def _server(list_tools: ListTools, call_tool: CallTool, protocol: ProtocolHandlers) -> Server[Any]:
    return CloseMcpServer(
        "close-mcp",
        version=__version__,
        title="Close CRM",
        instructions=INSTRUCTIONS,
        # ListTools answers with the result's wire form (a dict, serialized once per visible set); the
        # runner takes a dict result as it takes a model (mcp.server.runner._dump_result), though the
        # handler's annotation names the model only.
        on_list_tools=cast(Any, list_tools),
        on_call_tool=call_tool,
        on_list_resources=protocol.list_resources,
        on_list_resource_templates=protocol.list_templates,
        on_read_resource=protocol.read_resource,
        on_list_prompts=protocol.list_prompts,
        on_get_prompt=protocol.get_prompt,
        on_completion=protocol.complete,
        on_set_logging_level=protocol.set_level,
        on_subscribe_resource=protocol.subscribe,  # declares resources.subscribe
        on_unsubscribe_resource=protocol.unsubscribe,
    )
