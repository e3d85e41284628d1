"""Provider webhooks: events and received mail from Mailgun, SendGrid, Amazon SES and Postmark.

Every route takes the inbound credentials first (HTTP Basic `inbound:<secret>` in the URL
the provider calls, or an inbound key), then the provider's own proof: Mailgun's HMAC
signature, SendGrid's ECDSA signature, the SNS message signature. Postmark signs nothing:
its webhooks carry HTTP Basic credentials, which are the inbound ones. Received mail goes
to the same reader as /api/v1/inbound/email.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cadenza.api.inbound_auth import inbound_credentials
from cadenza.api.v1.schemas import ERRORS, FORBIDDEN
from cadenza.channels.provider_hooks import events as parse
from cadenza.channels.provider_hooks.mail import (
    postmark_raw,
    postmark_recipients,
    sendgrid_envelope,
    ses_received,
)
from cadenza.channels.provider_hooks.signatures import (
    SNS_HOST,
    SnsCertificates,
    mailgun_valid,
    sendgrid_valid,
)
from cadenza.errors import Forbidden, ValidationFailed
from cadenza.services import inbound
from cadenza.services.inbound.providers import record_provider_events, webhook_secrets
from cadenza.settings import Settings
from cadenza.store.db import writing

T = TypeVar("T")
SG_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SG_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"

router = APIRouter(
    prefix="/api/v1/inbound/providers",
    tags=["inbound"],
    dependencies=[Depends(inbound_credentials)],
    responses=ERRORS | FORBIDDEN,
)


async def _run(request: Request, work: Callable[[Session, datetime, Settings], T]) -> T:
    state = request.app.state

    def run() -> T:
        with writing(state.sessions) as session:
            return work(session, state.clock.now(), state.settings)

    return await run_in_threadpool(run)


def _env(request: Request) -> Mapping[str, str]:
    env: Mapping[str, str] | None = getattr(request.app.state, "provider_env", None)
    return env if env is not None else os.environ


async def _secrets(request: Request, provider: str, setting: str, extra: str | None) -> list[str]:
    state, env = request.app.state, _env(request)

    def read() -> list[str]:
        with state.sessions() as session:
            return webhook_secrets(
                session=session, provider=provider, setting=setting, env=env, extra=extra
            )

    return await run_in_threadpool(read)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValidationFailed("the body is not JSON") from None


async def _events(request: Request, found: list[parse.ProviderEvent]) -> dict[str, Any]:
    results = await _run(
        request,
        lambda session, now, settings: record_provider_events(
            session=session, events=found, now=now, settings=settings
        ),
    )
    return {"results": [result.as_json() for result in results]}


async def _mail(request: Request, raw: bytes, recipients: list[str]) -> dict[str, Any]:
    if not raw.strip():
        raise ValidationFailed("the message is empty")
    result = await _run(
        request,
        lambda session, now, settings: inbound.handle_email(
            session=session, raw=raw, recipients=recipients, now=now, settings=settings
        ),
    )
    return result.as_json()


async def _mailgun_check(request: Request, timestamp: str, token: str, signature: str) -> None:
    settings: Settings = request.app.state.settings
    keys = await _secrets(
        request, "mailgun", "webhook_signing_key_env", settings.mailgun_webhook_signing_key
    )
    if not keys:
        raise Forbidden("no Mailgun webhook signing key is configured")
    now = request.app.state.clock.now()
    if not mailgun_valid(keys, timestamp, token, signature, now, settings.webhook_max_age_seconds):
        raise Forbidden("the Mailgun signature does not match (or is too old)")


@router.post("/mailgun/events")
async def mailgun_events(request: Request) -> dict[str, Any]:
    """A Mailgun event webhook (JSON: `signature` and `event-data`)."""
    body = await _json(request)
    signed = body.get("signature") if isinstance(body, dict) else None
    if not isinstance(signed, dict):
        raise ValidationFailed("a Mailgun webhook body has `signature` and `event-data`")
    await _mailgun_check(
        request,
        str(signed.get("timestamp", "")),
        str(signed.get("token", "")),
        str(signed.get("signature", "")),
    )
    return await _events(request, [parse.mailgun(body)])


@router.post("/mailgun/mime")
async def mailgun_mime(request: Request) -> dict[str, Any]:
    """A Mailgun route forwarding received mail (`body-mime`) to a URL ending in `mime`."""
    form = await _form(request)
    await _mailgun_check(
        request, form.get("timestamp", ""), form.get("token", ""), form.get("signature", "")
    )
    recipients = [r.strip() for r in form.get("recipient", "").split(",") if r.strip()]
    return await _mail(request, form.get("body-mime", "").encode("utf-8", "replace"), recipients)


@router.post("/sendgrid/events")
async def sendgrid_events(request: Request) -> dict[str, Any]:
    """SendGrid's Signed Event Webhook: a JSON array of events."""
    settings: Settings = request.app.state.settings
    keys = await _secrets(
        request, "sendgrid", "webhook_public_key_env", settings.sendgrid_webhook_public_key
    )
    if not keys:
        raise Forbidden("no SendGrid webhook verification key is configured")
    raw = await request.body()
    signature = request.headers.get(SG_SIGNATURE, "")
    timestamp = request.headers.get(SG_TIMESTAMP, "")
    now = request.app.state.clock.now()
    if not sendgrid_valid(keys, signature, timestamp, raw, now, settings.webhook_max_age_seconds):
        raise Forbidden(f"the {SG_SIGNATURE} header does not match this request")
    body = await _json(request)
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise ValidationFailed("a SendGrid event webhook body is a JSON array of events")
    return await _events(request, [parse.sendgrid(item) for item in body])


