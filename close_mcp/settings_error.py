"""The one exception for bad configuration: shown at start-up as one line, never a traceback."""

from __future__ import annotations


class SettingsError(Exception):
    """A one-line configuration problem shown at start-up instead of a traceback."""
