"""Webhooks to a real HTTP server on loopback: signature, SSRF guard, redirects, failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from cadenza.channels.errors import BlockedDestination, PermanentError, TransientError
from cadenza.channels.outgoing import OutgoingWebhook
from cadenza.channels.ssrf import blocked_reason
from cadenza.channels.webhooks import WebhookSender, sign, tls_context, verify, webhook_secret
from cadenza.settings import Settings

SECRET = webhook_secret("test-secret-key")
NOW = 1_796_000_000


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the loopback server got; its paths choose the answer."""

    requests: list[Seen] = field(default_factory=list)
    port: int = 0


def make_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append(Seen("POST", self.path, dict(self.headers.items()), body))
            status, headers, text = ANSWERS.get(self.path, (200, {}, "ok"))
            if self.path == "/slow":
                time.sleep(1.5)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting, as the timeout test wants

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    return Handler


ANSWERS: dict[str, tuple[int, dict[str, str], str]] = {
    "/fail": (500, {}, "database exploded\n  badly"),
    "/busy": (429, {"Retry-After": "7"}, "slow down"),
    "/gone": (410, {}, "no such hook"),
    "/redirect": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, ""),
}


@contextmanager
def serve(receiver: Receiver, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(receiver))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve(Receiver()) as running:
        yield running


def resolver_for(table: dict[str, list[str]], calls: list[str] | None = None) -> Any:
    def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        return table[host]

    return resolve


def sender(allow: Sequence[str] = ("127.0.0.1",), **options: Any) -> WebhookSender:
    options.setdefault("clock", lambda: NOW)
    return WebhookSender(SECRET, allow, **options)


def hook(url: str, **overrides: Any) -> OutgoingWebhook:
    fields: dict[str, Any] = {
        "key": "41:notify_crm:1",
        "url": url,
        "payload": {"contact": {"id": 41, "email": "jane@corp.example"}, "step": "notify_crm"},
    }
    fields.update(overrides)
    return OutgoingWebhook(**fields)


def independent_signature(msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def test_the_receiver_gets_the_payload_signed_per_standard_webhooks(receiver: Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.port}/hooks/cadenza"
    extra = {"X-Team": "sales", "webhook-signature": "v1,forged", "Host": "evil.example"}
    result = sender().send(hook(url, headers=extra))

    [seen] = receiver.requests
    assert (seen.method, seen.path) == ("POST", "/hooks/cadenza")
    assert json.loads(seen.body) == hook(url).payload
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["webhook-id"] == "41:notify_crm:1"
    assert seen.headers["webhook-timestamp"] == str(NOW)
    assert seen.headers["webhook-signature"] == independent_signature(
        "41:notify_crm:1", str(NOW), seen.body
    )
    assert seen.headers["X-Team"] == "sales"
    assert seen.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert verify(SECRET, seen.headers, seen.body, clock=lambda: NOW + 60)
    assert (result.provider_id, result.detail) == ("41:notify_crm:1", "HTTP 200")


def test_a_hostname_is_resolved_once_and_the_checked_address_is_the_one_called(
    receiver: Receiver,
) -> None:
    calls: list[str] = []
    resolve = resolver_for({"hooks.internal": ["127.0.0.1"]}, calls)
    url = f"http://hooks.internal:{receiver.port}/in"
    sender(resolver=resolve).send(hook(url))

    assert calls == ["hooks.internal"]  # nothing later can answer differently
    assert receiver.requests[0].headers["Host"] == f"hooks.internal:{receiver.port}"


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.20.30.40", "private"),
        ("192.168.1.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("[fd00:ec2::254]", "cloud metadata"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("169.254.10.1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("100.64.0.1", "non-public"),
    ],
)
def test_internal_addresses_are_refused_with_the_reason(
    receiver: Receiver, host: str, reason: str
) -> None:
    with pytest.raises(BlockedDestination, match=f"a {reason} address") as refused:
        sender(allow=()).send(hook(f"http://{host}:{receiver.port}/"))

    assert "CADENZA_WEBHOOK_ALLOW" in str(refused.value)
    assert receiver.requests == []


def test_a_hostname_resolving_to_a_private_address_is_refused(receiver: Receiver) -> None:
    resolve = resolver_for({"innocent.example.com": ["93.184.215.14", "10.0.0.7"]})
    with pytest.raises(BlockedDestination, match=r"resolves to 10\.0\.0\.7, a private"):
        sender(allow=(), resolver=resolve).send(hook("https://innocent.example.com/hook"))


