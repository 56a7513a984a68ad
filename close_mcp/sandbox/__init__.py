"""A faithful local Close REST API v1 server: the embedded try-it default and every test's upstream."""

from close_mcp.sandbox.app import API_PREFIX, DEMO_API_KEY, Sandbox, SandboxConfig
from close_mcp.sandbox.auth import SandboxCredential
from close_mcp.sandbox.faults import FaultRule
from close_mcp.sandbox.runner import RunningSandbox, run_sandbox

__all__ = [
    "API_PREFIX",
    "DEMO_API_KEY",
    "FaultRule",
    "RunningSandbox",
    "Sandbox",
    "SandboxConfig",
    "SandboxCredential",
    "run_sandbox",
]
