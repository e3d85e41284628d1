"""Email through a real SMTP server on loopback: what a recipient's server actually receives."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from cadenza.channels.email import build_email, message_id_for
from cadenza.channels.errors import AccountError, PermanentError, TransientError
from cadenza.channels.inbound_smtp import start_intake
from cadenza.channels.outgoing import OutgoingEmail
from cadenza.channels.smtp import SmtpPool, SmtpSender
from cadenza.channels.tracking import read_click_token, read_open_token, read_unsubscribe_token
from cadenza.settings import Settings

SECRET = "test-secret-key"
BASE = "https://cadenza.example.com"
POSTAL = "Acme Sales Inc., 500 Market St, Chicago, IL 60601"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.raw, policy=default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it receives and refuses some recipients."""

    received: list[Received] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if session not in self.sessions:
            self.sessions.append(session)
        if address.startswith("unknown@"):
            return "550 5.1.1 <unknown@corp.example>: Recipient address rejected: User unknown"
        if address.startswith("busy@"):
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.received.append(
            Received(envelope.mail_from or "", list(envelope.rcpt_tos), envelope.content)
        )
        return "250 2.0.0 Ok: queued as 4F2A1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def start_server(handler: object, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def server(recorder: Recorder) -> Iterator[Controller]:
    controller = start_server(recorder)
    yield controller
    controller.stop()


def settings_for(port: int, **overrides: Any) -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_timeout=5,
        base_url=BASE,
        secret_key=SECRET,
        postal_address=POSTAL,
        **overrides,
    )


@pytest.fixture
def settings(server: Controller) -> Settings:
    return settings_for(server.port)


@pytest.fixture
def sender(settings: Settings) -> Iterator[SmtpSender]:
    with SmtpSender(settings, local_hostname="cadenza.test") as smtp:
        yield smtp


def outgoing(key: str = "41:intro:1", **overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "key": key,
        "sender": "ana@sales.example.com",
        "sender_name": "Ana Ruiz",
        "to": "Jane Doe <jane@corp.example>",
        "subject": "Quick question, Jane",
        "html": (
            "<html><body><p>Hi Jane,</p>"
            '<p>Here is <a href="https://acme.example/pricing?plan=pro&amp;ref=seq">our pricing</a>'
            ' and <a href="mailto:ana@sales.example.com">my address</a>.</p>'
            "</body></html>"
        ),
        "contact_id": 41,
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


def send(smtp: SmtpSender | SmtpPool, settings: Settings, msg: OutgoingEmail) -> str:
    result = smtp.send(build_email(msg, settings), msg.envelope_from, msg.recipients)
    return result.provider_id


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    markup = message.get_body(("html",))
    assert text is not None and markup is not None
    return text.get_content(), markup.get_content()


def test_the_recipient_server_gets_headers_both_parts_and_the_footer(
    sender: SmtpSender, settings: Settings, recorder: Recorder
) -> None:
    msg = outgoing(cc=["Bob Boss <bob@corp.example>"], bcc=["archive@sales.example.com"])
    send(sender, settings, msg)

    [got] = recorder.received
    email = got.parsed()
    assert email["From"] == "Ana Ruiz <ana@sales.example.com>"
    assert email["To"] == "Jane Doe <jane@corp.example>"
    assert email["Cc"] == "Bob Boss <bob@corp.example>"
    assert email["Subject"] == "Quick question, Jane"
    assert email.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in email.iter_parts()] == ["text/plain", "text/html"]
    text, markup = parts(email)
    assert "Hi Jane," in text and "<p>Hi Jane,</p>" in markup
    assert POSTAL in text and POSTAL in markup
    # BCC is an envelope recipient only: nobody can see it in the message.
    assert got.mail_from == "ana@sales.example.com"
    assert got.rcpt_tos == ["jane@corp.example", "bob@corp.example", "archive@sales.example.com"]
    assert b"archive@sales.example.com" not in got.raw
    assert "Bcc" not in email


def test_message_id_is_derived_from_the_key_so_a_resend_keeps_it(
    sender: SmtpSender, settings: Settings, recorder: Recorder
) -> None:
    first = send(sender, settings, outgoing("7:intro:1"))
    again = send(sender, settings, outgoing("7:intro:1"))
    other = send(sender, settings, outgoing("7:intro:2"))

    ids = [r.parsed()["Message-ID"] for r in recorder.received]
    assert (
        ids[0] == ids[1] == first == again == message_id_for("7:intro:1", "ana@sales.example.com")
    )
    assert ids[2] == other != first
    assert re.fullmatch(r"<[0-9a-f]{32}@sales\.example\.com>", ids[0])


