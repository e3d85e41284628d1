"""The app answers from one flat route table: every route, API and UI, is matched by its path
pattern alone. FastAPI 0.137 and later keep included routers as a tree and walk it, with
bookkeeping per route, twice per request: that doubled the server's processor time per API
call (`cadenza bench api`). An upgrade that brings the tree back fails here, not in production.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Route

from cadenza.server import create_app
from cadenza.settings import Settings


def test_every_route_sits_in_one_flat_table(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'routes.db'}", environment="test")
    app = create_app(settings)
    nested = [type(r).__name__ for r in app.routes if not isinstance(r, Route | Mount)]
    assert not nested, f"routes kept as a tree, matched per request: {sorted(set(nested))}"
    paths = {r.path for r in app.routes if isinstance(r, Route)}
    # Routes of routers included two levels down (API v1 -> tasks; pages -> login).
    assert {"/api/v1/tasks/{task_id}/complete", "/login", "/healthz"} <= paths
