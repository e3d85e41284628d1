"""`cadenza intake` as a user runs it: an SMTP server that turns received mail into events."""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cadenza.services import enrollments
from cadenza.store.models import Contact
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, cadenza_command, store, write
from tests.smtp_server import free_port

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"
NOW = "2026-12-07T18:00:00Z"
PRICING = """
name: Pricing Page
senders: {email: "ana@sales.example.com"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Thanks, {{ contact.first_name }}", body: "<p>Hi</p>"}
"""


def _wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("cadenza intake did not start listening")


@pytest.fixture
def intake(db: Database, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """`cadenza intake` on a free port against the test database, stopped with SIGTERM."""
    with write(db) as session:
        store(session, PRICING, at(NOW))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env.update(CADENZA_DATABASE_URL=db.url, CADENZA_ENVIRONMENT="test")
    process = subprocess.Popen(
        cadenza_command("intake", "--port", str(port), "--now", NOW),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_port(port, process)
        yield port, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def _send(port: int, raw: bytes, to: str) -> None:
    wire = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        assert smtp.sendmail("forms@acme.example", [to], wire) == {}


def test_intake_turns_a_lead_and_a_reply_into_events_and_logs_a_line_for_each(
    db: Database, intake: tuple[int, subprocess.Popen[str]]
) -> None:
    port, process = intake
    with write(db) as session:
        add_contact(session, at(NOW), email="rsmith@bigcorp.example", phone=None)
    _send(port, (MAIL / "lead_html.eml").read_bytes(), "pricing-page@intake.localhost")
    _send(port, (MAIL / "outlook_reply.eml").read_bytes(), "replies@sales.example.com")
    process.terminate()
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    with db.sessions() as session:
        lead = session.scalars(
            select(Contact).where(Contact.email == "devon@obrien-hvac.example")
        ).one()
        (enrollment,) = enrollments.list_enrollments(session=session)
    assert enrollment["contact_id"] == lead.id
    lines = [line for line in output.splitlines() if "inbound email to" in line]
    assert len(lines) == 2, output
    assert f"lead - contact {lead.id} - contact created; enrolled in Pricing Page" in lines[0]
    assert "replied - contact" in lines[1]
