"""Report pages: a sequence's figures with charts, comparisons, people and senders, CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import PlainTextResponse, Response

from cadenza.services import reports
from cadenza.services import sequences as sequence_service
from cadenza.services.reports.export import sequence_csv
from cadenza.services.reports.tally import Timeframe
from cadenza.services.users import access
from cadenza.web.charts import bars, columns
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page

router = page_router()


@router.get("/reports")
def reports_page(
    request: Request, viewer: PageViewer, since: str = "", until: str = ""
) -> Response:
    """Every sequence's headline rates, a comparison form, people and senders."""
    access.require(viewer, "see reports")
    timeframe = reports.timeframe_of(since, until)
    with request.app.state.sessions() as session:
        names = [
            row.name for row in sequence_service.list_sequences(session=session, viewer=viewer)
        ]
        rates = reports.headlines(session=session, names=names, timeframe=timeframe, viewer=viewer)
        rows = [{"sequence": name, **rates[name]} for name in names if name in rates]
        people = reports.people(session=session, timeframe=timeframe, viewer=viewer)
        senders = reports.senders(session=session, timeframe=timeframe, viewer=viewer)
    context = {"rows": rows, "people": people, "senders": senders, "filters": _filters(timeframe)}
    return page(request, "reports.html", context)


@router.get("/reports/compare")
def compare_page(
    request: Request,
    viewer: PageViewer,
    sequence: Annotated[list[str] | None, Query(max_length=50)] = None,
    since: str = "",
    until: str = "",
) -> Response:
    """The chosen sequences side by side."""
    access.require(viewer, "see reports")
    timeframe = reports.timeframe_of(since, until)
    rows: list[dict[str, Any]] = []
    if sequence:
        with request.app.state.sessions() as session:
            rows = reports.compare(
                session=session, names=sequence, timeframe=timeframe, viewer=viewer
            )
    context = {"rows": rows, "filters": _filters(timeframe), "chosen": sequence or []}
    return page(request, "report_compare.html", context)


@router.get("/reports/export/{name:path}")
def export_csv(
    request: Request, viewer: PageViewer, name: str, since: str = "", until: str = ""
) -> Response:
    """The sequence's report as CSV, one row per figure."""
    report = _report(request, viewer, name, reports.timeframe_of(since, until))
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80] or "report"
    return PlainTextResponse(
        sequence_csv(report),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{safe}.csv"'},
    )


@router.get("/reports/sequences/{name:path}")
def sequence_report_page(
    request: Request, viewer: PageViewer, name: str, since: str = "", until: str = ""
) -> Response:
    """One sequence: headline figures, funnel chart, daily chart, steps, variants, versions."""
    timeframe = reports.timeframe_of(since, until)
    report = _report(request, viewer, name, timeframe)
    with request.app.state.sessions() as session:
        days = reports.series(session=session, name=name, timeframe=timeframe, viewer=viewer)
    funnel = [(f"{s['step']} reached", s["reached"]) for s in report["steps"]]
    labels = [d["day"] for d in days]
    daily = [(k, [d[k] for d in days]) for k in ("sent", "replied", "positive", "negative")]
    context = {
        "report": report,
        "days": days,
        "filters": _filters(timeframe),
        "funnel_chart": bars(funnel, f"{name}: contacts reaching each step"),
        "daily_chart": columns(labels, daily, f"{name}: sends, replies and outcomes per day"),
    }
    return page(request, "report.html", context)


def _report(request: Request, viewer: Any, name: str, timeframe: Timeframe) -> dict[str, Any]:
    with request.app.state.sessions() as session:
        return reports.sequence_report(
            session=session, name=name, timeframe=timeframe, viewer=viewer
        )


def _filters(timeframe: Timeframe) -> dict[str, str]:
    return {k: v or "" for k, v in timeframe.as_dict().items()}
