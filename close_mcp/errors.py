"""Everything that can go wrong talking to Close, and what an agent should do about it.

    CloseError
    ├── TransportError            no usable HTTP answer
    │   ├── RequestNotSent        connect failed / refused: Close never saw the request
    │   └── ResponseLost          timeout or dropped connection after sending: a write may have happened
    ├── RateLimitBudgetExceeded   the 429 pause is longer than this call may wait
    ├── WriteNotDone              an ambiguous write, checked: not made, safe to retry
    ├── WriteUndecided            an ambiguous write close-mcp could not settle: what to check
    └── APIStatusError            Close answered with an error status
        ├── ValidationFailed (400)  carries ``errors`` and ``field_errors``
        ├── Unauthorized (401) · PaymentRequired (402) · Forbidden (403) · NotFound (404)
        ├── MethodNotAllowed (405) · UnsupportedMediaType (415) · RateLimited (429)
        └── ServerError (5xx)

Every exception carries the request method and path, never the credential.
:func:`agent_message` is the one function that turns them into tool-error text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from close_mcp.credentials import CredentialSource


class CloseError(Exception):
    attempts = 1  # requests the call sent before giving up (set by the client)

    def __init__(self, method: str, path: str, detail: str = "") -> None:
        super().__init__(f"{method} {path}: {detail}" if detail else f"{method} {path}")
        self.method, self.path, self.detail = method, path, detail

    @property
    def is_write(self) -> bool:
        return self.method != "GET"


class TransportError(CloseError):
    pass


class RequestNotSent(TransportError):
    pass


class ResponseLost(TransportError):
    """``timed_out``: we gave up waiting (Close may still be working on it), rather than the connection
    being dropped."""

    def __init__(self, method: str, path: str, detail: str = "", *, timed_out: bool = False) -> None:
        super().__init__(method, path, detail)
        self.timed_out = timed_out


class RateLimitBudgetExceeded(CloseError):
    """The call cannot finish within its budget: a wait longer than the budget left, or the cap on
    requests per call reached (``capped``)."""

    def __init__(
        self,
        method: str,
        path: str,
        wait_seconds: float,
        budget: float,
        *,
        left: float | None = None,
        requests: int = 0,
        capped: bool = False,
    ) -> None:
        super().__init__(method, path, f"rate limited for {wait_seconds:.1f}s, budget {budget:.1f}s")
        self.wait_seconds, self.budget = wait_seconds, budget
        self.left = budget if left is None else left
        self.requests, self.capped = requests, capped


class WriteNotDone(CloseError):
    """An ambiguous write (``cause``) that close-mcp checked (``how``) and found not made: nothing
    changed, the call is safe to repeat (see :mod:`close_mcp.reconcile`)."""

    def __init__(self, cause: CloseError, how: str) -> None:
        super().__init__(cause.method, cause.path, cause.detail)
        self.cause, self.how = cause, how
        self.attempts = cause.attempts


class WriteUndecided(CloseError):
    """An ambiguous write close-mcp could not settle (``why``); ``check`` says exactly what to look at."""

    def __init__(self, cause: CloseError, why: str, check: str) -> None:
        super().__init__(cause.method, cause.path, cause.detail)
        self.cause, self.why, self.check = cause, why, check
        self.attempts = cause.attempts


class APIStatusError(CloseError):
    status = 0

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(method, path, f"HTTP {status}")
        self.status, self.body = status, body

    @property
    def close_message(self) -> str:
        """Close's own error text (``{"error": "…"}`` or ``{"errors": [...]}``), if any."""
        body = self.body
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, str):
                return err
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                return str(err["message"])
            if body.get("errors"):
                return "; ".join(map(str, body["errors"]))
        return ""


class ValidationFailed(APIStatusError):
    status = 400

    @property
    def errors(self) -> list[str]:
        return list(self.body.get("errors") or []) if isinstance(self.body, dict) else []

    @property
    def field_errors(self) -> dict[str, Any]:
        return dict(self.body.get("field-errors") or {}) if isinstance(self.body, dict) else {}


