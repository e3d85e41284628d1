"""The UI's pages (thin: read through the services, render a template)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cadenza.services import sequences as sequence_service

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    with request.app.state.sessions() as session:
        rows = sequence_service.list_sequences(session=session)
    return templates.TemplateResponse(request, "home.html", {"sequences": rows})
