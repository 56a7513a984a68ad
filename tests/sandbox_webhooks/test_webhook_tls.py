"""verify_ssl (D-HOOK, SPEC2): against a real TLS receiver with a self-signed certificate,
a verifying subscription fails and one with ``verify_ssl: false`` is delivered."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
import uvicorn

from close_mcp.sandbox.webhook_delivery import WebhookDispatcher
from close_mcp.uvicorn_runner import bind

from ._receiver import Receiver, make_event, wait_for
from .conftest import FAST

pytestmark = pytest.mark.anyio


def self_signed(directory: Path) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@asynccontextmanager
async def tls_receiver(directory: Path) -> AsyncIterator[Receiver]:
    cert, key = self_signed(directory)
    sock = bind("127.0.0.1", 0)
    receiver = Receiver(base_url=f"https://127.0.0.1:{sock.getsockname()[1]}")
    config = uvicorn.Config(
        receiver.app(), log_level="warning", ssl_certfile=str(cert), ssl_keyfile=str(key), lifespan="off"
    )
    server = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            await wait_for(lambda: server.started)
            try:
                yield receiver
            finally:
                receiver.release.set()
                server.should_exit = True
    finally:
        sock.close()


async def test_verify_ssl_false_skips_certificate_checks(tmp_path: Path) -> None:
    async with tls_receiver(tmp_path) as receiver:
        events = [{"object_type": "lead", "action": "created"}]
        strict = receiver.subscription("strict", events)
        lax = receiver.subscription("lax", events, verify_ssl=False)
        async with WebhookDispatcher(FAST) as d:
            assert d.submit(make_event(), [strict, lax]) == [strict["id"], lax["id"]]
            await wait_for(lambda: d.health(lax["id"])["counters"].get("delivered") == 1)
            await wait_for(lambda: d.health(strict["id"])["counters"].get("failed_attempts", 0) >= 1)
        assert receiver.to("strict") == []
        assert len(receiver.to("lax")) == 1 and receiver.to("lax")[0].verified
        assert strict["latest_error"].startswith("Connection error: ConnectError")
        assert "certificate verify failed" in strict["latest_error"].lower()
