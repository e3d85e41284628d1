"""Reports: a sequence's figures, its funnel and daily series, comparisons, people, senders.

Managers and admins read them, for the sequences they see (404 for one they do not).
Timeframes are UTC days, both ends included; `format=csv` answers CSV instead of JSON.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from cadenza.api.deps import SessionDep, ViewerDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.schemas import FORBIDDEN, MISSING, Responses
from cadenza.services import reports
from cadenza.services.reports.export import compare_csv, sequence_csv

router = APIRouter(prefix="/reports", tags=["reports"], route_class=ApiRoute)

Day = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="A UTC day, YYYY-MM-DD (both ends included)",
    ),
]
Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]
Figures = dict[str, Any]
CSV: Responses = {200: {"content": {"text/csv": {}}, "description": "The figures, as JSON or CSV"}}


@router.get("/sequences/{name}", responses=MISSING | FORBIDDEN | CSV)
def sequence_report(
    name: str,
    session: SessionDep,
    viewer: ViewerDep,
    since: Day = None,
    until: Day = None,
    format: Format = "json",
) -> Any:
    """Enrolled, where they are now, outcomes, tasks, message rates, funnel and versions."""
    report = reports.sequence_report(
        session=session, name=name, timeframe=reports.timeframe_of(since, until), viewer=viewer
    )
    return _csv(sequence_csv(report), name) if format == "csv" else report


@router.get("/sequences/{name}/steps", responses=MISSING | FORBIDDEN)
def step_report(
    name: str, session: SessionDep, viewer: ViewerDep, since: Day = None, until: Day = None
) -> list[Figures]:
    """The per-step funnel, with each A/B step's variants and their significance."""
    timeframe = reports.timeframe_of(since, until)
    report = reports.sequence_report(session=session, name=name, timeframe=timeframe, viewer=viewer)
    steps: list[Figures] = report["steps"]
    return steps


@router.get("/sequences/{name}/series", responses=MISSING | FORBIDDEN)
def series_report(
    name: str, session: SessionDep, viewer: ViewerDep, since: Day = None, until: Day = None
) -> list[Figures]:
    """Per UTC day: messages sent, contacts who replied, outcomes reached."""
    timeframe = reports.timeframe_of(since, until)
    return reports.series(session=session, name=name, timeframe=timeframe, viewer=viewer)


@router.get("/compare", responses=MISSING | FORBIDDEN | CSV)
def compare_report(
    session: SessionDep,
    viewer: ViewerDep,
    sequence: Annotated[list[str], Query(max_length=50, description="Repeat for each")],
    since: Day = None,
    until: Day = None,
    format: Format = "json",
) -> Any:
    """Sequences side by side: the same headline figures for each."""
    rows = reports.compare(
        session=session,
        names=sequence,
        timeframe=reports.timeframe_of(since, until),
        viewer=viewer,
    )
    return _csv(compare_csv(rows), "comparison") if format == "csv" else rows


@router.get("/people", responses=FORBIDDEN)
def people_report(
    session: SessionDep, viewer: ViewerDep, since: Day = None, until: Day = None
) -> list[Figures]:
    """Per rep: tasks completed by outcome, calls logged, manual emails sent."""
    timeframe = reports.timeframe_of(since, until)
    return reports.people(session=session, timeframe=timeframe, viewer=viewer)


@router.get("/senders", responses=FORBIDDEN)
def sender_report(
    session: SessionDep, viewer: ViewerDep, since: Day = None, until: Day = None
) -> list[Figures]:
    """Per sender: bounce, complaint and unsubscribe rates, flagged past the providers' limits."""
    timeframe = reports.timeframe_of(since, until)
    return reports.senders(session=session, timeframe=timeframe, viewer=viewer)


def _csv(text: str, name: str) -> PlainTextResponse:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80] or "report"
    return PlainTextResponse(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{safe}.csv"'},
    )