def test_a_follow_up_is_threaded_under_the_previous_step(
    sender: SmtpSender, settings: Settings, recorder: Recorder
) -> None:
    root = message_id_for("7:intro:1", "ana@sales.example.com")
    previous = message_id_for("7:follow_up:1", "ana@sales.example.com")
    send(sender, settings, outgoing("7:breakup:1", in_reply_to=previous, references=[root]))
    send(
        sender,
        settings,
        outgoing("7:last:1", subject="RE: Quick question", in_reply_to=previous, references=[]),
    )

    first, second = (r.parsed() for r in recorder.received)
    assert first["Subject"] == "Re: Quick question, Jane"
    assert first["In-Reply-To"] == previous
    assert first["References"].split() == [root, previous]
    assert second["Subject"] == "RE: Quick question"  # already a reply: not "Re: RE: …"


def test_tracking_pixel_and_links_carry_tokens_that_verify_to_the_original(
    sender: SmtpSender, settings: Settings, recorder: Recorder
) -> None:
    send(sender, settings, outgoing("9:intro:1", track_opens=True, track_clicks=True))

    _, markup = parts(recorder.received[0].parsed())
    [pixel] = re.findall(r'<img src="([^"]+)"', markup)
    assert pixel.startswith(f"{BASE}/t/o/") and pixel.endswith(".gif")
    assert read_open_token(pixel.removeprefix(f"{BASE}/t/o/"), SECRET).key == "9:intro:1"
    hrefs = re.findall(r'<a href="([^"]+)"', markup)
    clicks = [h for h in hrefs if h.startswith(f"{BASE}/t/c/")]
    assert len(clicks) == 1
    target = read_click_token(clicks[0].removeprefix(f"{BASE}/t/c/"), SECRET)
    assert target.key == "9:intro:1"
    assert target.url == "https://acme.example/pricing?plan=pro&ref=seq"
    assert "mailto:ana@sales.example.com" in hrefs  # only web links are tracked
    assert any(h.startswith(f"{BASE}/u/") for h in hrefs)  # unsubscribe is not a click


def test_untracked_email_has_no_pixel_and_original_links(
    sender: SmtpSender, settings: Settings, recorder: Recorder
) -> None:
    send(sender, settings, outgoing())

    _, markup = parts(recorder.received[0].parsed())
    assert "<img" not in markup and "/t/c/" not in markup
    assert 'href="https://acme.example/pricing?plan=pro&amp;ref=seq"' in markup


def test_unsubscribe_link_and_one_click_headers(
    sender: SmtpSender, settings: Settings, recorder: Recorder
) -> None:
    send(sender, settings, outgoing("9:intro:1"))

    email = recorder.received[0].parsed()
    header = str(email["List-Unsubscribe"])
    [url, mailto] = re.findall(r"<([^>]+)>", header)
    assert url.startswith(f"{BASE}/u/")
    target = read_unsubscribe_token(url.removeprefix(f"{BASE}/u/"), SECRET)
    assert (target.key, target.contact_id) == ("9:intro:1", 41)
    assert mailto.startswith("mailto:ana@sales.example.com?subject=unsubscribe")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, markup = parts(email)
    assert url in text and f'href="{url}"' in markup


def test_a_5xx_refusal_is_permanent_with_the_servers_words(
    sender: SmtpSender, settings: Settings, recorder: Recorder
) -> None:
    with pytest.raises(PermanentError, match=r"550 5\.1\.1 .*User unknown"):
        send(sender, settings, outgoing(to="unknown@corp.example"))
    assert recorder.received == []


def test_a_4xx_refusal_is_transient(sender: SmtpSender, settings: Settings) -> None:
    with pytest.raises(TransientError, match="Greylisted"):
        send(sender, settings, outgoing(to="busy@corp.example"))


def test_one_refused_cc_does_not_stop_the_message(
    sender: SmtpSender, settings: Settings, recorder: Recorder
) -> None:
    msg = outgoing(cc=["unknown@corp.example"])
    result = sender.send(build_email(msg, settings), msg.envelope_from, msg.recipients)

    assert recorder.received[0].rcpt_tos == ["jane@corp.example"]
    assert "unknown@corp.example: 550" in result.detail


