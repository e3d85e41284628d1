"""Inbound endpoints: email and SMS webhooks, open pixel, click redirect, unsubscribe (thin).

The webhooks under /api/v1/inbound need credentials (see `inbound_credentials`); the
tracking and unsubscribe links stay public, as a token signed with the secret key.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cadenza.api.inbound_auth import inbound_credentials
from cadenza.api.v1.errors import UnsupportedMediaType
from cadenza.api.v1.schemas import ERRORS, FORBIDDEN, UNSUPPORTED
from cadenza.channels.errors import InvalidToken
from cadenza.channels.sms import SmsProvider, make_provider
from cadenza.channels.tracking import PIXEL_GIF
from cadenza.errors import Forbidden, ValidationFailed
from cadenza.services import inbound
from cadenza.settings import Settings
from cadenza.store.db import writing

T = TypeVar("T")
EMAIL_TYPES = ("message/rfc822", "application/octet-stream")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}

router = APIRouter()
# Every webhook: credentials first, so that nothing of a refused request is read or done.
webhooks = APIRouter(
    prefix="/api/v1/inbound",
    tags=["inbound"],
    dependencies=[Depends(inbound_credentials)],
    responses=ERRORS | FORBIDDEN,
)
# The bodies the routes read themselves, documented for clients (and generated tests).
_EMAIL_BODY = {
    "required": True,
    "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in EMAIL_TYPES},
}
_SMS_FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {
                    name: {"type": "string"} for name in ("From", "To", "Body", "MessageSid")
                },
                "required": ["From", "To"],
            }
        }
    },
}
_STATUS_FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {
                    name: {"type": "string"}
                    for name in ("MessageSid", "MessageStatus", "ErrorCode", "ErrorMessage")
                },
            }
        }
    },
}


async def _transaction(request: Request, work: Callable[[Session, datetime, Settings], T]) -> T:
    """Run `work` in one write transaction, off the event loop."""
    state = request.app.state

    def run() -> T:
        with writing(state.sessions) as session:
            return work(session, state.clock.now(), state.settings)

    return await run_in_threadpool(run)


@webhooks.post("/email", responses=UNSUPPORTED, openapi_extra={"requestBody": _EMAIL_BODY})
async def inbound_email(
    request: Request, recipients: Annotated[list[str] | None, Query()] = None
) -> dict[str, Any]:
    """A raw RFC 5322 email (reply, bounce, auto-reply, lead); `recipients`: its envelope."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in EMAIL_TYPES:
        raise UnsupportedMediaType(f"post the raw email as {' or '.join(EMAIL_TYPES)}")
    raw = await request.body()  # capped before it is read (CADENZA_MAX_INBOUND_EMAIL_BYTES)
    if not raw.strip():
        raise ValidationFailed("the body is empty: post the raw email")
    # Repeated (?recipients=a&recipients=b) or comma-separated (?recipients=a,b).
    to = [r.strip() for item in recipients or [] for r in item.split(",") if r.strip()]
    result = await _transaction(
        request,
        lambda session, now, settings: inbound.handle_email(
            session=session, raw=raw, recipients=to, now=now, settings=settings
        ),
    )
    return result.as_json()


@webhooks.post("/sms", openapi_extra={"requestBody": _SMS_FORM})
async def inbound_sms_webhook(request: Request) -> Response:
    """Twilio's incoming-message webhook (From, To, Body); answers TwiML."""
    form = await _provider_form(request)
    missing = [name for name in ("From", "To") if not form.get(name)]
    if missing:
        raise ValidationFailed(f"missing form fields: {', '.join(missing)}")
    inline = request.app.state.settings.sms_provider == "twilio"
    result = await _transaction(
        request,
        lambda session, now, settings: inbound.handle_sms(
            session=session,
            from_number=form["From"],
            to_number=form["To"],
            body=form.get("Body", ""),
            now=now,
            settings=settings,
            answer_inline=inline,
        ),
    )
    reply = f"<Message>{escape(result.reply)}</Message>" if inline and result.reply else ""
    twiml = f'<?xml version="1.0" encoding="UTF-8"?><Response>{reply}</Response>'
    return Response(twiml, media_type="application/xml")


