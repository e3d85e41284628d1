"""Ringless voicemail at the transport seam: Slybroadcast's documented form, Twilio's refusal."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest

from cadenza.channels.errors import AccountError, UnsupportedByProvider
from cadenza.channels.outgoing import OutgoingVoicemail
from cadenza.channels.ringless import SLYBROADCAST_URL, Slybroadcast
from cadenza.channels.twilio import TwilioProvider

DROP = OutgoingVoicemail(
    key="7:drop:1", sender="+13125550100", to="+13125550101", audio_url="https://a.example/vm.mp3"
)


def test_slybroadcast_gets_the_documented_campaign_form() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="OK\nsession_id=9312\nnumber of phone=1")

    result = Slybroadcast("me@acme.example", "pw", httpx.MockTransport(handler)).send_voicemail(
        DROP
    )
    [request] = seen
    assert request.method == "POST" and str(request.url) == SLYBROADCAST_URL
    assert parse_qs(request.content.decode()) == {
        "c_uid": ["me@acme.example"],
        "c_password": ["pw"],
        "c_url": ["https://a.example/vm.mp3"],
        "c_audio": ["Mp3"],
        "c_phone": ["3125550101"],
        "c_callerID": ["3125550100"],
        "c_date": ["now"],
        "c_title": ["7:drop:1"],
    }
    assert result.provider_id == "9312"


def test_slybroadcast_errors_are_said_and_a_bad_login_is_an_account_error() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, text="ERROR\nc_password: bad login")
    )
    with pytest.raises(AccountError, match="bad login"):
        Slybroadcast("me@acme.example", "pw", transport).send_voicemail(DROP)


def test_twilio_refuses_ringless_voicemail_with_the_reason() -> None:
    transport = httpx.MockTransport(lambda request: pytest.fail("nothing may be sent"))
    with pytest.raises(UnsupportedByProvider, match="ringless voicemail is not supported"):
        TwilioProvider("AC1", "token", transport).send_voicemail(DROP)
