"""A loopback proxy in front of the local DynamoDB (moto) that behaves like a network: slow, lossy or late.

Used by the end-of-visit tests and ``make bench``: a request a page or worker made may be dropped, held back
and released later, or cancelled by its sender before it arrives (a worker killed with its page cancels its
requests; a keepalive request outlives the page).
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cdk_app.local.serving import free_port


class DynamoGate:
    """A loopback proxy in front of moto's DynamoDB: passes, drops (``abort``) or holds PutItem requests.

    Like a real network, a PutItem takes ``latency`` seconds to reach DynamoDB, and one whose sender hung up
    meanwhile (a worker killed with its page cancels its requests) never does.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.mode = "pass"
        self.latency = 0.3
        self.cancelled = 0
        self.aborted = 0
        self.release = threading.Event()
        self.held: list[int] = []  # the envelope counts of held requests
        # DynamoDB's clock this far ahead of this machine's (a visitor's device clock behind): a PutItem signed
        # more than 15 minutes away from it is refused, with DynamoDB's own message (it carries the server's time).
        self.server_ahead: timedelta | None = None
        self.answers: list[tuple[int, int, str]] = []  # (count, status, error type) of forwarded PutItems
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_OPTIONS(self) -> None:
                gate.forward(self, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "PutItem" not in (self.headers.get("X-Amz-Target") or ""):
                    gate.forward(self, body)
                    return
                count = int(json.loads(body)["Item"]["count"]["N"])
                if gate.server_ahead is not None and gate.refused_for_its_date(self):
                    gate.answers.append((count, 400, "InvalidSignatureException"))
                    return
                if gate.mode == "abort":
                    gate.aborted += 1
                    self.close_connection = True  # no response: the browser sees a network error
                    return
                if gate.mode == "hold":
                    gate.held.append(count)
                    gate.release.wait(60)
                elif gate.hung_up(self, gate.latency):
                    gate.cancelled += 1
                    return
                status, error = gate.forward(self, body)
                gate.answers.append((count, status, error))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def refused_for_its_date(self, handler: BaseHTTPRequestHandler) -> bool:
        """Answers as DynamoDB does a signature dated more than 15 minutes from its clock; False if in time."""
        message = signature_time_error(
            handler.headers["X-Amz-Date"], datetime.now(UTC) + (self.server_ahead or timedelta())
        )
        if message is None:
            return False
        payload = json.dumps({"__type": "com.amazon.coral.service#InvalidSignatureException", "message": message})
        handler.send_response(400)
        handler.send_header("Access-Control-Allow-Origin", "*")
        handler.send_header("Content-Type", "application/x-amz-json-1.0")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload.encode())
        return True

    @staticmethod
    def hung_up(handler: BaseHTTPRequestHandler, within: float) -> bool:
        """True when the client closes the connection within ``within`` seconds (it cancelled the request)."""
        readable, _, _ = select.select([handler.connection], [], [], within)
        return bool(readable) and handler.connection.recv(1, socket.MSG_PEEK) == b""

    def forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, str]:
        connection = http.client.HTTPConnection(self.upstream.hostname or "", self.upstream.port, timeout=30)
        skip = {"host", "connection", "content-length"}
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in skip}
        connection.request(handler.command, handler.path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in {"connection", "content-length", "transfer-encoding", "server", "date"}:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
        connection.close()
        error = json.loads(payload).get("__type", "") if payload.startswith(b"{") else ""
        return response.status, error.split("#")[-1]

    def reset(self) -> None:
        self.mode, self.aborted, self.cancelled, self.latency = "pass", 0, 0, 0.3
        self.server_ahead = None
        self.release.set()
        self.release = threading.Event()
        self.held.clear()
        self.answers.clear()


def signature_time_error(signed: str, server: datetime) -> str | None:
    """DynamoDB's message refusing a request signed at ``signed`` (X-Amz-Date) when its clock reads ``server``, or
    None when the signature is within its 15 minutes. The message carries the server's time, as DynamoDB's does."""

    def stamp(t: datetime) -> str:
        return t.strftime("%Y%m%dT%H%M%SZ")

    at = datetime.strptime(signed, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    window = timedelta(minutes=15)
    if at < server - window:
        return f"Signature expired: {signed} is now earlier than {stamp(server - window)} ({stamp(server)} - 15 min.)"
    if at > server + window:
        later = stamp(server + window)
        return f"Signature not yet current: {signed} is still later than {later} ({stamp(server)} + 15 min.)"
    return None