@webhooks.post("/sms/status", status_code=204, openapi_extra={"requestBody": _STATUS_FORM})
async def inbound_sms_status(request: Request) -> Response:
    """Twilio's status callback: the outbox message's delivery status; failures recorded."""
    form = await _provider_form(request)
    await _transaction(
        request,
        lambda session, now, settings: inbound.record_sms_status(
            session=session, params=form, now=now, settings=settings
        ),
    )
    return Response(status_code=204)


@router.get("/t/o/{token}", include_in_schema=False)
async def open_pixel(request: Request, token: str) -> Response:
    """The 1x1 GIF, whatever the token (no information leak); only a valid one records."""
    try:
        await _transaction(
            request,
            lambda session, now, settings: inbound.record_open(
                session=session, token=token, now=now, settings=settings
            ),
        )
    except InvalidToken:
        pass
    return Response(PIXEL_GIF, media_type="image/gif", headers=NO_STORE)


@router.get("/t/c/{token}", include_in_schema=False)
async def click(request: Request, token: str) -> RedirectResponse:
    """302 to the URL inside a valid click token, and nowhere else (404 otherwise)."""
    url = await _transaction(
        request,
        lambda session, now, settings: inbound.record_click(
            session=session, token=token, now=now, settings=settings
        ),
    )
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


@router.get("/u/{token}", include_in_schema=False)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    """A confirmation page: a GET never unsubscribes (mail scanners prefetch links)."""
    inbound.check_unsubscribe(token=token, settings=request.app.state.settings)
    return HTMLResponse(
        _page(_CONFIRM.format(token=html.escape(token, quote=True))), headers=NO_STORE
    )


@router.post("/u/{token}", include_in_schema=False)
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """RFC 8058 one-click (`List-Unsubscribe=One-Click`) and the confirmation page's button."""
    await _transaction(
        request,
        lambda session, now, settings: inbound.unsubscribe(
            session=session, token=token, now=now, settings=settings
        ),
    )
    return HTMLResponse(_page(_DONE), headers=NO_STORE)


async def _provider_form(request: Request) -> dict[str, str]:
    """The POSTed form, its provider signature checked when the provider signs (Twilio).

    The development sink signs nothing, so its texts are taken only where development (or a
    test run) was chosen: elsewhere anyone holding the webhook's credentials could fake them.
    """
    settings: Settings = request.app.state.settings
    if settings.sms_provider == "sink" and not (
        settings.development_chosen or settings.environment == "test"
    ):
        raise Forbidden(
            "the development SMS sink takes inbound texts only with "
            "CADENZA_ENVIRONMENT=development; set CADENZA_SMS_PROVIDER=twilio for real texts"
        )
    form = await request.form()
    fields: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(name, []).append(value)
    if settings.sms_provider == "twilio":
        # Twilio signs the URL it was given: base_url + path, not what a proxy passed on.
        query = f"?{request.url.query}" if request.url.query else ""
        url = settings.base_url.rstrip("/") + request.url.path + query
        signature = request.headers.get("X-Twilio-Signature", "")
        if not _provider(request).verify_callback(url, fields, signature):
            raise Forbidden("the X-Twilio-Signature header does not match this request")
    return {name: values[0] for name, values in fields.items()}


def _provider(request: Request) -> SmsProvider:
    state = request.app.state
    provider: SmsProvider | None = getattr(state, "inbound_sms_provider", None)
    if provider is None:
        settings: Settings = state.settings
        provider = make_provider(settings, Path(settings.sms_sink_path))
        state.inbound_sms_provider = provider  # one HTTP client for every callback
    return provider


def _page(body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex"><title>Unsubscribe</title></head>'
        f'<body style="font-family: sans-serif; max-width: 32rem; margin: 4rem auto">{body}'
        "</body></html>"
    )


_CONFIRM = (
    "<h1>Unsubscribe</h1><p>Stop receiving these emails?</p>"
    '<form method="post" action="{token}">'
    '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
    '<button type="submit">Unsubscribe</button></form>'
)
_DONE = "<h1>You are unsubscribed</h1><p>You will not receive these emails any more.</p>"


router.include_router(webhooks)  # after the routes above: including copies them
