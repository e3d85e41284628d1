"""Login to the UI: every page behind it, sessions that end, throttled failures, CSRF, headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from starlette.routing import BaseRoute

from cadenza.clock import FixedClock
from cadenza.server import create_app
from cadenza.services.users import add_user, sessions
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.store.models import Event, Sequence, User, WebSession
from cadenza.web.errors import PageRoute
from tests.conftest import Database
from tests.engine_helpers import store
from tests.integration.web_login import PASSWORD, form_token, log_in, logged_in

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ANA = "ana@example.com"
WRONG = "That email and password do not match an account that may log in."
DRIP = """
name: Drip
senders: {email: sales@example.com}
schedule: {days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>1</p>"}
"""


@dataclass
class Site:
    client: TestClient
    db: Database
    clock: FixedClock
    settings: Settings


def _settings(db: Database, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        database_url=db.url,
        environment="test",
        sms_sink_path=str(tmp_path / "sms.jsonl"),
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[Site]:
    """The app with one admin who has a password, and one sequence; nobody logged in."""
    settings = _settings(db, tmp_path)
    with writing(db.sessions) as session:
        add_user(session=session, email=ANA, name="Ana", role="admin", now=NOW, password=PASSWORD)
        store(session, DRIP, NOW)
    clock = FixedClock(NOW)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Site(client, db, clock, settings)


def _status(site: Site) -> str:
    with site.db.sessions() as session:
        return str(session.scalar(select(Sequence.status).where(Sequence.name == "Drip")))


PUBLIC = {"/login", "/forgot", "/invite/{token}", "/reset/{token}", "/static/{name:path}"}
PUBLIC |= {"/api/v1/docs"}  # the API documentation: no data, no form
VALUES = {"name": "Drip", "verb": "pause", "token": "x"}  # any other parameter is an id


def _leaves(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, also those of included routers (which FastAPI keeps as routers)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _leaves(included.routes) if included is not None else [route]


def _web_routes(client: TestClient) -> list[APIRoute]:
    routes = list(_leaves(client.app.routes))  # type: ignore[attr-defined]
    api = [r for r in routes if isinstance(r, APIRoute)]
    assert len(api) > 20  # the walk reached the API's and the UI's routes
    return [r for r in api if r.endpoint.__module__.startswith("cadenza.web")]


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: quote(VALUES.get(m.group(1), "1"), safe=""), path)


def test_every_page_but_the_public_ones_needs_a_login(site: Site) -> None:
    """Generated from the route table: a new page without a rule fails here."""
    routes = _web_routes(site.client)
    assert all(isinstance(route, PageRoute) for route in routes)
    public = {route.path for route in routes if getattr(route, "public", False)}
    assert public == PUBLIC
    with site.db.sessions() as session:
        events = session.scalar(select(func.count()).select_from(Event))
    checked = 0
    for route in routes:
        if route.path in PUBLIC:
            continue
        path = _concrete(route.path)
        if "GET" in route.methods:
            response = site.client.get(path + "?x=1", follow_redirects=False)
            assert response.status_code == 303, route.path
            target = urlsplit(response.headers["location"])
            assert target.path == "/login", route.path
            assert parse_qs(target.query)["next"] == [path + "?x=1"], route.path
        if "POST" in route.methods:
            response = site.client.post(path, data={"back": "/"}, follow_redirects=False)
            assert response.status_code == 403, route.path
            assert "log in first" in response.text
        checked += 1
    assert checked >= 8
    with site.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == events
    assert _status(site) == "active"
    # The public pages answer without a session.
    for path in ("/login", "/forgot", "/static/cadenza.css", "/healthz"):
        assert site.client.get(path, follow_redirects=False).status_code == 200, path
    htmx = site.client.get("/static/vendor/htmx-2.0.11.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text
    assert htmx.headers["content-type"].startswith("text/javascript")


def test_logging_in_goes_back_to_the_page_and_logging_out_ends_the_session(site: Site) -> None:
    first = site.client.get("/history?type=sequence_paused", follow_redirects=False)
    next_page = parse_qs(urlsplit(first.headers["location"]).query)["next"][0]
    response = log_in(site.client, ANA, next=next_page)
    assert response.status_code == 303
    assert response.headers["location"] == "/history?type=sequence_paused"
    cookie = response.headers["set-cookie"]
    assert "cadenza_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Secure" not in cookie
    token = site.client.cookies["cadenza_session"]
    with site.db.sessions() as session:
        [stored] = session.scalars(select(WebSession)).all()
    assert stored.id == sessions.digest(token) and token not in stored.id
    html = site.client.get("/history").text
    assert "Ana" in html and ">Log out</button>" in html
    csrf = form_token(site.client.get("/logout").text)
    refused = site.client.post("/logout", follow_redirects=False)  # no token: not logged out
    assert refused.status_code == 403
    assert site.client.get("/", follow_redirects=False).status_code == 200
    out = site.client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    with site.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0
    # The old cookie, sent again, opens nothing.
    site.client.cookies.set("cadenza_session", token)
    again = site.client.get("/", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/login"


def test_a_wrong_password_and_an_unknown_email_read_the_same(site: Site) -> None:
    wrong = log_in(site.client, ANA, "not the password")
    unknown = log_in(site.client, "nobody@example.com", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401 and WRONG in response.text
        assert "cadenza_session" not in response.headers.get("set-cookie", "")
    assert 'value="ana@example.com"' in wrong.text  # the email typed stays in the form


def test_failures_in_a_row_lock_the_account_for_a_while(site: Site) -> None:
    for _ in range(site.settings.login_max_failures - 1):
        assert WRONG in log_in(site.client, ANA, "guess").text
    locked = log_in(site.client, ANA, "guess")
    assert locked.status_code == 401
    assert "locked after too many failed logins: try again in 15 minutes" in locked.text
    # Locked means locked: even the right password waits, and it says for how long.
    site.clock.advance(timedelta(minutes=5))
    assert "try again in 10 minutes" in log_in(site.client, ANA, PASSWORD).text
    # An unknown email is never "locked": that would tell it from a known one.
    for _ in range(site.settings.login_max_failures + 1):
        assert WRONG in log_in(site.client, "nobody@example.com", "guess").text
    site.clock.advance(timedelta(minutes=10))
    assert log_in(site.client, ANA, PASSWORD).status_code == 303
    with site.db.sessions() as session:
        user = session.scalars(select(User).where(User.email == ANA)).one()
    assert user.failed_logins == 0 and user.locked_until is None


def test_a_success_starts_the_count_again(site: Site) -> None:
    for _ in range(site.settings.login_max_failures - 1):
        log_in(site.client, ANA, "guess")
    assert log_in(site.client, ANA, PASSWORD).status_code == 303
    for _ in range(site.settings.login_max_failures - 1):
        assert WRONG in log_in(site.client, ANA, "guess").text


def test_an_inactive_user_cannot_log_in_and_their_sessions_end(site: Site) -> None:
    logged_in(site.client, ANA)
    with writing(site.db.sessions) as session:
        session.execute(update(User).where(User.email == ANA).values(active=False))
    assert site.client.get("/", follow_redirects=False).status_code == 303
    response = log_in(site.client, ANA, PASSWORD)
    assert response.status_code == 401 and WRONG in response.text


def test_sessions_end_when_idle_and_at_their_lifetime(site: Site) -> None:
    logged_in(site.client, ANA)
    idle = timedelta(minutes=site.settings.session_idle_minutes)
    site.clock.advance(idle - timedelta(minutes=1))
    assert site.client.get("/", follow_redirects=False).status_code == 200  # activity counts
    site.clock.advance(idle - timedelta(minutes=1))
    assert site.client.get("/", follow_redirects=False).status_code == 200
    site.clock.advance(idle)
    ended = site.client.get("/tasks", follow_redirects=False)
    assert ended.status_code == 303 and ended.headers["location"] == "/login?next=%2Ftasks"
    assert "session has ended" in site.client.get(ended.headers["location"]).text
    # However active, a session ends at its absolute lifetime.
    logged_in(site.client, ANA)
    lifetime = timedelta(hours=site.settings.session_max_hours)
    steps = int(lifetime / (idle / 2)) + 1
    answers = []
    for _ in range(steps):
        site.clock.advance(idle / 2)
        answers.append(site.client.get("/", follow_redirects=False).status_code)
    assert answers[0] == 200 and answers[-1] == 303


def test_csrf_missing_or_wrong_is_refused_and_nothing_changes(site: Site) -> None:
    csrf = logged_in(site.client, ANA)
    for token in (None, "", "forged", csrf[:-1] + ("A" if csrf[-1] != "A" else "B")):
        form = {"back": "/"} if token is None else {"back": "/", "csrf": token}
        response = site.client.post("/sequences/Drip/pause", data=form, follow_redirects=False)
        assert response.status_code == 403, token
        assert "out of date or did not come from this site" in response.text
        assert _status(site) == "active"
    # Another session's token is no good either.
    other = TestClient(site.client.app)
    other_csrf = logged_in(other, ANA)
    response = site.client.post(
        "/sequences/Drip/pause", data={"csrf": other_csrf}, follow_redirects=False
    )
    assert response.status_code == 403 and _status(site) == "active"
    done = site.client.post("/sequences/Drip/pause", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303 and _status(site) == "paused"


def test_the_login_form_needs_its_token_too(site: Site) -> None:
    site.client.get("/login")
    form = {"email": ANA, "password": PASSWORD}
    assert site.client.post("/login", data=form, follow_redirects=False).status_code == 403
    form["csrf"] = "made-up"
    assert site.client.post("/login", data=form, follow_redirects=False).status_code == 403
    with site.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_next_is_only_ever_a_page_of_this_site(site: Site) -> None:
    for elsewhere in (
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:x",
    ):
        site.client.cookies.clear()
        response = log_in(site.client, ANA, next=elsewhere)
        assert response.status_code == 303 and response.headers["location"] == "/", elsewhere


def test_security_headers_on_pages_static_files_and_the_api(site: Site) -> None:
    logged_in(site.client, ANA)
    for path in ("/", "/login", "/static/cadenza.js", "/healthz", "/api/v1/sequences", "/nope"):
        headers = site.client.get(path, follow_redirects=False).headers
        policy = headers["content-security-policy"]
        scripts = re.search(r"script-src ([^;]+)", policy)
        assert scripts is not None and scripts.group(1).strip() == "'self'", path
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    # Pages of someone's work are not kept in caches; the login page may be.
    assert site.client.get("/").headers["cache-control"] == "no-store"
    # The API's Swagger page is served from vendored files under the same strict policy.
    docs = site.client.get("/api/v1/docs").headers
    assert (
        docs["content-security-policy"]
        == site.client.get("/login").headers["content-security-policy"]
    )
    assert docs["x-content-type-options"] == "nosniff"


def test_the_session_cookie_is_secure_when_the_site_is_https(db: Database, tmp_path: Path) -> None:
    settings = _settings(db, tmp_path, base_url="https://cadenza.example")
    with writing(db.sessions) as session:
        add_user(session=session, email=ANA, now=NOW, password=PASSWORD)
    app = create_app(settings, clock=FixedClock(NOW))
    with TestClient(app, base_url="https://cadenza.example") as client:
        page = client.get("/login")
        assert "Secure" in page.headers["set-cookie"]  # the login form's own token
        response = log_in(client, ANA)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "cadenza_session=" in cookie
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


WEB = Path(__file__).resolve().parents[2] / "src" / "cadenza" / "web"


def test_no_inline_script_and_nothing_marked_safe_in_the_pages() -> None:
    for template in (WEB / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name  # onclick=, onchange=…
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text
    for module in WEB.glob("*.py"):
        # charts.py alone builds markup (server-made SVG): every text in it passes escape(),
        # which tests/unit/test_charts.py proves with hostile labels.
        if module.name != "charts.py":
            assert "Markup" not in module.read_text(encoding="utf-8"), module.name


def test_concurrent_failures_each_count(db: Database) -> None:
    """Wrong passwords tried at once cannot slip past the limit by overwriting each other."""
    settings = Settings(database_url=db.url, environment="test", login_max_failures=6)
    with writing(db.sessions) as session:
        add_user(session=session, email=ANA, now=NOW, password=PASSWORD)
    with db.sessions() as session:
        candidate = sessions.find_candidate(session=session, email=ANA)

    def fail(_: int) -> datetime | None:
        with writing(db.sessions) as session:
            attempt = sessions.record_attempt(
                session=session, candidate=candidate, good=False, password="guess", now=NOW,
                settings=settings,
            )  # fmt: skip
            return attempt.locked_until

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(fail, range(6)))
    assert results.count(None) == 5  # exactly one of the six was the last one allowed
    with db.sessions() as session:
        user = session.scalars(select(User).where(User.email == ANA)).one()
    assert user.locked_until == NOW + timedelta(minutes=settings.login_lock_minutes)
