"""A webhook receiver on loopback for `cadenza bench steps`, run as its own process.

It answers every POST with 204 and counts it, and `GET /count` with the number received:
the bench's webhook steps go to it through the dispatcher, as users' webhooks go to theirs.
Started by `Receiver`, which reads the port it bound from its first line of output.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import httpx


class _Counting(BaseHTTPRequestHandler):
    received = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with _Counting.lock:
            _Counting.received += 1
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        body = str(_Counting.received).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a line per request would cost more than answering it."""


def serve() -> None:
    """Serve on a free loopback port (printed first) until stdin closes."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # the bench closes it, or goes away
    server.shutdown()


class Receiver:
    """The receiver's process, while in a `with` block: its `url` and its `count()`."""

    def __enter__(self) -> Receiver:
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from cadenza.benchmarks.receiver import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.isdigit():
            self._stop()
            raise RuntimeError("the loopback webhook receiver did not start")
        self.base = f"http://127.0.0.1:{line}"
        self.url = f"{self.base}/bench"
        return self

    def count(self) -> int:
        """Webhooks received so far."""
        return int(httpx.get(f"{self.base}/count", timeout=10, trust_env=False).text)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
