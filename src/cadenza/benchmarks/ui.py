"""`cadenza bench ui`: every page of the UI and every API listing on a big database, timed
in-process through the ASGI app with a logged-in session (median and p95 of several
requests) and weighed (bytes of HTML), beside the goals of DESIGN.md section 7.

Pages come and go as the UI grows: each is looked up in the app's route table first, and a
page that is not there is listed as skipped, with the reason, rather than failing the run.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from cadenza.benchmarks import ui_data
from cadenza.clock import FixedClock
from cadenza.errors import BenchmarkFailed
from cadenza.server import create_app
from cadenza.services.users import create_key
from cadenza.settings import Settings
from cadenza.store.db import make_engine, session_factory, writing
from cadenza.store.models import Contact, Event, Sequence, Task

PAGE_MS = 150.0
SEARCH_MS = 250.0
PAGE_BYTES = 300_000
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Target:
    """A page to time: its label, route template, how to fill the template and query."""

    label: str
    route: str
    query: Callable[[set[str], Ids], dict[str, str]] = lambda _names, _ids: {}
    goal_ms: float = PAGE_MS
    api: bool = False
    agent: bool = False  # opened by an agent (who sees part of the sequences), not the admin


@dataclass(frozen=True)
class Ids:
    """Rows of the measured database the pages are opened on."""

    task_id: int
    contact_id: int
    sequence: str
    search: str
    now: datetime


@dataclass(frozen=True)
class Figure:
    """One page's measurements (or why it was skipped)."""

    label: str
    url: str
    median_ms: float | None = None
    p95_ms: float | None = None
    bytes: int | None = None
    status: int | None = None
    goal_ms: float = PAGE_MS
    note: str = ""

    @property
    def meets_goal(self) -> bool | None:
        if self.median_ms is None or self.p95_ms is None or self.bytes is None:
            return None
        fast = self.p95_ms <= self.goal_ms
        return fast and self.status == 200 and (self.bytes <= PAGE_BYTES)


def _first(names: set[str], *candidates: str) -> str | None:
    return next((name for name in candidates if name in names), None)


def _task_filters(names: set[str], _ids: Ids) -> dict[str, str]:
    query: dict[str, str] = {}
    if kind := _first(names, "type", "kind"):
        query[kind] = "call"
    if due := _first(names, "due"):
        query[due] = "overdue"
    return query


def _history_search(names: set[str], ids: Ids) -> dict[str, str]:
    # The report reads its filters from the query string itself: no declared parameters.
    names = names | {"q", "timeframe"}
    query: dict[str, str] = {}
    if search := _first(names, "q", "search", "query"):
        query[search] = ids.search
    elif "contact" in names:  # a contact's id where the page has no search box yet
        query["contact"] = str(ids.contact_id)
    if frame := _first(names, "timeframe", "range", "period", "when"):
        query[frame] = "last_7_days"
    elif "since" in names:
        query["since"] = (ids.now - timedelta(days=7)).isoformat()
    return query


def _contact_search(names: set[str], ids: Ids) -> dict[str, str]:
    name = _first(names, "q", "search", "query")
    return {name: ids.search} if name else {}


TARGETS = (
    Target("to-do list", "/tasks"),
    Target("to-do list, filtered (calls, overdue)", "/tasks", _task_filters),
    Target("task screen", "/tasks/{task_id}"),
    Target("contacts", "/contacts"),
    Target("contacts, searched", "/contacts", _contact_search),
    Target("contact page", "/contacts/{contact_id}"),
    Target("home (sequences)", "/"),
    Target("sequences", "/sequences"),
    Target("sequence page (its queue: 52,500 running)", "/sequences/{name}"),
    Target("sequence queue, page 500", "/sequences/{name}", lambda _n, _i: {"page": "500"}),
    Target("sequence queue, searched", "/sequences/{name}", lambda _n, i: {"q": i.search}),
    Target("sequence queue, paused", "/sequences/{name}", lambda _n, _i: {"status": "paused"}),
    Target("history", "/history"),
    Target("history, search + last 7 days", "/history", _history_search, SEARCH_MS),
    Target("history, all time", "/history", lambda _n, _i: {"timeframe": "all_time"}),
    Target("to-do list (an agent)", "/tasks", agent=True),
    Target("sequences (an agent)", "/sequences", agent=True),
    Target(
        "history, all time (an agent)",
        "/history",
        lambda _n, _i: {"timeframe": "all_time"},
        agent=True,
    ),
    Target("senders", "/senders"),
    Target("API tasks", "/api/v1/tasks", api=True),
    Target("API tasks, open", "/api/v1/tasks", lambda _n, _i: {"status": "open"}, api=True),
    Target("API contacts", "/api/v1/contacts", api=True),
    Target("API enrollments", "/api/v1/enrollments", api=True),
    Target("API history", "/api/v1/history", api=True),
    Target("API history, newest", "/api/v1/history", lambda _n, _i: {"order": "newest"}, api=True),
    Target("API messages", "/api/v1/messages", api=True),
    Target("API sequences", "/api/v1/sequences", api=True),
    Target("API senders", "/api/v1/senders", api=True),
)


def _routes(app: FastAPI) -> dict[str, set[str]]:
    """GET route templates (parameters written `{}`) -> the query parameters each reads."""
    found: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, APIRoute) and "GET" in route.methods:
            template = re.sub(r"\{[^}]*\}", "{}", route.path)
            names = {field.alias for field in route.dependant.query_params}
            found.setdefault(template, set()).update(names)
    return found


