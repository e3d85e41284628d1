"""Provider events read into Cadenza's kinds: which bounces are hard, what is ignored, and
the signatures that prove them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cadenza.channels.provider_hooks import events
from cadenza.channels.provider_hooks.signatures import mailgun_valid, sns_cert_url_allowed
from tests.provider_payloads import mailgun_event, mailgun_sign

NOW = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "extra", "kind"),
    [
        ("failed", {"severity": "permanent"}, "bounced"),
        ("failed", {"severity": "temporary"}, "soft_bounced"),
        ("complained", {}, "complained"),
        ("clicked", {"url": "https://acme.example/pricing"}, "clicked"),
        ("accepted", {}, "ignored"),
    ],
)
def test_mailgun_kinds(event: str, extra: dict[str, str], kind: str) -> None:
    read = events.mailgun(mailgun_event("1:a:1", event, NOW, "<id@mg.example>", **extra))
    assert read.kind == kind and read.key == "1:a:1" and read.provider_id == "id@mg.example"


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        ({"event": "bounce", "type": "bounce"}, "bounced"),
        ({"event": "bounce", "type": "blocked"}, "soft_bounced"),
        ({"event": "dropped", "reason": "Bounced Address"}, "bounced"),
        ({"event": "deferred"}, "ignored"),
        ({"event": "processed"}, "ignored"),
        ({"event": "spamreport"}, "complained"),
        ({"event": "group_unsubscribe"}, "unsubscribed"),
    ],
)
def test_sendgrid_kinds(item: dict[str, str], kind: str) -> None:
    read = events.sendgrid({**item, "sg_message_id": "abc.filterdrecv-1", "cadenza_key": "k"})
    assert read.kind == kind and read.provider_id == "abc" and read.key == "k"


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ({"eventType": "Bounce", "bounce": {"bounceType": "Permanent"}}, "bounced"),
        ({"eventType": "Bounce", "bounce": {"bounceType": "Transient"}}, "soft_bounced"),
        ({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}}, "bounced"),
        ({"eventType": "Complaint", "complaint": {}}, "complained"),
        ({"eventType": "Send"}, "ignored"),
    ],
)
def test_ses_kinds(message: dict[str, object], kind: str) -> None:
    read = events.ses({**message, "mail": {"messageId": "ses-1"}})
    assert read.kind == kind and read.provider_id == "ses-1"


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        ({"RecordType": "Bounce", "Type": "HardBounce"}, "bounced"),
        ({"RecordType": "Bounce", "Type": "SoftBounce"}, "soft_bounced"),
        ({"RecordType": "SubscriptionChange", "SuppressSending": True}, "unsubscribed"),
        ({"RecordType": "SubscriptionChange", "SuppressSending": False}, "ignored"),
    ],
)
def test_postmark_kinds(item: dict[str, object], kind: str) -> None:
    assert events.postmark({**item, "MessageID": "pm-1"}).kind == kind


def test_mailgun_signatures_must_match_and_be_recent() -> None:
    body = mailgun_event("k", "opened", NOW, "<i@x>")
    mailgun_sign(body, "key-1", NOW)
    signed = body["signature"]
    args = (signed["timestamp"], signed["token"], signed["signature"])
    assert mailgun_valid(["other", "key-1"], *args, NOW, 900)
    assert not mailgun_valid(["key-2"], *args, NOW, 900)
    assert not mailgun_valid(["key-1"], *args, NOW.replace(hour=17), 900)  # replayed later


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", True),
        ("http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
        ("https://sns.us-east-1.amazonaws.com.evil.example/x.pem", False),
        ("https://evil.example/sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com:8443/x.pem", False),
        ("https://user@sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com/x.txt", False),
    ],
)
def test_only_amazon_sns_hosts_hold_signing_certificates(url: str, allowed: bool) -> None:
    assert sns_cert_url_allowed(url) is allowed
