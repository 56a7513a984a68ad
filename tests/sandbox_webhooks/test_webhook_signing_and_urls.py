"""Close's signature scheme (close-api.md §7) and the https-only URL policy."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from close_mcp.sandbox.webhook_delivery import (
    check_webhook_url,
    delivery_body,
    sign,
    signed_headers,
    verify_signature,
)

from ._receiver import make_event

# The key of Close's own docs example (D-HOOK, SPEC2).
KEY = "058bfb6a3d8cfdc4da7c3be5901b16ae11da982b46a25fb2cd7016e97a140a1c"


def closes_python_sample(headers: dict[str, str], payload: str) -> bool:
    """Close's documented receiver check, verbatim in substance (D-HOOK)."""
    data = headers["close-sig-timestamp"] + payload
    signature = hmac.new(bytearray.fromhex(KEY), data.encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["close-sig-hash"], signature)


def test_headers_pass_closes_documented_check() -> None:
    event = make_event(data={"id": "lead_x", "name": "Zoë — naïve 日本"})
    body = delivery_body(event, "whsub_" + "a" * 22)
    headers = signed_headers(KEY, body, timestamp=1544271440)
    assert headers["close-sig-timestamp"] == "1544271440"
    assert headers["content-type"] == "application/json"
    assert (
        len(headers["close-sig-hash"]) == 64
        and headers["close-sig-hash"] == headers["close-sig-hash"].lower()
    )
    assert closes_python_sample(headers, body.decode("utf-8"))
    assert json.loads(body) == {"event": event, "subscription_id": "whsub_" + "a" * 22}
    assert "Zoë — naïve 日本".encode() in body  # UTF-8, not \\u escapes


def test_key_is_hex_decoded_not_used_as_text() -> None:
    body = b'{"event":{},"subscription_id":"whsub_x"}'
    as_text = hmac.new(KEY.encode(), b"1" + body, hashlib.sha256).hexdigest()
    assert sign(KEY, "1", body) != as_text


def test_verify_signature_accepts_the_real_one_and_nothing_else() -> None:
    body = delivery_body(make_event(), "whsub_x")
    good = sign(KEY, "1700000000", body)
    assert verify_signature(KEY, "1700000000", body, good)
    assert verify_signature(KEY, "1700000000", body.decode(), good)
    assert not verify_signature(KEY, "1700000001", body, good)
    assert not verify_signature(KEY, "1700000000", body + b" ", good)
    assert not verify_signature("00" * 32, "1700000000", body, good)
    assert not verify_signature(KEY, "1700000000", body, good[:-1])
    assert not verify_signature(KEY, "1700000000", body, good.upper())
    assert not verify_signature("not hex", "1700000000", body, good)
    assert not verify_signature(KEY, "1700000000", body, "é" * 64)
    assert not verify_signature(KEY, "1700000000", body, "")


ALWAYS_OK = ["https://example.com/hook", "https://127.0.0.1:8443/x", "HTTPS://Example.COM"]
LOOPBACK_HTTP = [
    "http://127.0.0.1:8000/hooks/a",
    "http://localhost/hook",
    "http://LOCALHOST:9/x",
    "http://[::1]:8000/x",
    "http://127.8.9.10/x",
]
NEVER_OK = [
    "http://example.com/hook",
    "http://127.0.0.1.evil.example/x",
    "http://localhost.example/x",
    "http://10.0.0.1/x",
    "ftp://127.0.0.1/x",
    "ws://localhost/x",
    "127.0.0.1:8000/x",
    "https:///nohost",
    "http://[::1/x",
    "https://example.com:99999/x",
]


@pytest.mark.parametrize("url", ALWAYS_OK)
def test_https_is_allowed(url: str) -> None:
    assert check_webhook_url(url, allow_loopback_http=False) is None


@pytest.mark.parametrize("url", LOOPBACK_HTTP)
def test_loopback_http_only_with_the_option(url: str) -> None:
    assert check_webhook_url(url, allow_loopback_http=True) is None
    problem = check_webhook_url(url, allow_loopback_http=False)
    assert problem and problem.startswith("Must be an https URL.") and "allow_loopback_http" in problem


@pytest.mark.parametrize("url", NEVER_OK)
def test_other_urls_are_refused_even_with_the_option(url: str) -> None:
    assert check_webhook_url(url, allow_loopback_http=True)
    assert check_webhook_url(url, allow_loopback_http=False)


@pytest.mark.parametrize(
    ("url", "text"),
    [(None, "This field is required."), ("", "This field is required."), (5, "Not a valid string.")],
)
def test_missing_or_wrong_type(url: object, text: str) -> None:
    assert check_webhook_url(url, allow_loopback_http=True) == text
