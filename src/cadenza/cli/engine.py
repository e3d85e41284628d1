"""Running sequences: enroll, worker, event, task complete, and the listings of what happened."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

import typer

from cadenza.cli.app import (
    MAX_ID,
    app,
    context,
    err,
    guarded,
    id_argument,
    id_option,
    json_option,
    out,
    parse_time_option,
    settle_long_running,
    writing,
)
from cadenza.cli.listing import all_option, columns_of, limit_option, show_list
from cadenza.errors import ConfigurationError, ValidationFailed

if TYPE_CHECKING:
    from pydantic import ValidationError

tasks_app = typer.Typer(help="Tasks: manual steps on people's to-do lists.", no_args_is_help=True)
enrollments_app = typer.Typer(help="Contacts in sequences.", no_args_is_help=True)
messages_app = typer.Typer(help="The outbox: messages written by steps.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
app.add_typer(enrollments_app, name="enrollments")
app.add_typer(messages_app, name="messages")

TASK_COLUMNS = ("id", "kind", "step", "assignee", "status", "outcome", "due_at", "title")
ENROLLMENT_COLUMNS = (
    "id",
    "sequence",
    "contact_id",
    "status",
    "step",
    "due_at",
    "outcome",
    "exit_reason",
)
MESSAGE_COLUMNS = ("id", "key", "channel", "to", "status", "step", "subject")
HISTORY_COLUMNS = ("time", "type", "sequence", "contact_id", "step", "reason")
# Event data is stored as JSON, whose encoder stops at 254 levels; no real event nests past a few.
MAX_DEPTH = 64


def _json_option(text: str | None, name: str) -> Any:
    if text is None:
        return None
    value = json_option(text, name)
    _check_storable(value, name)
    return value


def _check_storable(value: Any, name: str) -> None:
    """Refuse what the database cannot keep: a NUL character, or data nested past MAX_DEPTH."""
    pending = [(value, 1)]  # a loop, not recursion: the JSON nests as deep as its parser let it
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ValidationFailed(f"{name} nests deeper than {MAX_DEPTH} levels")
        # Only JSON's "\u0000" spells a NUL (argv cannot hold one); PostgreSQL cannot store it.
        if isinstance(item, str) and "\x00" in item:
            raise ValidationFailed(f"{name} holds a NUL character (\\u0000): remove it")
        if isinstance(item, dict):
            pending += [(part, depth + 1) for pair in item.items() for part in pair]
        elif isinstance(item, list):
            pending += [(part, depth + 1) for part in item]


def _reasons(error: ValidationError) -> str:
    """A pydantic error's reasons on one line, each where it was found."""
    return "; ".join(
        ".".join(str(part) for part in e["loc"]) + f": {e['msg']}" if e["loc"] else e["msg"]
        for e in error.errors()
    )


@app.command()
@guarded
def enroll(
    sequence: str = typer.Argument(..., help="The sequence's name."),
    contact: list[int] = typer.Option(
        [], "--contact", help="A contact id (repeatable).", min=1, max=MAX_ID
    ),
    tag: str | None = typer.Option(None, help="Everyone with this tag."),
    where: str | None = typer.Option(None, help="Everyone matching a condition (JSON)."),
    account: str | None = typer.Option(
        None, help="An account's contacts (name or id) that match the sequence's audience."
    ),
    view: str | None = typer.Option(None, help="The contacts a saved view shows."),
) -> None:
    """Enroll contacts into a sequence; refusals are listed with their reasons."""
    from pydantic import TypeAdapter, ValidationError

    from cadenza.core.definition import Condition
    from cadenza.services import enrollments

    if account is not None or view is not None:
        if contact or tag is not None or where is not None or (account and view):
            raise typer.BadParameter("--account and --view go alone")
        _enroll_group(sequence, account, view)
        return
    if not contact and tag is None and where is None:
        raise typer.BadParameter("give --contact, --tag, --where, --account or --view")
    condition = None
    if where is not None:
        try:
            condition = TypeAdapter(Condition).validate_python(_json_option(where, "--where"))
        except ValidationError as exc:
            raise ValidationFailed(f"--where is not a condition: {_reasons(exc)}") from None
    ctx = context()
    with writing(ctx.sessions) as session:
        report = enrollments.enroll_audience(
            session=session,
            sequence=sequence,
            contact_ids=contact,
            tag=tag,
            where=condition,
            now=ctx.clock.now(),
            settings=ctx.settings,
            actor=ctx.actor,
        )
    out.print(f"enrolled {len(report.enrolled)} into {sequence}; refused {len(report.refused)}")
    for contact_id, reason in report.refused[:50]:
        err.print(f"contact {contact_id}: {reason}", markup=False)


