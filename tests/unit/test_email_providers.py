"""Each HTTP email provider at the transport seam: the exact request its documentation
specifies, and its answers mapped onto the outbox's retry decisions."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import httpx
import pytest

from cadenza.channels.email import MimeEmail, build_email
from cadenza.channels.errors import AccountError, PermanentError, TransientError
from cadenza.channels.outgoing import OutgoingEmail
from cadenza.channels.providers import make_email_provider, sigv4
from cadenza.channels.providers.base import EmailProvider
from cadenza.settings import Settings

SETTINGS = Settings(environment="test", base_url="https://c.example", secret_key="s3cret")
ENV = {
    "MG_KEY": "key-mailgun",
    "SG_KEY": "SG.sendgrid",
    "AWS_ID": "AKIDEXAMPLE",
    "AWS_SECRET": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "PM_TOKEN": "pm-server-token",
}
CONFIGS: dict[str, dict[str, str]] = {
    "mailgun": {"domain": "mg.acme.example", "api_key_env": "MG_KEY"},
    "sendgrid": {"api_key_env": "SG_KEY"},
    "ses": {
        "region": "eu-west-1",
        "access_key_id_env": "AWS_ID",
        "secret_access_key_env": "AWS_SECRET",
        "configuration_set": "cadenza-events",
    },
    "postmark": {"server_token_env": "PM_TOKEN"},
}
ANSWERS = {
    "mailgun": (200, {"id": "<1.2.3@acme.example>", "message": "Queued. Thank you."}, {}),
    "sendgrid": (202, None, {"X-Message-Id": "sg-abc123"}),
    "ses": (200, {"MessageId": "0102018f-ses-id"}, {}),
    "postmark": (
        200,
        {"To": "jane@example.com", "MessageID": "pm-uuid-1", "ErrorCode": 0, "Message": "OK"},
        {},
    ),
}


def _email() -> tuple[OutgoingEmail, MimeEmail]:
    email = OutgoingEmail(
        key="12:follow_up:1",
        sender="sales@acme.example",
        sender_name="Ana Sales",
        to="jane@example.com",
        cc=["boss@example.com"],
        bcc=["audit@acme.example"],
        subject="Checking in",
        html='<p>Hi Jane, <a href="https://acme.example/pricing">pricing</a></p>',
        in_reply_to="<11.intro.1@acme.example>",
        references=["<11.intro.1@acme.example>"],
        track_opens=True,
        track_clicks=True,
        contact_id=7,
        message_id="<12.follow_up.1@acme.example>",
    )
    return email, build_email(email, SETTINGS, date=datetime(2026, 12, 1, 16, tzinfo=UTC))


def _provider(name: str, handler: Callable[[httpx.Request], httpx.Response]) -> EmailProvider:
    return make_email_provider(name, CONFIGS[name], ENV, httpx.MockTransport(handler))


def _send(name: str) -> tuple[httpx.Request, str]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body, headers = ANSWERS[name]
        return httpx.Response(status, json=body, headers=headers)

    email, mime = _email()
    result = _provider(name, handler).send(email, mime)
    (request,) = seen
    return request, result.provider_id


def _form(request: httpx.Request) -> dict[str, Any]:
    parsed = message_from_bytes(
        b"Content-Type: "
        + request.headers["content-type"].encode()
        + b"\r\n\r\n"
        + request.content,
        policy=policy.default,
    )
    fields: dict[str, Any] = {}
    for part in parsed.iter_parts():
        if part.get_content_type() != "message/rfc822":  # the message is checked raw
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = part.get_payload(decode=True)
    return fields


def test_mailgun_posts_our_mime_to_the_domain_with_basic_auth_and_tracking_off() -> None:
    request, provider_id = _send("mailgun")
    assert request.method == "POST"
    assert str(request.url) == "https://api.mailgun.net/v3/mg.acme.example/messages.mime"
    assert (
        request.headers["authorization"] == "Basic " + base64.b64encode(b"api:key-mailgun").decode()
    )
    fields = _form(request)
    assert fields["to"] == b"jane@example.com,boss@example.com,audit@acme.example"
    assert fields["v:cadenza_key"] == b"12:follow_up:1"
    assert fields["o:tracking"] == b"no"
    _, mime = _email()
    # The message part is our MIME as built: our headers, tracked links and pixel.
    part = b'name="message"; filename="message.mime"\r\nContent-Type: message/rfc822\r\n\r\n'
    assert part + mime.data + b"\r\n--" in request.content
    assert provider_id == "1.2.3@acme.example"


def test_sendgrid_posts_mail_send_json_with_our_headers_and_its_tracking_off() -> None:
    request, provider_id = _send("sendgrid")
    assert str(request.url) == "https://api.sendgrid.com/v3/mail/send"
    assert request.headers["authorization"] == "Bearer SG.sendgrid"
    body = json.loads(request.content)
    (person,) = body["personalizations"]
    assert person["to"] == [{"email": "jane@example.com"}]
    assert person["cc"] == [{"email": "boss@example.com"}]
    assert person["bcc"] == [{"email": "audit@acme.example"}]
    assert body["from"] == {"email": "sales@acme.example", "name": "Ana Sales"}
    assert body["subject"] == "Re: Checking in"
    headers = body["headers"]
    assert headers["Message-ID"] == "<12.follow_up.1@acme.example>"
    assert headers["In-Reply-To"] == "<11.intro.1@acme.example>"
    assert headers["References"] == "<11.intro.1@acme.example>"
    assert headers["List-Unsubscribe"].startswith("<https://c.example/u/")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = body["content"]
    assert text["type"] == "text/plain" and html["type"] == "text/html"
    assert "https://c.example/t/c/" in html["value"] and "https://c.example/t/o/" in html["value"]
    assert body["custom_args"] == {"cadenza_key": "12:follow_up:1"}
    assert body["tracking_settings"]["click_tracking"]["enable"] is False
    assert body["tracking_settings"]["open_tracking"]["enable"] is False
    assert provider_id == "sg-abc123"


def test_ses_posts_the_raw_message_signed_with_sigv4() -> None:
    fixed = datetime(2026, 12, 1, 16, 0, 0, tzinfo=UTC)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"MessageId": "0102018f-ses-id"})

    from cadenza.channels.providers.ses import SesProvider

    provider = SesProvider(CONFIGS["ses"], ENV, httpx.MockTransport(handler), now=lambda: fixed)
    email, mime = _email()
    assert provider.send(email, mime).provider_id == "0102018f-ses-id"
    (request,) = seen
    assert str(request.url) == "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails"
    body = json.loads(request.content)
    assert body["FromEmailAddress"] == "sales@acme.example"
    assert body["Destination"] == {
        "ToAddresses": ["jane@example.com"],
        "CcAddresses": ["boss@example.com"],
        "BccAddresses": ["audit@acme.example"],
    }
    assert base64.b64decode(body["Content"]["Raw"]["Data"]) == mime.data
    assert body["ConfigurationSetName"] == "cadenza-events"
    assert request.headers["x-amz-date"] == "20261201T160000Z"
    auth = request.headers["authorization"]
    assert auth.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/eu-west-1/ses/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature="
    )
    expected = sigv4.sign(
        method="POST",
        url=str(request.url),
        headers={"Content-Type": "application/json"},
        body=request.content,
        access_key="AKIDEXAMPLE",
        secret_key=ENV["AWS_SECRET"],
        region="eu-west-1",
        service="ses",
        now=fixed,
    )
    assert auth == expected["Authorization"]


def test_sigv4_matches_the_example_aws_documents() -> None:
    # The IAM ListUsers example of the AWS Signature Version 4 documentation (test suite).
    signed = sigv4.sign(
        method="GET",
        url="https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        body=b"",
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        service="iam",
        now=datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC),
        content_header=False,
    )
    assert signed["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


def test_postmark_posts_email_json_with_its_server_token_and_our_headers() -> None:
    request, provider_id = _send("postmark")
    assert str(request.url) == "https://api.postmarkapp.com/email"
    assert request.headers["x-postmark-server-token"] == "pm-server-token"
    assert request.headers["accept"] == "application/json"
    body = json.loads(request.content)
    assert body["From"] == "Ana Sales <sales@acme.example>"
    assert body["To"] == "jane@example.com"
    assert body["Cc"] == "boss@example.com" and body["Bcc"] == "audit@acme.example"
    assert body["Subject"] == "Re: Checking in"
    headers = {h["Name"]: h["Value"] for h in body["Headers"]}
    assert headers["Message-ID"] == "<12.follow_up.1@acme.example>"
    assert headers["In-Reply-To"] == "<11.intro.1@acme.example>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://c.example/t/o/" in body["HtmlBody"]
    assert "Unsubscribe: https://c.example/u/" in body["TextBody"]
    assert body["TrackOpens"] is False and body["TrackLinks"] == "None"
    assert body["Metadata"] == {"cadenza_key": "12:follow_up:1"}
    assert body["MessageStream"] == "outbound"
    assert provider_id == "pm-uuid-1"


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "ses", "postmark"])
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PermanentError),
        (401, AccountError),
        (429, TransientError),
        (500, TransientError),
        (503, TransientError),
    ],
)
def test_answers_map_onto_retry_or_failure(
    provider: str, status: int, error: type[Exception]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"message": "no"}, headers={"Retry-After": "30"})

    email, mime = _email()
    with pytest.raises(error) as raised:
        _provider(provider, handler).send(email, mime)
    if status == 429:
        assert raised.value.retry_after == 30  # type: ignore[attr-defined]
    if error is PermanentError:
        assert not isinstance(raised.value, TransientError)


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "ses", "postmark"])
def test_a_timeout_is_retried(provider: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    email, mime = _email()
    with pytest.raises(TransientError, match="did not answer in time"):
        _provider(provider, handler).send(email, mime)


def test_provider_specific_refusals() -> None:
    email, mime = _email()

    def postmark(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"ErrorCode": 406, "Message": "Inactive recipient"})

    with pytest.raises(PermanentError, match="Inactive recipient"):
        _provider("postmark", postmark).send(email, mime)

    def ses(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={"message": "paused"},
            headers={"x-amzn-ErrorType": "SendingPausedException:http://internal"},
        )

    with pytest.raises(AccountError, match="SendingPausedException"):
        _provider("ses", ses).send(email, mime)


def test_missing_credentials_keep_the_message_for_later() -> None:
    with pytest.raises(AccountError, match=r"\$MG_KEY is not set"):
        make_email_provider("mailgun", CONFIGS["mailgun"], {}, None)