def _path(target: Target, ids: Ids) -> str:
    return target.route.format(task_id=ids.task_id, contact_id=ids.contact_id, name=ids.sequence)


def _measure(
    client: TestClient, url: str, repeat: int, headers: dict[str, str]
) -> tuple[list[float], int, int]:
    client.get(url, headers=headers)  # warm: templates compiled, caches filled
    times: list[float] = []
    size, status = 0, 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        size, status = len(response.content), response.status_code
    return times, size, status


def measure_pages(client: TestClient, ids: Ids, repeat: int, api_key: str) -> Iterator[Figure]:
    """Each target's figure, or a skipped one saying why (the admin's pages, then an agent's)."""
    routes = _routes(client.app)  # type: ignore[arg-type]
    admin = [t for t in TARGETS if not t.agent]
    agent = [t for t in TARGETS if t.agent]
    yield from _measure_targets(client, admin, routes, ids, repeat, api_key)
    _log_in(client, ui_data.AGENT)
    yield from _measure_targets(client, agent, routes, ids, repeat, api_key)


def _measure_targets(
    client: TestClient,
    targets: list[Target],
    routes: dict[str, set[str]],
    ids: Ids,
    repeat: int,
    api_key: str,
) -> Iterator[Figure]:
    for target in targets:
        template = re.sub(r"\{[^}]*\}", "{}", target.route)
        if template not in routes:
            yield Figure(target.label, target.route, note="skipped: no such page in this build")
            continue
        query = target.query(routes[template], ids)
        url = _path(target, ids) + ("?" + urlencode(query) if query else "")
        headers = {"Authorization": f"Bearer {api_key}"} if target.api else {}
        times, size, status = _measure(client, url, repeat, headers)
        ordered = sorted(times)
        p95 = ordered[max(0, ceil(0.95 * len(ordered)) - 1)]
        note = "" if status == 200 else f"answered {status}"
        yield Figure(
            target.label, url, statistics.median(times), p95, size, status, target.goal_ms, note
        )


def _ids(url: str, now: datetime) -> Ids:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            task = session.scalar(select(Task.id).where(Task.status == "open").limit(1))
            contact = session.scalar(select(Event.contact_id).order_by(Event.id.desc()).limit(1))
            name = session.scalar(select(Sequence.name).order_by(Sequence.name).limit(1))
            person = session.scalar(select(Contact.first_name).where(Contact.id == contact))
    finally:
        engine.dispose()
    if task is None or contact is None or name is None:
        raise BenchmarkFailed("the measured database has no task, contact or sequence")
    return Ids(task, contact, name, person or "Pat", now)


@contextmanager
def _logged_in(url: str, now: datetime) -> Iterator[tuple[TestClient, str]]:
    """A client of the app on `url` with an admin's session cookie, and that admin's API key."""
    settings = Settings(database_url=url, environment="test")
    app = create_app(settings, clock=FixedClock(now))
    engine = make_engine(url)
    with writing(session_factory(engine)) as session:
        key = create_key(session=session, name="bench ui", user_email=ui_data.ADMIN, now=now)[1]
    engine.dispose()
    with TestClient(app) as client:
        _log_in(client, ui_data.ADMIN)
        yield client, key
    app.state.engine.dispose()


def _log_in(client: TestClient, email: str) -> None:
    """Sign `email` in on the client (its cookie replaces whoever was signed in)."""
    client.cookies.clear()
    login = client.get("/login")
    found = TOKEN.search(login.text)
    if login.status_code != 200 or found is None:
        raise BenchmarkFailed(f"no login form to sign in with (GET /login: {login.status_code})")
    form = {"email": email, "password": ui_data.PASSWORD, "next": "/", "csrf": found[1]}
    answer = client.post("/login", data=form, follow_redirects=False)
    if answer.status_code != 303:
        raise BenchmarkFailed(f"the bench's {email} could not log in ({answer.status_code})")


def run(
    url: str,
    scale: ui_data.Scale,
    now: datetime,
    repeat: int,
    rebuild: bool,
    report: Callable[[str], None],
) -> list[Figure]:
    """Build (or reuse) the database at `url`, then time every page on it."""
    if rebuild or not ui_data.ready(url, scale, report):
        report("building the measured database (kept for the next run)")
        started = time.perf_counter()
        ui_data.build(url, scale, now, report)
        report(f"built in {time.perf_counter() - started:,.0f} s")
    else:
        report("reusing the database built by an earlier run (--rebuild to start over)")
    ids = _ids(url, now)
    with _logged_in(url, now) as (client, key):
        return list(measure_pages(client, ids, repeat, key))


def summary(figure: Figure) -> dict[str, Any]:
    """A figure as a JSON object."""
    return {
        "page": figure.label,
        "url": figure.url,
        "median_ms": None if figure.median_ms is None else round(figure.median_ms, 1),
        "p95_ms": None if figure.p95_ms is None else round(figure.p95_ms, 1),
        "bytes": figure.bytes,
        "status": figure.status,
        "goal_ms": figure.goal_ms,
        "goal_bytes": PAGE_BYTES,
        "meets_goal": figure.meets_goal,
        "note": figure.note,
    }
