"""Limits before work, against a real server: bodies capped before they are read, and Hosts.

Each test starts `cadenza serve` (uvicorn) on the test database and talks to it over a real
socket, so that "refused before it is read" is seen as a client sees it: the answer arrives
while the client still has almost all of its body to send, and the server's memory stays flat.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from cadenza.services.users import add_user, create_key
from tests.conftest import Database
from tests.engine_helpers import at, write
from tests.live_server import Server, live_server

T0 = at("2026-12-01T15:00:00Z")
HUNDRED_MB = 100 * 1024 * 1024
CHUNK = b"x" * 65536
MiB = 1024 * 1024


@pytest.fixture
def server(db: Database, tmp_path: Path) -> Iterator[Server]:
    with live_server(db.url, tmp_path) as running:
        yield running


def _address(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def _rss(server: Server) -> int:
    return int(psutil.Process(server.process.pid).memory_info().rss)


def _read_answer(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the HTTP/1.1 answer on `conn` (closed by the server)."""
    conn.settimeout(10)
    data = b""
    while True:
        try:
            piece = conn.recv(65536)
        except ConnectionResetError:
            break
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _request_head(server: Server, path: str, *headers: str) -> bytes:
    host = server.url.removeprefix("http://")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def test_a_declared_100_mb_body_is_refused_before_a_byte_of_it_is_read(server: Server) -> None:
    before = _rss(server)
    with socket.create_connection(_address(server)) as conn:
        head = _request_head(
            server,
            "/api/v1/contacts",
            "Content-Type: application/json",
            f"Content-Length: {HUNDRED_MB}",
        )
        conn.sendall(head + b'{"first_name": "' + CHUNK)
        # The answer comes while 99.9 MB are still to send: the server never waited for them.
        readable, _, _ = select.select([conn], [], [], 10)
        assert readable, "no answer while the body was still being sent"
        status, headers, body = _read_answer(conn)
    assert status == 413 and headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413 and "CADENZA_MAX_BODY_BYTES" in problem["detail"]
    assert _rss(server) - before < 10 * MiB


def test_a_chunked_body_is_counted_as_it_streams_and_refused_at_the_cap(server: Server) -> None:
    before = _rss(server)
    peak = before
    sent = 0
    with socket.create_connection(_address(server)) as conn:
        conn.sendall(
            _request_head(
                server,
                "/api/v1/contacts",
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            )
        )
        frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
        try:
            while sent < HUNDRED_MB and not select.select([conn], [], [], 0)[0]:
                conn.sendall(frame)
                sent += len(CHUNK)
                if sent % (4 * MiB) == 0:
                    peak = max(peak, _rss(server))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading and closed: what a refusal at the cap looks like
        status, _, body = _read_answer(conn)
    assert status == 413 and "CADENZA_MAX_BODY_BYTES" in json.loads(body)["detail"]
    # Refused at the 2 MiB cap (give or take what the sockets buffer), not after 100 MB.
    assert sent < 20 * MiB, sent
    assert max(peak, _rss(server)) - before < 30 * MiB


def test_an_import_upload_over_its_cap_is_refused_by_size(db: Database, tmp_path: Path) -> None:
    with write(db) as session:
        add_user(session=session, email="ana@example.com", name="Ana", role="admin", now=T0)
        _, token = create_key(session=session, name="t", user_email="ana@example.com", now=T0)
    with live_server(db.url, tmp_path, CADENZA_MAX_IMPORT_BYTES=str(MiB)) as running:
        csv = b"email\n" + b"".join(b"c%d@example.com\n" % i for i in range(80_000))
        response = httpx.post(
            running.url + "/api/v1/contacts/import",
            files={"file": ("contacts.csv", csv, "text/csv")},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 413, response.text
        assert "CADENZA_MAX_IMPORT_BYTES" in response.json()["detail"]
        listed = httpx.get(
            running.url + "/api/v1/contacts", headers={"Authorization": f"Bearer {token}"}
        )
        assert listed.json() == []  # nothing of the refused file was imported


def test_a_host_outside_the_allow_list_gets_400_and_an_allowed_one_passes(server: Server) -> None:
    port = server.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert httpx.get(server.url + "/healthz", headers={"Host": host}).status_code == 200
    spoofed = httpx.get(server.url + "/healthz", headers={"Host": f"rebound.example:{port}"})
    assert spoofed.status_code == 400
    assert spoofed.headers["content-type"] == "application/problem+json"
    assert "rebound.example" in spoofed.json()["detail"]


def test_a_rebound_name_cannot_pass_the_origin_check_of_a_form(server: Server) -> None:
    """DNS rebinding: the attacker's page, served under its own name, posts to the UI."""
    port = server.url.rsplit(":", 1)[1]
    evil = f"rebound.example:{port}"
    form = {"Host": evil, "Origin": f"http://{evil}"}
    rebound = httpx.post(server.url + "/sequences/Anything/pause", headers=form)
    assert rebound.status_code == 400 and "rebound.example" in rebound.text
    # Under the real name, a foreign Origin is still refused by the UI's own check.
    foreign = {"Origin": f"http://{evil}"}
    assert httpx.post(server.url + "/sequences/Anything/pause", headers=foreign).status_code == 403
