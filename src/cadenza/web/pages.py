"""The UI's pages under /: every page router, and the two static files they share.

Every page needs a login but those of the public routers: `login.public` and `assets`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from cadenza.errors import NotFound
from cadenza.web import (
    accounts,
    contact_edit,
    contact_manage,
    contacts,
    dialer,
    editor,
    enroll,
    history,
    lists,
    login,
    outbox,
    profile,
    queue,
    reports,
    senders,
    sequences,
    subscriptions,
    task_screen,
    tasks,
)
from cadenza.web.errors import page_router

STATIC = Path(__file__).parent / "static"
# Served by name from a fixed list: a path from the URL never reaches the file system.
STATIC_FILES = {
    "cadenza.css": "text/css",
    "cadenza.js": "text/javascript",
    # Vendored as published (with its licence beside it): htmx for partial page updates.
    "vendor/htmx-2.0.11.min.js": "text/javascript",
    "vendor/htmx-LICENSE": "text/plain",
    # Swagger UI for the API documentation (/api/v1/docs), with its licence and notice.
    "api-docs.js": "text/javascript",
    "vendor/swagger-ui-5.35.0-bundle.js": "text/javascript",
    "vendor/swagger-ui-5.35.0.css": "text/css",
    "vendor/swagger-ui-LICENSE": "text/plain",
    "vendor/swagger-ui-NOTICE": "text/plain",
}

assets = page_router(public=True)


@assets.get("/static/{name:path}")
def static_file(name: str) -> FileResponse:
    """The stylesheet, the small script and vendored libraries (no build step, no CDN)."""
    if name not in STATIC_FILES:
        raise NotFound(f"no static file {name!r}")
    return FileResponse(
        STATIC / name,
        media_type=STATIC_FILES[name],
        headers={"Cache-Control": "public, max-age=3600"},
    )


router = APIRouter(include_in_schema=False)
# The editor's, enrolling and queue routes first: `/sequences/{name:path}` would take them.
SEQUENCES = (editor, enroll, queue, sequences)
# contact_manage before contacts: `/contacts/new` names no contact.
WORK = (
    tasks, task_screen, dialer, contact_manage, contacts, contact_edit, outbox, senders,
    subscriptions, lists,
)
for module in (*SEQUENCES, *WORK, history, reports, login, accounts, profile):
    router.include_router(module.router)
router.include_router(login.public)
router.include_router(assets)