def _enroll_group(sequence: str, account: str | None, view: str | None) -> None:
    """`enroll SEQ --account A` or `--view V`, through the same enrollment service."""
    from cadenza.services import audiences

    ctx = context()
    with writing(ctx.sessions) as session:
        common: dict[str, Any] = {
            "session": session, "viewer": ctx.viewer, "sequence": sequence,
            "now": ctx.clock.now(), "settings": ctx.settings,
        }  # fmt: skip
        if account is not None:
            report = audiences.enroll_account(account=account, **common)
        else:
            assert view is not None
            report = audiences.enroll_view(view=view, **common)
    out.print(f"enrolled {len(report.enrolled)} into {sequence}; refused {len(report.refused)}")
    for contact_id, reason in report.refused[:50]:
        err.print(f"contact {contact_id}: {reason}", markup=False)


@app.command()
@guarded
def worker(
    once: bool = typer.Option(False, "--once", help="Advance what is due, send, and exit."),
    batch: int = typer.Option(500, min=1, help="Enrollments claimed per transaction."),
    send: bool = typer.Option(True, "--send/--no-send", help="Send the outbox after advancing."),
    metrics_port: int | None = typer.Option(
        None, min=1, max=65535, help="Serve this worker's counters for Prometheus on this port."
    ),
    metrics_host: str = typer.Option("127.0.0.1", help="Address of --metrics-port."),
) -> None:
    """Advance due enrollments (and send the outbox) until stopped with SIGTERM or Ctrl-C."""
    from cadenza.engine.runner import drain_once, run_until_stopped

    ctx = context()
    problem = ctx.settings.signing_problem() if send else None
    if problem is not None and not once:
        raise ConfigurationError(f"the worker would send: {problem}")
    if once:
        advanced, sent = drain_once(ctx.sessions, ctx.clock, ctx.settings, batch=batch, send=send)
        out.print(f"advanced {advanced} steps; sent {sent} messages")
        if problem is not None and sent:
            # Tests and the README's tour drain once with no secret: a warning, not a refusal.
            err.print(f"warning: {problem}", markup=False, highlight=False)
        return
    if ctx.settings.log_format == "json":
        from cadenza.logs import configure

        configure("json")
    if metrics_port is not None:
        _serve_metrics(metrics_host, metrics_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    settle_long_running()
    run_until_stopped(ctx.sessions, ctx.clock, ctx.settings, stop, batch=batch, send=send)


def _serve_metrics(host: str, port: int) -> None:
    """The process's counters (steps, batch and claim latency, sends) at http://HOST:PORT/."""
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        raise ConfigurationError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None


@app.command()
@guarded
def event(
    contact: int = id_argument("The contact's id."),
    name: str = typer.Argument(..., help="replied, bounced, unsubscribed, tag_added, ..."),
    data: str | None = typer.Option(None, help="Event data as JSON."),
) -> None:
    """Record something that happened to a contact and apply it."""
    from cadenza.services.events import record_event

    payload = _json_option(data, "--data") or {}
    if not isinstance(payload, dict):
        raise ValidationFailed("--data must be a JSON object")
    ctx = context()
    with writing(ctx.sessions) as session:
        record_event(
            session=session,
            contact_id=contact,
            name=name,
            data=payload,
            now=ctx.clock.now(),
            settings=ctx.settings,
            actor=ctx.actor,
        )
    out.print(f"recorded {name} for contact {contact}")


@tasks_app.command("complete")
@guarded
def task_complete(
    task_id: int = id_argument("The task's id."),
    outcome: str = typer.Argument(...),
) -> None:
    """Complete a task with an outcome (the enrollment follows the outcome's route)."""
    from cadenza.services.tasks import complete_task

    ctx = context()
    with writing(ctx.sessions) as session:
        complete_task(
            session=session,
            task_id=task_id,
            outcome=outcome,
            now=ctx.clock.now(),
            settings=ctx.settings,
            actor=ctx.actor,
        )
    out.print(f"task {task_id} done: {outcome}")


@tasks_app.command("list")
@guarded
def tasks_list(
    assignee: str | None = typer.Option(
        None, help="Only this user's (an email), or `unassigned`: nobody's."
    ),
    status: str | None = typer.Option(None, help="open, done, skipped, canceled or error."),
    sequence: str | None = typer.Option(None, help="Only this sequence's."),
    kind: str | None = typer.Option(None, help="call, task, manual_email, ..."),
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Tasks, soonest due first."""
    from cadenza.services.tasks.listing import TaskFilter, page_tasks

    wanted = TaskFilter(assignee=assignee, status=status, sequence=sequence, kind=kind)
    with context().sessions() as session:
        show_list(
            lambda cursor, size: page_tasks(
                session=session, where=wanted, limit=size, cursor=cursor
            ),
            limit=limit,
            everything=everything,
            as_json=as_json,
            cells=columns_of(*TASK_COLUMNS),
            columns=TASK_COLUMNS,
        )


@enrollments_app.command("list")
@guarded
def enrollments_list(
    sequence: str | None = typer.Option(None),
    status: str | None = typer.Option(None),
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Enrollments with their status, step and next due time, in id order."""
    from cadenza.services.enrollments.listing import page_enrollments

    with context().sessions() as session:
        show_list(
            lambda cursor, size: page_enrollments(
                session=session, sequence=sequence, status=status, limit=size, cursor=cursor
            ),
            limit=limit,
            everything=everything,
            as_json=as_json,
            cells=columns_of(*ENROLLMENT_COLUMNS),
            columns=ENROLLMENT_COLUMNS,
        )


@enrollments_app.command("retry")
@guarded
def enrollment_retry(enrollment_id: int = id_argument("The enrollment's id.")) -> None:
    """Run a step in error again (after fixing what was wrong)."""
    from cadenza.services.enrollments import retry_step

    ctx = context()
    with writing(ctx.sessions) as session:
        retry_step(
            session=session,
            enrollment_id=enrollment_id,
            now=ctx.clock.now(),
            settings=ctx.settings,
            actor=ctx.actor,
        )
    out.print(f"enrollment {enrollment_id}: step will run again")


@messages_app.command("list")
@guarded
def messages_list(
    status: str | None = typer.Option(None),
    channel: str | None = typer.Option(None),
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Outbox messages and what became of them, in the order they were queued."""
    from cadenza.services.outbox.listing import page_messages

    with context().sessions() as session:
        show_list(
            lambda cursor, size: page_messages(
                session=session, status=status, channel=channel, limit=size, cursor=cursor
            ),
            limit=limit,
            everything=everything,
            as_json=as_json,
            cells=columns_of(*MESSAGE_COLUMNS),
            columns=MESSAGE_COLUMNS,
        )


@app.command()
@guarded
def history(
    sequence: str | None = typer.Argument(None),
    contact: int | None = id_option("Only this contact."),
    type_: list[str] = typer.Option([], "--type", help="Event type (repeatable)."),
    since: str | None = typer.Option(None, help="ISO time."),
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """What happened, oldest first: the latest --limit events, or --all of them."""
    from cadenza.services.history import HistoryFilter, page_history

    wanted = HistoryFilter(sequence, contact, type_ or None, parse_time_option(since, "--since"))
    with context().sessions() as session:
        show_list(
            lambda cursor, size: page_history(
                session=session,
                where=wanted,
                limit=size,
                cursor=cursor,
                newest_first=not everything,
            ),
            limit=limit,
            everything=everything,
            as_json=as_json,
            cells=columns_of(*HISTORY_COLUMNS),
            columns=HISTORY_COLUMNS,
            latest=True,
        )