@router.post("/sendgrid/inbound")
async def sendgrid_inbound(request: Request) -> dict[str, Any]:
    """SendGrid Inbound Parse with the raw message (`email`) and its `envelope`."""
    form = await _form(request)
    if "email" not in form:
        raise ValidationFailed("turn on 'POST the raw, full MIME message' in Inbound Parse")
    recipients = sendgrid_envelope(form.get("envelope"))
    return await _mail(request, form["email"].encode("utf-8", "replace"), recipients)


@router.post("/ses")
async def ses_notification(request: Request) -> dict[str, Any]:
    """Amazon SNS: SES events, SES received mail, and the topic's subscription confirmation."""
    body = await _json(request)
    if not isinstance(body, dict) or "Type" not in body:
        raise ValidationFailed("an Amazon SNS message is a JSON object with a Type")
    certificates = _certificates(request)
    refused = await run_in_threadpool(certificates.verify, body, request.app.state.clock.now())
    if refused is not None:
        raise Forbidden(refused)
    if body["Type"] == "SubscriptionConfirmation":
        return await _confirm(certificates, str(body.get("SubscribeURL", "")))
    if body["Type"] != "Notification":
        return {"outcome": "ignored", "detail": f"SNS {body['Type']}"}
    try:
        message = json.loads(str(body.get("Message", "")))
    except json.JSONDecodeError:
        raise ValidationFailed("the SNS Message is not an SES notification") from None
    if not isinstance(message, dict):
        raise ValidationFailed("the SNS Message is not an SES notification")
    received = ses_received(message)
    if received is not None:
        return await _mail(request, *received)
    return await _events(request, [parse.ses(message)])


@router.post("/postmark/events")
async def postmark_events(request: Request) -> dict[str, Any]:
    """A Postmark webhook (one event, `RecordType`); Postmark authenticates with HTTP Basic."""
    body = await _json(request)
    if not isinstance(body, dict) or "RecordType" not in body:
        raise ValidationFailed("a Postmark webhook body is a JSON object with a RecordType")
    return await _events(request, [parse.postmark(body)])


@router.post("/postmark/inbound")
async def postmark_inbound(request: Request) -> dict[str, Any]:
    """Postmark's inbound webhook (JSON; RawEmail when the server includes it)."""
    body = await _json(request)
    if not isinstance(body, dict) or not (body.get("RawEmail") or body.get("From")):
        raise ValidationFailed("a Postmark inbound body is a JSON object with From or RawEmail")
    return await _mail(request, postmark_raw(body), postmark_recipients(body))


async def _form(request: Request) -> dict[str, str]:
    cap = request.app.state.settings.max_inbound_email_bytes
    form = await request.form(max_part_size=cap)
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if name not in fields:
            fields[name] = (
                value if isinstance(value, str) else (await value.read()).decode("utf-8", "replace")
            )
    return fields


def _certificates(request: Request) -> SnsCertificates:
    state = request.app.state
    found: SnsCertificates | None = getattr(state, "sns_certificates", None)
    if found is None:
        found = state.sns_certificates = SnsCertificates()
    return found


async def _confirm(certificates: SnsCertificates, url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme != "https" or not SNS_HOST.fullmatch(parts.hostname or ""):
        raise Forbidden("the SubscribeURL is not Amazon SNS's")
    response = await run_in_threadpool(certificates.get, url)
    if response.status_code != 200:
        raise ValidationFailed(f"Amazon SNS refused the confirmation ({response.status_code})")
    return {"outcome": "subscribed", "detail": "the SNS subscription is confirmed"}
