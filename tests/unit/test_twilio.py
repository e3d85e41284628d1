"""Twilio through httpx.MockTransport: the exact requests, the error classes, the signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from cadenza.channels.errors import (
    AccountError,
    PermanentError,
    TransientError,
    UnsupportedByProvider,
)
from cadenza.channels.outgoing import OutgoingSms, OutgoingVoicemail
from cadenza.channels.sms import STATUS_CALLBACK_PATH, make_provider
from cadenza.channels.twilio import (
    TwilioProvider,
    parse_inbound_sms,
    parse_status_callback,
    twilio_signature,
)
from cadenza.settings import Settings

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token"
CREATED = {"sid": "SM9f8e7d6c5b4a39281706f5e4d3c2b1a0", "status": "queued"}


def provider(
    handler: Callable[[httpx.Request], httpx.Response], callback: str | None = None
) -> TwilioProvider:
    return TwilioProvider(SID, TOKEN, httpx.MockTransport(handler), status_callback=callback)


def sms(**overrides: object) -> OutgoingSms:
    fields: dict[str, object] = {
        "key": "41:intro_sms:1",
        "sender": "+13125550100",
        "to": "+17735550123",
        "body": "Hi Jane, thanks for reaching out! Reply STOP to opt out.",
    }
    fields.update(overrides)
    return OutgoingSms(**fields)  # type: ignore[arg-type]


def test_an_sms_is_one_authenticated_form_post_with_the_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=CREATED)

    callback = "https://cadenza.example.com/api/v1/inbound/sms/status"
    result = provider(handler, callback).send_sms(sms())

    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(
        f"{SID}:{TOKEN}".encode()
    ).decode("ascii")
    assert request.headers["I-Twilio-Idempotency-Token"] == "41:intro_sms:1"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode(), strict_parsing=True) == {
        "To": ["+17735550123"],
        "From": ["+13125550100"],
        "Body": ["Hi Jane, thanks for reaching out! Reply STOP to opt out."],
        "StatusCallback": [callback],
    }
    assert result.provider_id == CREATED["sid"]
    assert result.detail == "queued"


def test_an_mms_repeats_media_url_and_a_messaging_service_replaces_from() -> None:
    forms: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        return httpx.Response(201, json=CREATED)

    media = ["https://cdn.example/a.png", "https://cdn.example/b.jpg"]
    provider(handler).send_sms(sms(sender="MG0123456789abcdef0123456789abcdef", media=media))

    [form] = forms
    assert form["MediaUrl"] == media
    assert form["MessagingServiceSid"] == ["MG0123456789abcdef0123456789abcdef"]
    assert "From" not in form and "StatusCallback" not in form


def reply(status: int, **extra: object) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, **extra)  # type: ignore[arg-type]


def test_a_refused_number_is_permanent_with_twilios_message_and_code() -> None:
    body = {
        "code": 21211,
        "message": "The 'To' number +1555 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
    with pytest.raises(PermanentError) as caught:
        provider(reply(400, json=body)).send_sms(sms(to="+1555"))

    assert not isinstance(caught.value, TransientError)
    assert caught.value.code == "21211"
    assert str(caught.value) == (
        "Twilio error 21211: The 'To' number +1555 is not a valid phone number."
    )


def test_rate_limiting_is_transient_and_says_when_to_retry() -> None:
    body = {"code": 20429, "message": "Too Many Requests", "status": 429}
    with pytest.raises(TransientError) as caught:
        provider(reply(429, json=body, headers={"Retry-After": "30"})).send_sms(sms())
    assert caught.value.retry_after == 30
    assert caught.value.code == "20429"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(status: int) -> None:
    with pytest.raises(TransientError, match=str(status)):
        provider(reply(status, text="upstream trouble")).send_sms(sms())


def test_bad_credentials_are_an_account_problem_not_the_messages() -> None:
    body = {"code": 20003, "message": "Authenticate", "status": 401}
    with pytest.raises(AccountError, match="20003"):
        provider(reply(401, json=body)).send_sms(sms())


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (httpx.ConnectError("connection refused"), "cannot reach Twilio"),
        (httpx.ReadTimeout("timed out"), "did not answer in time"),
    ],
)
def test_network_failures_are_transient(error: Exception, words: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(TransientError, match=words):
        provider(handler).send_sms(sms())


def test_ringless_voicemail_is_not_supported_and_sends_nothing() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(201, json=CREATED)

    vm = OutgoingVoicemail(key="k", sender="+13125550100", to="+17735550123", audio_url="x")
    with pytest.raises(UnsupportedByProvider, match="not supported by this provider"):
        provider(handler).send_voicemail(vm)
    assert calls == []


# Twilio's published examples (the twilio-python/-php/-csharp test suites).
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_signature_matches_twilios_documented_vector() -> None:
    assert twilio_signature("12345", DOC_URL, DOC_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234", "1234"]}
    assert twilio_signature("12345", DOC_URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def independent_signature(url: str, params: dict[str, str]) -> str:
    payload = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(
        hmac.new(TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    ).decode()


STATUS_URL = "https://cadenza.example.com/api/v1/inbound/sms/status"
STATUS_FORM = {
    "AccountSid": SID,
    "MessageSid": "SM9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "MessageStatus": "undelivered",
    "ErrorCode": "30003",
    "To": "+17735550123",
    "From": "+13125550100",
}


def test_a_status_callback_is_verified_and_read() -> None:
    twilio = provider(reply(201, json=CREATED))
    signature = independent_signature(STATUS_URL, STATUS_FORM)

    assert twilio.verify_callback(STATUS_URL, STATUS_FORM, signature)
    assert not twilio.verify_callback(STATUS_URL, {**STATUS_FORM, "ErrorCode": "0"}, signature)
    assert not twilio.verify_callback(STATUS_URL + "?x=1", STATUS_FORM, signature)
    assert not twilio.verify_callback(STATUS_URL, STATUS_FORM, "")
    status = parse_status_callback(STATUS_FORM)
    assert (status.provider_id, status.status, status.error_code) == (
        STATUS_FORM["MessageSid"],
        "undelivered",
        "30003",
    )
    assert status.failed


def test_a_signature_over_the_url_with_its_default_port_is_accepted() -> None:
    twilio = provider(reply(201, json=CREATED))
    ported = STATUS_URL.replace(".com/", ".com:443/")

    assert twilio.verify_callback(
        STATUS_URL, STATUS_FORM, independent_signature(ported, STATUS_FORM)
    )
    assert twilio.verify_callback(
        ported, STATUS_FORM, independent_signature(STATUS_URL, STATUS_FORM)
    )


def test_an_inbound_message_form_is_read_with_its_media() -> None:
    form = {
        "MessageSid": "SMaaa",
        "From": "+17735550123",
        "To": "+13125550100",
        "Body": "Stop",
        "NumMedia": "2",
        "MediaUrl0": "https://api.twilio.com/m/0",
        "MediaUrl1": "https://api.twilio.com/m/1",
    }
    inbound = parse_inbound_sms(form)
    assert (inbound.from_number, inbound.to_number, inbound.body) == (
        "+17735550123",
        "+13125550100",
        "Stop",
    )
    assert inbound.media == ["https://api.twilio.com/m/0", "https://api.twilio.com/m/1"]


def test_make_provider_builds_twilio_with_the_status_callback_url() -> None:
    forms: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        return httpx.Response(201, json=CREATED)

    settings = Settings(
        sms_provider="twilio",
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        base_url="https://cadenza.example.com/",
    )
    make_provider(settings, Path("unused"), transport=httpx.MockTransport(handler)).send_sms(sms())
    assert forms[0]["StatusCallback"] == ["https://cadenza.example.com" + STATUS_CALLBACK_PATH]
