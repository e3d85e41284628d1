"""Twilio Programmable Voice webhooks: each answers TwiML for the next turn of a call.

Twilio fetches these URLs itself, so they carry no Cadenza credentials: every request must
bear a valid X-Twilio-Signature (HMAC-SHA1 with the account's auth token over the URL as
configured, `base_url` + path + query, and the form), or it is refused with nothing read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cadenza.api.v1.schemas import ERRORS, FORBIDDEN
from cadenza.channels.voice import TwilioVoice
from cadenza.errors import Forbidden
from cadenza.services.voice import flows, logged
from cadenza.services.voice.calls import call_for
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.store.models import VoiceCall

router = APIRouter(prefix="/api/v1/inbound/voice", tags=["voice"], responses=ERRORS | FORBIDDEN)
Form = dict[str, str]
Turn = Callable[[Session, VoiceCall, Form, datetime, Settings], str]
MessageId = Annotated[int | None, Query(alias="m", description="the dialer step's message")]
CallId = Annotated[int | None, Query(alias="call", description="the call")]


async def _signed_form(request: Request) -> Form:
    """The POSTed form, refused unless Twilio signed it."""
    settings: Settings = request.app.state.settings
    if not request.headers.get("X-Twilio-Signature"):
        raise HTTPException(401, "a voice webhook needs Twilio's X-Twilio-Signature")
    if settings.voice_provider != "twilio" or not settings.twilio_auth_token:
        raise Forbidden("voice webhooks need CADENZA_VOICE_PROVIDER=twilio and its auth token")
    form = await request.form()
    fields: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(name, []).append(value)
    query = f"?{request.url.query}" if request.url.query else ""
    url = settings.base_url.rstrip("/") + request.url.path + query
    checker = TwilioVoice(settings.twilio_account_sid or "", settings.twilio_auth_token)
    signature = request.headers.get("X-Twilio-Signature", "")
    if not checker.verify_callback(url, fields, signature):
        raise Forbidden("the X-Twilio-Signature header does not match this request")
    return {name: values[0] for name, values in fields.items()}


async def _turn(request: Request, message_id: int | None, call_id: int | None, turn: Turn) -> str:
    form = await _signed_form(request)
    state = request.app.state

    def run() -> str:
        with writing(state.sessions) as session:
            now = state.clock.now()
            call = call_for(session, sid=form.get("CallSid", ""), message_id=message_id,
                            call_id=call_id, now=now)  # fmt: skip
            return turn(session, call, form, now, state.settings)

    return await run_in_threadpool(run)


def _xml(twiml: str) -> Response:
    return Response(twiml, media_type="application/xml")


@router.post("/answer")
async def voice_answer(request: Request, m: MessageId = None, call: CallId = None) -> Response:
    """The callee answered: the message, the machine's voicemail, or the announcement."""
    return _xml(await _turn(request, m, call, lambda s, c, f, n, st: flows.answer(s, c, f, st)))


@router.post("/gather")
async def voice_gather(request: Request, call: CallId = None) -> Response:
    """The contact's key: 1 the agents, 2 a callback, 9 do-not-contact."""
    return _xml(await _turn(request, None, call, flows.gather))


@router.post("/callback")
async def voice_callback(request: Request, call: CallId = None) -> Response:
    """The time the contact wants the callback at (four digits)."""
    return _xml(await _turn(request, None, call, flows.callback_time))


@router.post("/preview")
async def voice_preview(request: Request, call: CallId = None) -> Response:
    """The agent pressed a key after the preview announcement: the contact is dialed."""
    return _xml(
        await _turn(request, None, call, lambda s, c, f, n, st: flows.preview_key(s, c, f, st))
    )


@router.post("/dial")
async def voice_dial(request: Request, call: CallId = None) -> Response:
    """A `<Dial>` ended: talk time, or the next agent."""
    return _xml(
        await _turn(request, None, call, lambda s, c, f, n, st: flows.dial_result(s, c, f, st))
    )


@router.post("/status", status_code=204)
async def voice_status(request: Request, m: MessageId = None, call: CallId = None) -> Response:
    """Twilio's status callback: the final one logs the call."""

    def turn(session: Session, c: VoiceCall, form: Form, now: datetime, st: Settings) -> str:
        logged.status(session, c, form, now, st)
        return ""

    await _turn(request, m, call, turn)
    return Response(status_code=204)