class Unauthorized(APIStatusError):
    status = 401


class PaymentRequired(APIStatusError):
    status = 402


class Forbidden(APIStatusError):
    status = 403


class NotFound(APIStatusError):
    status = 404


class MethodNotAllowed(APIStatusError):
    status = 405


class UnsupportedMediaType(APIStatusError):
    status = 415


class RateLimited(APIStatusError):
    status = 429


class ServerError(APIStatusError):
    pass


_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.status: cls
    for cls in (
        ValidationFailed,
        Unauthorized,
        PaymentRequired,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        UnsupportedMediaType,
        RateLimited,
    )
}


def status_error(method: str, path: str, status: int, body: Any) -> APIStatusError:
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIStatusError)
    return cls(method, path, status, body)


@dataclass
class CallContext:
    """What the error text may mention about the call: the tool, its path IDs, how to check a write,
    and where its credential came from (what to fix when Close refuses it)."""

    tool: str
    ids: dict[str, str] = field(default_factory=dict)
    lookup_hint: str | None = None
    credential: CredentialSource = field(default_factory=CredentialSource)


def _write_check(ctx: CallContext) -> str:
    how = f"with {ctx.lookup_hint}" if ctx.lookup_hint else "by reading the object back"
    return f"The change may or may not have been made: check {how} before trying again, or you may create a duplicate."


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def lost_answer(exc: CloseError) -> str:
    """A write's lost answer in a few words (what the reconciliation notes and errors start from)."""
    if isinstance(exc, APIStatusError):
        return f"Close answered {exc.status} to {exc.method} {exc.path}"
    return f"the answer to {exc.method} {exc.path} was lost ({exc.detail})"


def _unauthorized(source: CredentialSource) -> str:
    """What to fix depends on who supplied the credential Close refused."""
    if source.origin == "client":
        header, what = (
            ("Close-API-Key", "the Close API key")
            if source.kind == "api_key"
            else ("Close-Access-Token", "the Close OAuth access token")
        )
        fix = (
            "Put a valid Close API key in the Close-API-Key header of your MCP client's configuration"
            if source.kind == "api_key"
            else "Get a fresh OAuth access token (it may have expired) and send it in the Close-Access-Token header"
        )
        return (
            f"Close refused {what} this MCP client sent in its {header} header (401 Unauthorized): it is "
            f"invalid, revoked or expired. {fix}, then reconnect; the close-mcp server itself needs no change. "
            "Retrying will not help."
        )
    if source.kind == "oauth":
        return (
            "Close refused the OAuth access token close-mcp was started with (401 Unauthorized): it is invalid, "
            "revoked or expired. Set a fresh CLOSE_ACCESS_TOKEN where close-mcp is configured and restart "
            "close-mcp. Retrying will not help."
        )
    return (
        "Close refused the API key close-mcp was started with (401 Unauthorized): it is invalid, revoked or "
        "expired. Set a valid CLOSE_API_KEY where close-mcp is configured (the MCP host's settings or the "
        "server's environment) and restart close-mcp; `close-mcp doctor` checks a key. Retrying will not help."
    )


