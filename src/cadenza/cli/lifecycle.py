"""People's operations: `sequences activate|pause|resume|end|archive|clone|delete`,
`enrollments pause|resume|stop|remove|skip`, and `migrate`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer

from cadenza.cli.app import app, context, guarded, id_argument, out, writing
from cadenza.cli.definitions import sequences_app
from cadenza.cli.engine import enrollments_app

NAME = typer.Argument(..., help="The sequence's name.", show_default=False)
ENROLLMENT = id_argument("The enrollment's id.")
# Version numbers are INTEGER columns: a larger one is refused before it reaches PostgreSQL.
MAX_VERSION = 2**31 - 1

R = TypeVar("R")


def _run(operation: Callable[..., R], *, on_sequence: bool = False, **arguments: Any) -> R:
    """Call a lifecycle operation in one write transaction, at the command's clock, as the
    operator (`--as`); an operation `on_sequence` also gets the settings (its plan limits)."""
    ctx = context()
    if on_sequence:
        arguments.update(settings=ctx.settings, viewer=ctx.viewer)
    actor = ctx.actor
    with writing(ctx.sessions) as session:
        return operation(session=session, now=ctx.clock.now(), actor=actor, **arguments)


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False)


# --- sequences ---------------------------------------------------------------------------------


@sequences_app.command("activate")
@guarded
def activate(name: str = NAME) -> None:
    """Start a draft sequence, or resume a paused one."""
    from cadenza.services.sequences import activate

    released = _run(activate, name=name, on_sequence=True)
    _say(f"sequence {name} is active" + (f"; {released} enrollments released" if released else ""))


@sequences_app.command("pause")
@guarded
def pause(name: str = NAME) -> None:
    """Pause a sequence: none of its enrollments moves until it is resumed."""
    from cadenza.services.sequences import pause

    held = _run(pause, name=name, on_sequence=True)
    _say(f"sequence {name} paused; {held} enrollments held")


@sequences_app.command("resume")
@guarded
def resume(name: str = NAME) -> None:
    """Resume a paused sequence (enrollments a person paused stay paused)."""
    from cadenza.services.sequences import resume

    released = _run(resume, name=name, on_sequence=True)
    _say(f"sequence {name} resumed; {released} enrollments released")


@sequences_app.command("end")
@guarded
def end(name: str = NAME) -> None:
    """End a sequence. IRREVERSIBLE: every running enrollment exits, open tasks are canceled."""
    from cadenza.services.sequences import end

    exited = _run(end, name=name, on_sequence=True)
    _say(f"sequence {name} ended; {exited} enrollments exited")


@sequences_app.command("archive")
@guarded
def archive(name: str = NAME) -> None:
    """Archive a sequence nobody is running through (end it first if some are)."""
    from cadenza.services.sequences import archive

    _run(archive, name=name, on_sequence=True)
    _say(f"sequence {name} archived")


@sequences_app.command("clone")
@guarded
def clone(
    name: str = NAME,
    new_name: str = typer.Argument(..., help="The copy's name.", show_default=False),
) -> None:
    """Copy a sequence's latest version into a new draft sequence."""
    from cadenza.services.sequences import clone

    _run(clone, name=name, new_name=new_name, viewer=context().viewer)
    _say(f"cloned {name} to {new_name} (draft)")


@sequences_app.command("delete")
@guarded
def delete(name: str = NAME) -> None:
    """Delete a sequence nobody was ever enrolled in, with its versions."""
    from cadenza.services.sequences import delete

    _run(delete, name=name, viewer=context().viewer)
    _say(f"sequence {name} deleted")


# --- enrollments -------------------------------------------------------------------------------


def _report(enrollment: Any, verb: str) -> None:
    step = f" at step {enrollment.step}" if enrollment.step else ""
    _say(f"enrollment {enrollment.id} {verb}: {enrollment.status}{step}")


@enrollments_app.command("pause")
@guarded
def enrollment_pause(enrollment_id: int = ENROLLMENT) -> None:
    """Pause one enrollment until a person resumes it."""
    from cadenza.services.enrollments import pause_enrollment

    _report(_run(pause_enrollment, enrollment_id=enrollment_id), "paused")


@enrollments_app.command("resume")
@guarded
def enrollment_resume(enrollment_id: int = ENROLLMENT) -> None:
    """Resume a paused enrollment."""
    from cadenza.services.enrollments import resume_enrollment

    _report(_run(resume_enrollment, enrollment_id=enrollment_id), "resumed")


@enrollments_app.command("stop")
@guarded
def enrollment_stop(enrollment_id: int = ENROLLMENT) -> None:
    """Pause an enrollment and cancel its open tasks."""
    from cadenza.services.enrollments import stop

    _report(_run(stop, enrollment_id=enrollment_id), "stopped")


@enrollments_app.command("remove")
@guarded
def enrollment_remove(enrollment_id: int = ENROLLMENT) -> None:
    """Remove an enrollment with its history, tasks and unsent messages."""
    from cadenza.services.enrollments import remove

    _report(_run(remove, enrollment_id=enrollment_id), "removed")


@enrollments_app.command("skip")
@guarded
def enrollment_skip(enrollment_id: int = ENROLLMENT) -> None:
    """Move to the next step now: the current one is skipped (its open task canceled)."""
    from cadenza.services.enrollments import skip_to_next

    enrollment = _run(skip_to_next, enrollment_id=enrollment_id, settings=context().settings)
    _report(enrollment, "moved on")


# --- versions ----------------------------------------------------------------------------------


@app.command()
@guarded
def migrate(
    sequence: str = NAME,
    to_version: int = typer.Option(
        ..., "--to-version", min=1, max=MAX_VERSION, help="The version to move to."
    ),
    mapping: list[str] = typer.Option(
        [], "--map", help="old=new: where enrollments on a removed step go (repeatable)."
    ),
) -> None:
    """Move running enrollments of other versions to version N, all of them or none."""
    from cadenza.services.sequences import migrate

    report = _run(migrate, sequence=sequence, to_version=to_version, step_map=_parse(mapping))
    sources = ", ".join(f"{n} from v{v}" for v, n in sorted(report.moved.items()))
    _say(
        f"moved {report.moved.total()} enrollments to v{to_version}"
        + (f" ({sources})" if sources else "")
    )
    if report.restarted:
        _say(f"{len(report.restarted)} no longer wait: active at their mapped step, due now")


def _parse(mapping: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in mapping:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise typer.BadParameter(f"{item!r} is not old=new", param_hint="--map")
        pairs[old.strip()] = new.strip()
    return pairs
