"""HTTP on loopback: the built tracker served with the headers CloudFront would add, and other local pages."""

from __future__ import annotations

import json
import socket
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from cdk_app.local.templates import headers_policy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def response_headers(policy: dict[str, Any], origin: str | None) -> dict[str, str]:
    """What CloudFront adds to tracker responses, per the synthesized response headers policy."""
    headers: dict[str, str] = {}
    cors = policy.get("CorsConfig")
    if cors and origin:
        allowed = cors["AccessControlAllowOrigins"]["Items"]
        if "*" in allowed or origin in allowed:
            headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
            headers["Access-Control-Allow-Methods"] = ",".join(cors["AccessControlAllowMethods"]["Items"])
    for custom in policy.get("CustomHeadersConfig", {}).get("Items", []):
        headers[custom["Header"]] = custom["Value"]
    security = policy.get("SecurityHeadersConfig", {})
    if "ContentTypeOptions" in security:
        headers["X-Content-Type-Options"] = "nosniff"
    hsts = security.get("StrictTransportSecurity")
    if hsts:
        headers["Strict-Transport-Security"] = f"max-age={hsts['AccessControlMaxAgeSec']}" + (
            "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        )
    return headers


class _TrackerHandler(SimpleHTTPRequestHandler):
    policy: ClassVar[dict[str, Any]] = {}
    config: bytes = b"{}"

    def end_headers(self) -> None:
        for name, value in response_headers(self.policy, self.headers.get("Origin")).items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/v1/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(directory: Path, handler: type[SimpleHTTPRequestHandler] = SimpleHTTPRequestHandler) -> ThreadingHTTPServer:
    """Serves ``directory`` on a free loopback port from a daemon thread."""

    class Quiet(handler):  # type: ignore[valid-type,misc]
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve_tracker(
    dist: Path, cdk_out: Path, config: dict[str, Any], *, cors_origins: list[str] | None = None
) -> ThreadingHTTPServer:
    """Serves the built tracker with CloudFront's headers and a local config.json.

    ``cors_origins`` replaces the synthesized policy's allowed origins (as a ``corsOrigins`` setting would).
    """
    policy = headers_policy(cdk_out)
    if cors_origins is not None:
        policy = {**policy, "CorsConfig": {**policy["CorsConfig"]}}
        policy["CorsConfig"]["AccessControlAllowOrigins"] = {"Items": cors_origins}
    handler = type("TrackerHandler", (_TrackerHandler,), {"policy": policy, "config": json.dumps(config).encode()})
    return serve(dist, handler)
