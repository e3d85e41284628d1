"""A real server process (`cadenza serve` under uvicorn) on a test database, on a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CADENZA = shutil.which("cadenza") or str(Path(sys.executable).with_name("cadenza"))


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(database_url: str, folder: Path, **env: str) -> Iterator[Server]:
    """`cadenza serve --no-worker` on `database_url`, answering on 127.0.0.1 until the end."""
    port = free_port()
    environment = {
        **os.environ,
        "CADENZA_DATABASE_URL": database_url,
        "CADENZA_ENVIRONMENT": "production",
        "CADENZA_SECRET_KEY": "s" * 32,
        "CADENZA_BASE_URL": f"http://127.0.0.1:{port}",
        "CADENZA_SMS_SINK_PATH": str(folder / "sms.jsonl"),
        **env,
    }
    log = (folder / "server.log").open("w")
    command = [CADENZA, "serve", "--no-worker", "--port", str(port)]
    with subprocess.Popen(
        command, cwd=folder, env=environment, stdout=log, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, process, folder / "server.log")
            yield Server(url, process)
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def _wait_until_up(url: str, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not answer in 60 s: {log.read_text()}")
