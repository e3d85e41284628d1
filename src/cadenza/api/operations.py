"""`/readyz` (for load balancers and orchestrators) and `/metrics` (for Prometheus).

/readyz is open, as /healthz is: it says only whether this process can serve. /metrics
needs `Authorization: Bearer <CADENZA_METRICS_TOKEN>` (or HTTP Basic with that token as the
password, which is what most scrapers are configured with) or an administrator's API key:
the backlog and the outbox tell how much mail a business sends.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cadenza.clock import Clock
from cadenza.services import users
from cadenza.services.operations import Figures, read_figures, readiness_problem
from cadenza.settings import Settings
from cadenza.store.models import User

router = APIRouter(include_in_schema=False)


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """200 when the database answers and its schema is the code's; 503 with the reason."""
    problem = readiness_problem(request.app.state.engine)
    if problem is not None:
        return JSONResponse({"status": "unready", "reason": problem}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """The process's counters and the database's backlog, in Prometheus' text format."""
    settings: Settings = request.app.state.settings
    _authorise(request, settings)
    clock: Clock = request.app.state.clock
    with request.app.state.sessions() as session:
        figures = read_figures(session=session, now=clock.now())
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_DatabaseFigures(figures))
    body = generate_latest(REGISTRY) + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _authorise(request: Request, settings: Settings) -> None:
    """The metrics token (Bearer or Basic password) or an administrator's API key."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    token = credentials.strip()
    if scheme.lower() == "basic":
        token = _basic_password(token)
    elif scheme.lower() != "bearer":
        token = ""
    if not token:
        raise _unauthorized("metrics need the metrics token or an administrator's API key")
    expected = settings.metrics_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return
    with request.app.state.sessions() as session:
        key = users.authenticate(session=session, token=token)
        if key is None:
            raise _unauthorized("neither the metrics token nor a valid API key")
        user = session.get(User, key.user_id) if key.user_id is not None else None
        if user is None or not user.active or user.role != "admin":
            raise HTTPException(403, "metrics are for administrators' keys")


def _basic_password(encoded: str) -> str:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer, Basic realm="metrics"'})


class _DatabaseFigures(Collector):
    """Gauges read from the database for this scrape."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures

    def collect(self) -> list[GaugeMetricFamily]:
        f = self.figures
        due = GaugeMetricFamily("cadenza_due_backlog", "Live enrollments due now or earlier.")
        due.add_metric([], f.due)
        late = GaugeMetricFamily(
            "cadenza_oldest_due_age_seconds", "How late the oldest due enrollment is."
        )
        late.add_metric([], f.oldest_due_seconds)
        outbox = GaugeMetricFamily(
            "cadenza_outbox_messages", "Messages not yet settled.", labels=["channel", "status"]
        )
        for (channel, status), count in sorted(f.outbox.items()):
            outbox.add_metric([channel, status], count)
        holds = GaugeMetricFamily("cadenza_held_messages", "Held messages.", labels=["reason"])
        for reason, count in sorted(f.holds.items()):
            holds.add_metric([reason], count)
        return [due, late, outbox, holds]
