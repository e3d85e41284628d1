"""Logging a test client in to the UI the way a browser does: the form, its token, a cookie."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response

PASSWORD = "a long enough secret"
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


def form_token(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = TOKEN.search(html)
    assert found is not None, html[:2000]
    return found.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD, next: str = "/") -> Response:
    """Fill in and send the login form (not following the redirect)."""
    token = form_token(client.get("/login").text)
    form = {"email": email, "password": password, "next": next, "csrf": token}
    return client.post("/login", data=form, follow_redirects=False)


def logged_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log the client in; the session's CSRF token, for the forms it will post."""
    response = log_in(client, email, password)
    assert response.status_code == 303, response.text[:2000]
    return form_token(client.get("/logout").text)