def test_the_allow_list_takes_addresses_networks_and_hostnames(receiver: Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.port}/"
    named = f"http://hooks.internal:{receiver.port}/"
    resolve = resolver_for({"hooks.internal": ["127.0.0.1"]})

    sender(allow=["127.0.0.0/8"]).send(hook(url))
    sender(allow=["hooks.internal"], resolver=resolve).send(hook(named))
    with pytest.raises(BlockedDestination):
        sender(allow=["10.0.0.0/8", "other.internal"], resolver=resolve).send(hook(named))
    with pytest.raises(BlockedDestination, match="metadata"):
        sender(allow=["10.0.0.0/8"]).send(hook("http://169.254.169.254/latest/meta-data/"))

    assert len(receiver.requests) == 2


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://files.example.com/x", "gopher://127.0.0.1:70/", "//x/y"]
)
def test_only_http_and_https_urls_are_called(url: str) -> None:
    with pytest.raises(BlockedDestination):
        sender().send(hook(url))


@pytest.mark.parametrize(
    "headers", [{"X-Evil": "a\r\nX-Injected: 1"}, {"Bad Name": "x"}, {"": "x"}]
)
def test_a_malformed_header_is_refused_before_anything_is_sent(
    receiver: Receiver, headers: dict[str, str]
) -> None:
    with pytest.raises(PermanentError, match="invalid webhook header"):
        sender().send(hook(f"http://127.0.0.1:{receiver.port}/", headers=headers))
    assert receiver.requests == []


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    with pytest.raises(PermanentError, match=r"redirects are not followed .*302"):
        sender().send(hook(f"http://127.0.0.1:{receiver.port}/redirect"))
    assert [r.path for r in receiver.requests] == ["/redirect"]


def test_a_server_error_is_transient_with_the_start_of_its_answer(receiver: Receiver) -> None:
    with pytest.raises(TransientError, match="HTTP 500: database exploded badly"):
        sender().send(hook(f"http://127.0.0.1:{receiver.port}/fail"))


def test_rate_limiting_is_transient_and_says_when_to_retry(receiver: Receiver) -> None:
    with pytest.raises(TransientError) as caught:
        sender().send(hook(f"http://127.0.0.1:{receiver.port}/busy"))
    assert caught.value.retry_after == 7


def test_a_client_error_is_permanent(receiver: Receiver) -> None:
    with pytest.raises(PermanentError, match="HTTP 410") as caught:
        sender().send(hook(f"http://127.0.0.1:{receiver.port}/gone"))
    assert not isinstance(caught.value, TransientError)


def test_a_slow_receiver_times_out_as_transient(receiver: Receiver) -> None:
    with pytest.raises(TransientError, match=r"did not answer within 0\.3 s"):
        sender(timeout=0.3).send(hook(f"http://127.0.0.1:{receiver.port}/slow"))


def test_an_unreachable_receiver_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientError, match="cannot reach"):
        sender().send(hook(f"http://127.0.0.1:{port}/"))  # nothing listens there any more


def test_https_checks_the_certificate_against_the_name_while_calling_the_address(
    tmp_path: Path,
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=hooks.internal", "-addext", "subjectAltName=DNS:hooks.internal",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))
    resolve = resolver_for({"hooks.internal": ["127.0.0.1"], "wrong.internal": ["127.0.0.1"]})
    with serve(Receiver(), tls=server_tls) as receiver:
        transport = httpx.HTTPTransport(verify=trust)
        good = sender(transport=transport, resolver=resolve)
        good.send(hook(f"https://hooks.internal:{receiver.port}/secure"))
        with pytest.raises(TransientError, match="cannot reach"):
            good.send(hook(f"https://wrong.internal:{receiver.port}/secure"))  # name mismatch
        assert [r.path for r in receiver.requests] == ["/secure"]
        assert receiver.requests[0].headers["Host"] == f"hooks.internal:{receiver.port}"


def test_signatures_match_the_standard_webhooks_reference_vector() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, secret)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": f"v1,bm90IGl0 {signature}",  # rotation: any one may match
    }
    assert verify(secret, headers, body, clock=lambda: 1614265330)
    assert not verify(secret, headers, body + b" ", clock=lambda: 1614265330)
    assert not verify(secret, headers, body, clock=lambda: 1614265330 + 301)  # replayed late
    assert not verify(secret, {**headers, "webhook-timestamp": "soon"}, body)


def test_the_secret_is_derived_from_the_secret_key_as_documented() -> None:
    key = hmac.new(b"test-secret-key", b"cadenza:webhooks", hashlib.sha256).digest()
    assert SECRET == "whsec_" + base64.b64encode(key).decode()
    assert WebhookSender.from_settings(Settings(secret_key="test-secret-key")) is not None
    with pytest.raises(ValueError):
        WebhookSender("whsec_", [])


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64 wrapping 169.254.169.254
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::", "unspecified"),
    ],
)
def test_blocked_reason_sees_through_ipv6_wrappings(address: str, reason: str | None) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


def test_every_sender_shares_one_verifying_tls_context() -> None:
    """Loading the CA bundle costs tens of milliseconds: the subscriptions, which make a
    sender per delivery attempt, must not pay it at every attempt."""
    context = tls_context()
    assert context is tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
