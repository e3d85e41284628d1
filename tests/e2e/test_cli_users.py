"""`cadenza users add --password-stdin`, `users invite` and `users reset-password`, as run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cadenza.services.users import passwords
from cadenza.store.db import make_engine, session_factory
from cadenza.store.models import Message, User

CADENZA = str(Path(sys.executable).parent / "cadenza")
NOW = "2026-12-01T15:00:00Z"


class Cli:
    def __init__(self, folder: Path) -> None:
        self.url = f"sqlite:///{folder / 'cadenza.db'}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
        self.env["CADENZA_DATABASE_URL"] = self.url
        self.env["CADENZA_BASE_URL"] = "https://cadenza.example"
        self.cwd = folder

    def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CADENZA, *args, "--now", NOW],
            cwd=self.cwd,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def user(self, email: str) -> User | None:
        engine = make_engine(self.url)
        try:
            with session_factory(engine)() as session:
                return session.scalar(select(User).where(User.email == email))
        finally:
            engine.dispose()


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path)
    assert runner("init").returncode == 0
    yield runner


def test_a_password_comes_from_stdin_never_from_the_command_line(cli: Cli) -> None:
    secret = "typed into a pipe, not argv"
    result = cli(
        "users", "add", "ana@example.com", "--name", "Ana", "--role", "admin",
        "--password-stdin", stdin=secret + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "added user ana@example.com (admin; may log in)" in result.stdout
    user = cli.user("ana@example.com")
    assert user is not None and user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$") and secret not in user.password_hash
    assert passwords.verify(user.password_hash, secret)
    assert not passwords.verify(user.password_hash, secret + "\n")


def test_a_short_password_is_refused_and_no_user_is_added(cli: Cli) -> None:
    result = cli("users", "add", "ben@example.com", "--password-stdin", stdin="short\n")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: password: a password needs at least 10 characters"
    assert "Traceback" not in result.stderr and cli.user("ben@example.com") is None
    empty = cli("users", "add", "ben@example.com", "--password-stdin")
    assert empty.returncode == 1 and cli.user("ben@example.com") is None


def test_invite_and_reset_queue_an_email_and_print_the_link(cli: Cli) -> None:
    assert cli("users", "add", "cara@example.com").returncode == 0
    invited = cli("users", "invite", "cara@example.com")
    assert invited.returncode == 0, invited.stderr
    assert "queued an invitation for cara@example.com" in invited.stdout
    assert "https://cadenza.example/invite/" in invited.stdout
    assert "until 2026-12-04T15:00:00+00:00" in invited.stdout  # 72 hours
    reset = cli("users", "reset-password", "cara@example.com")
    assert reset.returncode == 0 and "https://cadenza.example/reset/" in reset.stdout
    engine = make_engine(cli.url)
    try:
        with session_factory(engine)() as session:
            queued = session.execute(select(Message.recipient, Message.status)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in queued] == [("cara@example.com", "queued")] * 2
    unknown = cli("users", "invite", "nobody@example.com")
    assert unknown.returncode == 1 and "no user 'nobody@example.com'" in unknown.stderr
