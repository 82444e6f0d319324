"""A fault-injecting reverse proxy between the modules and LiteLLM's real admin API.

The modules under test talk to this proxy; it forwards every request to the
real LiteLLM (``upstream``) and breaks them the way real networks do, with the
stand-in's switches (tests/standin/faults.py) and its control endpoints, so a
test drives the real API exactly as it drives the stand-in:

- ``POST /__standin/faults`` (``GET``, ``DELETE``): drop a request before it
  reaches LiteLLM, or *after* LiteLLM committed it (the answer is lost), answer
  5xx or garbage instead of forwarding, delay;
- ``POST /__standin/clock`` (``GET``): move the clock the modules see.  The
  modules judge time (``retire_at``, key age, expiry) by the ``Date`` header of
  the proxy's answers; this proxy shifts that header.  LiteLLM's own clock is
  untouched, which is why tests move time forward only for decisions the
  modules make (purge after the grace period, rotation of old keys).

Control calls need the master key, as on the stand-in.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.standin.faults import FAULTS_PATH_PREFIX, FaultConfig, Faults

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "host", "content-length", "date", "server"}
UPSTREAM_TIMEOUT = 600.0  # a loaded machine makes LiteLLM slow; the tests' own timeouts decide


class FaultProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: str, master_key: str) -> None:
        parts = urllib.parse.urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.master_key = master_key
        self.faults = Faults()
        self.clock_offset = 0.0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.server_address[1]

    def now(self) -> float:
        with self.lock:
            return time.time() + self.clock_offset


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxyServer
    protocol_version = "HTTP/1.0"  # one request per connection: a dropped answer closes only its own

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(self.server.now() if timestamp is None else timestamp, usegmt=True)

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        sent = {name.lower() for name, _unused in headers or []}
        for name, value in headers or []:
            self.send_header(name, value)
        if "content-type" not in sent:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port,
                                          timeout=UPSTREAM_TIMEOUT)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP], payload
        finally:
            conn.close()

    # ------------------------------------------------------------------ control endpoints
    def _control(self, path: str, body: bytes) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.server.master_key}":
            self._send_json(401, {"error": {"message": "control call needs the master key", "type": "auth_error",
                                            "param": None, "code": "401"}})
            return
        try:
            data = json.loads(body) if body else {}
            if path == FAULTS_PATH_PREFIX + "faults":
                if self.command == "POST":
                    self.server.faults.set(FaultConfig.from_mapping(data))
                elif self.command == "DELETE":
                    self.server.faults.clear()
                self._send_json(200, self.server.faults.snapshot())
            elif path == FAULTS_PATH_PREFIX + "clock":
                if self.command == "POST":
                    with self.server.lock:
                        if "offset_seconds" in data:
                            self.server.clock_offset = float(data["offset_seconds"])
                        self.server.clock_offset += float(data.get("advance_seconds", 0))
                self._send_json(200, {"now": email.utils.formatdate(self.server.now(), usegmt=True),
                                      "offset_seconds": self.server.clock_offset})
            else:
                self._send_json(404, {"detail": "Not Found"})
        except (ValueError, TypeError) as exc:
            self._send_json(400, {"error": {"message": f"bad control call: {exc}", "type": "bad_request_error",
                                            "param": None, "code": "400"}})

    def _handle(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        body = self._read_body()
        if path.startswith(FAULTS_PATH_PREFIX):
            self._control(path, body)
            return
        decision = self.server.faults.decide(path)
        if decision.delay:
            time.sleep(decision.delay)
        if decision.action == "drop":  # never reaches LiteLLM
            self._drop()
            return
        if decision.action == "malformed":
            self._send(200, b"<html><body>fault proxy: malformed answer (not JSON)</body></html>")
            return
        if decision.action == "fail":
            status = decision.status
            self._send_json(status, {"error": {
                "message": f"fault proxy injected HTTP {status}",
                "type": "service_unavailable" if status == 503 else "internal_server_error",
                "param": None, "code": str(status)}}, [("Retry-After", "0")] if status in (429, 503) else None)
            return
        try:
            status, headers, payload = self._forward(body)
        except (OSError, http.client.HTTPException) as exc:
            self._send_json(502, {"error": {"message": f"fault proxy: upstream unreachable: {exc}",
                                            "type": "bad_gateway", "param": None, "code": "502"}})
            return
        if decision.drop_after:  # LiteLLM did it; the answer is lost
            self._drop()
            return
        self._send(status, payload, headers)


@contextmanager
def fault_proxy(upstream: str, master_key: str) -> Iterator[FaultProxyServer]:
    """A fault proxy in front of ``upstream`` for the duration of the block."""
    server = FaultProxyServer(upstream, master_key)
    thread = threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
