"""Limits before work: a Host allow-list, and request bodies capped before they are read.

One ASGI middleware in front of every route (API, inbound webhooks and pages). A Host that is
not allowed gets 400, so a page served under a rebound name cannot pass the origin check of
the UI's forms. A body whose `Content-Length` is over its route's cap gets 413 before a byte
of it is read; a body without one (chunked) is counted as it streams and refused at the cap.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cadenza.api.problems import problem
from cadenza.settings import Settings

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
# The name Starlette's TestClient gives requests: allowed in test runs only.
TEST_HOSTS = ("testserver",)
IMPORT_PATH = "/api/v1/contacts/import"
INBOUND_EMAIL_PATH = "/api/v1/inbound/email"
PROVIDERS_PATH = "/api/v1/inbound/providers/"  # provider webhooks carry whole emails too


class BodyTooLarge(HTTPException):
    """A streamed body passed its cap: 413 (an HTTPException, so body parsing lets it by)."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail, headers={"Connection": "close"})


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """The Host names this server answers to (lowercase; `*.domain` and `*` as patterns)."""
    base = urlsplit(settings.base_url).hostname or ""
    names = [base, *settings.allowed_hosts] if settings.allowed_hosts else [base, *LOCAL_HOSTS]
    if settings.environment == "test":
        names.extend(TEST_HOSTS)
    return tuple(dict.fromkeys(n.strip().lower().strip("[]") for n in names if n.strip()))


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """True when `host` (without its port) is in `allowed` or matches one of its patterns."""
    for name in allowed:
        if name == "*" or name == host:
            return True
        if name.startswith("*.") and host.endswith(name[1:]):
            return True
    return False


def host_of(value: str) -> str:
    """The name in a Host header, without the port: `[::1]:8000` is `::1`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


class RequestLimits:
    """The middleware: a Host outside the allow-list is 400, a body over its cap 413."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.allowed = allowed_hosts(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = host_of(headers.get("host", ""))
        if not host_allowed(host, self.allowed):
            detail = f"this server does not answer to the Host {host!r} (CADENZA_ALLOWED_HOSTS)"
            await problem(400, "Bad request", detail)(scope, receive, send)
            return
        cap, setting = self.cap(scope)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            refusal = _too_large(cap, setting) if declared.isdigit() else _bad_length()
            await refusal(scope, receive, send)
            return
        await self._counted(scope, receive, send, cap, setting)

    def cap(self, scope: Scope) -> tuple[int, str]:
        """The largest body a request to this route may have, and the setting that says so."""
        path, settings = scope["path"], self.settings
        if path == IMPORT_PATH:
            return settings.max_import_bytes, "CADENZA_MAX_IMPORT_BYTES"
        if path == INBOUND_EMAIL_PATH or path.startswith(PROVIDERS_PATH):
            return settings.max_inbound_email_bytes, "CADENZA_MAX_INBOUND_EMAIL_BYTES"
        return settings.max_body_bytes, "CADENZA_MAX_BODY_BYTES"

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, cap: int, setting: str
    ) -> None:
        received = 0
        started = False

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(_detail(cap, setting))
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting, tracking)
        except BodyTooLarge:
            # Read outside the routes' own handling (a dependency, a thread): answer here.
            if started:
                raise
            await _too_large(cap, setting)(scope, receive, send)


def _detail(cap: int, setting: str) -> str:
    return f"the request body is larger than {cap} bytes, the limit of this route ({setting})"


def _too_large(cap: int, setting: str) -> JSONResponse:
    response = problem(413, "Payload too large", _detail(cap, setting))
    response.headers["Connection"] = "close"  # the rest of the body is never read
    return response


def _bad_length() -> JSONResponse:
    return problem(400, "Bad request", "the Content-Length header is not a number of bytes")