def test_a_stopped_server_is_a_transient_failure(recorder: Recorder) -> None:
    controller = start_server(recorder)
    settings = settings_for(controller.port)
    controller.stop()

    with SmtpSender(settings) as smtp, pytest.raises(TransientError, match="SMTP server"):
        send(smtp, settings, outgoing())


def test_one_connection_carries_many_messages(
    sender: SmtpSender, settings: Settings, recorder: Recorder
) -> None:
    for visit in range(5):
        send(sender, settings, outgoing(f"3:intro:{visit}"))

    assert len(recorder.received) == 5
    assert len(recorder.sessions) == 1


def test_a_connection_the_server_dropped_is_reopened_without_losing_the_message() -> None:
    recorder = Recorder()
    controller = start_server(recorder, timeout=0.3)  # the server hangs up after 0.3 s idle
    settings = settings_for(controller.port)
    try:
        with SmtpSender(settings, idle_check_after=60) as smtp:
            send(smtp, settings, outgoing("3:intro:1"))
            time.sleep(0.6)
            send(smtp, settings, outgoing("3:intro:2"))
    finally:
        controller.stop()

    assert len(recorder.received) == 2
    assert len(recorder.sessions) == 2


def test_the_pool_is_safe_from_several_threads_and_bounded(
    settings: Settings, recorder: Recorder
) -> None:
    errors: list[BaseException] = []

    def worker(pool: SmtpPool, n: int) -> None:
        try:
            for visit in range(10):
                send(pool, settings, outgoing(f"{n}:intro:{visit}"))
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    with SmtpPool(settings, size=2) as pool:
        threads = [threading.Thread(target=worker, args=(pool, n)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert errors == []
    assert len(recorder.received) == 40
    assert len({r.parsed()["Message-ID"] for r in recorder.received}) == 40
    assert len(recorder.sessions) == 2


class Authenticator:
    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"ana",
            b"s3cret",
        )
        return AuthResult(success=ok, handled=False)  # unhandled: the server answers 535


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_starttls_and_login(tls_files: tuple[Path, Path], recorder: Recorder) -> None:
    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    controller = start_server(
        recorder, tls_context=server_tls, require_starttls=True, authenticator=Authenticator(),
        auth_required=True,
    )  # fmt: skip
    client_tls = ssl.create_default_context(cafile=str(cert))
    good = settings_for(
        controller.port, smtp_security="starttls", smtp_username="ana", smtp_password="s3cret"
    )
    bad = settings_for(
        controller.port, smtp_security="starttls", smtp_username="ana", smtp_password="wrong"
    )
    try:
        with SmtpSender(good, ssl_context=client_tls) as smtp:
            send(smtp, good, outgoing())
        with SmtpSender(bad, ssl_context=client_tls) as smtp, pytest.raises(AccountError):
            send(smtp, bad, outgoing())
        with SmtpSender(good) as smtp, pytest.raises(AccountError, match="certificate"):
            send(smtp, good, outgoing())  # the default trust store does not know this cert
    finally:
        controller.stop()

    assert len(recorder.received) == 1


def test_intake_server_hands_raw_mail_and_recipients_to_the_callback(settings: Settings) -> None:
    got: list[tuple[bytes, list[str]]] = []
    intake = start_intake("127.0.0.1", free_port(), lambda raw, rcpts: got.append((raw, rcpts)))
    try:
        to_intake = settings_for(intake.port)
        with SmtpSender(to_intake) as smtp:
            msg = outgoing(to="leads+webinar@in.cadenza.example")
            send(smtp, to_intake, msg)
    finally:
        intake.stop()

    [(raw, rcpts)] = got
    assert rcpts == ["leads+webinar@in.cadenza.example"]
    assert message_from_bytes(raw, policy=default)["Message-ID"] == message_id_for(
        msg.key, msg.sender
    )


def test_intake_asks_to_retry_when_the_callback_fails(settings: Settings) -> None:
    def broken(raw: bytes, rcpts: list[str]) -> None:
        raise RuntimeError("database is down")

    intake = start_intake("127.0.0.1", free_port(), broken)
    try:
        to_intake = settings_for(intake.port)
        with SmtpSender(to_intake) as smtp, pytest.raises(TransientError, match="451"):
            send(smtp, to_intake, outgoing())
    finally:
        intake.stop()