def agent_message(exc: CloseError, ctx: CallContext) -> str:
    """The text of the tool error: what happened, then what to do."""
    where = f"{exc.method} {exc.path}"
    if isinstance(exc, RateLimitBudgetExceeded):
        sent = "No request went through (Close answered 429 to each)" if exc.requests else "Nothing was sent"
        if exc.capped:
            return (
                f"Close kept refusing {where} with 429 Too Many Requests: close-mcp sent {exc.requests} "
                f"requests for this call and stopped. {sent}. Wait a few seconds, then retry {ctx.tool}; "
                "make fewer calls at once."
            )
        if exc.wait_seconds <= 0:
            return (
                f"Close did not answer {where} within this call's time ({exc.budget:.0f} s wait budget plus "
                f"the HTTP timeout), after {exc.requests} request(s). Retry {ctx.tool} later."
            )
        return (
            f"Close rate limit: this call would have to wait {exc.wait_seconds:.1f} s, but only "
            f"{exc.left:.1f} s of its {exc.budget:.0f} s wait budget is left. {sent}. Retry {ctx.tool} in "
            f"{max(1, round(exc.wait_seconds))} s or more, or make fewer calls at once."
        )
    if isinstance(exc, WriteNotDone):
        return (
            f"Not done: {lost_answer(exc.cause)}; close-mcp checked ({exc.how}) and the write was not made. "
            f"Nothing changed: it is safe to call {ctx.tool} again."
        )
    if isinstance(exc, WriteUndecided):
        return (
            f"{_sentence(lost_answer(exc.cause))}, and close-mcp could not tell whether the write was made: "
            f"{exc.why}. {exc.check}, or you may create a duplicate."
        )
    if isinstance(exc, RequestNotSent):
        return (
            f"Could not connect to Close ({exc.detail}). The request was not sent, so nothing changed. "
            "Check the network or CLOSE_API_BASE_URL, then retry."
        )
    if isinstance(exc, ResponseLost):
        if exc.is_write:
            return f"The connection to Close failed after the request was sent ({exc.detail}). {_write_check(ctx)}"
        tries = f"{exc.attempts} attempts" if exc.attempts > 1 else "one attempt"
        return f"Close did not answer ({exc.detail}) after {tries}. Retry {ctx.tool} in a moment."
    assert isinstance(exc, APIStatusError)
    said = exc.close_message.rstrip(" .") if exc.close_message else None  # our sentences add the period
    if isinstance(exc, ValidationFailed):
        parts = [f"{k}: {v}" for k, v in exc.field_errors.items()] + exc.errors
        detail = "; ".join(parts).rstrip(" .") or said or "no details given"
        return f"Close rejected the request (400 Bad Request): {detail}. Fix these arguments and call {ctx.tool} again."
    if isinstance(exc, Unauthorized):
        return _unauthorized(ctx.credential)
    if isinstance(exc, PaymentRequired):
        return "Close says a limit of the organization's plan was reached (402 Payment Required). Upgrade the plan or reduce usage; retrying will not help."
    if isinstance(exc, Forbidden):
        return (
            f"Close does not allow this for the user behind the key (403 Forbidden){': ' + said if said else ''}. "
            "An admin in Close must grant the permission (or use an admin's key); retrying will not help."
        )
    if isinstance(exc, NotFound):
        if ctx.ids:
            named = ", ".join(f"{k}={v}" for k, v in ctx.ids.items())
            return (
                f"Not found (404): no object with {named} exists in this Close organization, or the key cannot see it. "
                "Check the ID (list or search tools give valid IDs); it may have been deleted or merged."
            )
        return f"Not found (404){': ' + said if said else ''}. Check the IDs you passed; they may have been deleted or merged."
    if isinstance(exc, MethodNotAllowed | UnsupportedMediaType):
        return f"Close refused {where} ({exc.status}): this is a bug in close-mcp's manifest for {ctx.tool}; please report it."
    if isinstance(exc, RateLimited):
        return f"Close kept answering 429 Too Many Requests for {where}. Wait a few seconds and retry {ctx.tool}."
    if isinstance(exc, ServerError):
        if exc.is_write:
            return f"Close had a server error ({exc.status}) on {where}. {_write_check(ctx)}"
        if exc.attempts > 1:
            return (
                f"Close had a server error ({exc.status}) on {where} on each of {exc.attempts} attempts. "
                f"Retry {ctx.tool} later."
            )
        return f"Close had a server error ({exc.status}) on {where}. Retry {ctx.tool} later; if it persists, Close may be having an outage."
    return f"Close answered {exc.status} on {where}{': ' + said if said else ''}."
