"""API latency under load: 20 clients in another process while the engine drains a burst.

The server runs as `cadenza serve` (SQLite: with its embedded worker; PostgreSQL: with
`--no-worker` beside one `cadenza worker` process), as in production. The load generator is
a separate process, so its own work never stalls the server's event loop or GIL.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

GOAL_P99_SECONDS = 0.3
# Contacts with an open task, for the clients to complete: more than 20 clients complete in
# 15 s at the goal's pace (~150 operations/s, a third of them completions: ~750), so that
# the mix holds to the end. With 300, a quicker server ran out and its "complete" operations became
# a listing alone, cheaper than what a slower one was measured on.
TASKS = 1500
ADMIN = "bench-admin@bench.example"
_CADENZA = "import sys; from cadenza.cli import main; sys.argv[0] = 'cadenza'; main()"


@dataclass
class ApiFigures:
    """Latencies per operation and overall, and how much of the burst the engine drained."""

    backend: str
    clients: int
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    burst: int = 0
    drained: int = 0
    tasks: int = 0  # open for the clients at the start
    tasks_done: int = 0

    def all(self) -> list[float]:
        return sorted(x for values in self.latencies.values() for x in values)

    @staticmethod
    def quantile(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def measure(backend: str, *, clients: int, seconds: float, burst: int, pg_url: str) -> ApiFigures:
    """Load the API with `clients` for `seconds` while `burst` due steps drain."""
    from cadenza.benchmarks.databases import fresh_database

    with fresh_database(backend, "api", pg_url) as url, tempfile.TemporaryDirectory() as folder:
        key, tasks = _prepare(url, burst)
        env = _environment(url, Path(folder))
        with _serving(backend, env, Path(folder)) as base:
            figures = ApiFigures(backend, clients, seconds, burst=burst, tasks=tasks)
            figures.latencies, figures.errors = _load(base, key, clients, seconds, tasks)
        figures.drained, figures.tasks_done = _drained(url)
        return figures


def _prepare(url: str, burst: int) -> tuple[str, int]:
    """An admin and their key, a burst of due no-op steps, and contacts with open tasks."""
    from cadenza.benchmarks.databases import store_sequence, synthetic_contacts
    from cadenza.clock import FixedClock
    from cadenza.engine.worker import Worker
    from cadenza.services import enrollments, users
    from cadenza.settings import Settings
    from cadenza.store.db import make_engine, session_factory, writing

    now = datetime.now(UTC)
    engine = make_engine(url)
    sessions = session_factory(engine)
    settings = Settings(environment="test")

    def enroll(session: Session, sequence: str, chosen: list[int]) -> None:
        enrollments.enroll(
            session=session, sequence=sequence, contact_ids=chosen, now=now, settings=settings
        )

    with writing(sessions) as session:
        users.add_user(session=session, email=ADMIN, role="admin", now=now)
        _, key = users.create_key(session=session, name="bench", user_email=ADMIN, now=now)
        schedule = {"timezone": "UTC", "days": "every_day", "holidays": "none"}
        store_sequence(session, {"name": "Burst", "schedule": schedule, "steps": _BURST}, now)
        # A to-do, not a call: the synthetic contacts have no phone number, and a call step
        # for one makes a task in error that no client can complete.
        todo = [
            {"key": "todo", "action": "task", "title": "Follow up", "assignee": f"user:{ADMIN}"}
        ]
        store_sequence(session, {"name": "Tasks", "schedule": schedule, "steps": todo}, now)
        ids = synthetic_contacts(session, burst + TASKS, now)
        enroll(session, "Tasks", ids[burst:])
    # The tasks are open before the burst is due, so the clients have some to complete.
    Worker(sessions, FixedClock(now), settings).drain()
    with writing(sessions) as session:
        enroll(session, "Burst", ids[:burst])
    engine.dispose()
    return key, TASKS


_BURST = [
    {"key": "one", "action": "add_tag", "tag": "one"},
    {"key": "two", "action": "add_tag", "tag": "two"},
]


def _environment(url: str, folder: Path) -> dict[str, str]:
    # The caller's other settings apply (e.g. CADENZA_EMBEDDED_BATCH), not its database.
    private = ("CADENZA_NOW", "CADENZA_AS", "CADENZA_DEV_MAILBOX")
    env = {k: v for k, v in os.environ.items() if k not in private}
    return env | {
        "CADENZA_DATABASE_URL": url,
        "CADENZA_ENVIRONMENT": "development",
        "CADENZA_SMS_SINK_PATH": str(folder / "sms.jsonl"),
    }


@contextmanager
def _serving(backend: str, env: dict[str, str], folder: Path) -> Iterator[str]:
    """The server (and on PostgreSQL a worker) running until the block ends; the base URL."""
    from cadenza.benchmarks.startup import _CADENZA as cadenza

    port = _free_port()
    serve = ["serve", "--port", str(port)] + (["--no-worker"] if backend != "sqlite" else [])
    commands = [serve] + ([["worker", "--no-send"]] if backend != "sqlite" else [])
    with ExitStack() as stack:
        for number, args in enumerate(commands):
            log = stack.enter_context((folder / f"process{number}.log").open("w"))
            process = subprocess.Popen(
                [sys.executable, "-c", cadenza, *args], env=env, stdout=log, stderr=log
            )
            stack.callback(_stop, process)
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base, folder)
        yield base


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(base: str, folder: Path) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    logs = "\n".join(p.read_text()[-2000:] for p in folder.glob("process*.log"))
    raise RuntimeError(f"the server did not start in 120 s:\n{logs}")


def _load(
    base: str, key: str, clients: int, seconds: float, tasks: int
) -> tuple[dict[str, list[float]], int]:
    """Run the clients in a child process; their latencies by operation, and the errors."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: tuple[dict[str, list[float]], int] = pool.apply(
            run_clients, (base, key, clients, seconds)
        )
    return result


def run_clients(
    base: str, key: str, clients: int, seconds: float
) -> tuple[dict[str, list[float]], int]:
    """In the load process: `clients` threads, each a loop of enroll, list, complete."""
    import httpx

    latencies: dict[str, list[float]] = defaultdict(list)
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {key}"}

    def client(number: int) -> None:
        rng = random.Random(number)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            while time.monotonic() < deadline:
                name, request = _operation(http, rng, number)
                started = time.perf_counter()
                try:
                    response = request()
                    failed = response.status_code >= 500 or response.status_code in (401, 403)
                except httpx.HTTPError:
                    failed = True
                elapsed = time.perf_counter() - started
                with lock:
                    latencies[name].append(elapsed)
                    errors[0] += failed

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return dict(latencies), errors[0]


def _operation(http: Any, rng: random.Random, number: int) -> tuple[str, Any]:
    """One request of the mix: a third enroll (a new contact), a third list, a third complete."""
    kind = rng.choice(("enroll", "list", "complete"))
    if kind == "enroll":
        email = f"load{number}-{rng.randrange(10**9)}@bench.example"

        def enroll() -> Any:
            contact = http.post("/api/v1/contacts", json={"email": email})
            if contact.status_code != 201:
                return contact
            body = {"sequence": "Tasks", "contact_ids": [contact.json()["id"]]}
            return http.post("/api/v1/enrollments", json=body)

        return "enroll (2 requests)", enroll
    if kind == "list":
        return "list enrollments", lambda: http.get("/api/v1/enrollments", params={"limit": 50})

    def complete() -> Any:
        found = http.get("/api/v1/tasks", params={"status": "open", "limit": 20})
        rows = found.json() if found.status_code == 200 else []
        rows = rows.get("items", rows) if isinstance(rows, dict) else rows
        if not rows:
            return found
        task = rng.choice(rows)["id"]
        return http.post(f"/api/v1/tasks/{task}/complete", json={"outcome": "none"})

    return "list + complete task (2 requests)", complete


def _drained(url: str) -> tuple[int, int]:
    """Burst enrollments that finished, and tasks the clients completed."""
    from sqlalchemy import func, select

    from cadenza.store.db import make_engine
    from cadenza.store.models import Enrollment, Sequence, Task

    engine = make_engine(url)
    with engine.connect() as connection:
        done = connection.execute(
            select(func.count())
            .select_from(Enrollment)
            .join(Sequence, Sequence.id == Enrollment.sequence_id)
            .where(Sequence.name == "Burst", Enrollment.status == "completed")
        ).scalar_one()
        completed = connection.execute(
            select(func.count()).select_from(Task).where(Task.status == "done")
        ).scalar_one()
    engine.dispose()
    return int(done), int(completed)
