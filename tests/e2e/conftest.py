"""Browser end-to-end fixtures: moto server, the tracker and the page on three loopback origins, Chromium.

Helpers that tests import (stored_events, open_page, wait_stored, ...) are in tests/helpers.py.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from cdk_app.local.browser import CHROMIUM, launch_chromium
from cdk_app.local.config import local_config
from cdk_app.local.emulator import LocalAws, MotoServer, provision
from cdk_app.local.serving import serve, serve_tracker
from cdk_app.local.templates import limits_from_cdk_out
from cdk_app.snippet import snippet
from tests.helpers import CDK_OUT, DIST_DIR, ROOT

# The page every browser test loads, ``PAGE % tracker_origin``: the snippet a site owner pastes and nothing else,
# from its one source (web_assets/src/snippet.html).
_SNIPPET = snippet(ROOT / "web_assets" / "src", "\0").replace("%", "%%").replace("\0", "%s/v1/putonly.js")
PAGE = f'<!doctype html><meta charset="utf-8"><title>PutOnly test page</title>\n{_SNIPPET}\n'
# Markup (a comment, a CMS field: no script) that shadows document properties the loader reads (DOM clobbering):
# /clobbered serves it before the page.
CLOBBERING = (
    '<img name="currentScript" src="http://127.0.0.1:9/evil/x.png">'
    '<img name="addEventListener"><img name="visibilityState">\n'
)


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    if not (CDK_OUT / "manifest.json").is_file():
        pytest.fail("cdk.out/ is missing: run `make synth` (make test does it)")
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def aws(moto: MotoServer) -> LocalAws:
    return provision(moto, CDK_OUT)


@pytest.fixture(scope="session")
def tracker_origin(aws: LocalAws) -> Iterator[str]:
    config = local_config(aws, limits_from_cdk_out(CDK_OUT))
    server = serve_tracker(DIST_DIR, CDK_OUT, config)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def page_origin(tracker_origin: str, moto: MotoServer) -> Iterator[str]:
    html = (PAGE % tracker_origin).encode()
    stub = html.split(b"<script>")[1].split(b"</script>")[0]
    stub_hash = base64.b64encode(hashlib.sha256(stub).digest()).decode()
    # The README's policy: the tracker's origin for scripts and fetches, blob: workers, the AWS endpoints
    # (here the emulator), and the inline stub by its hash. Nothing else.
    strict = (
        f"default-src 'none'; script-src 'sha256-{stub_hash}' {tracker_origin}; worker-src blob:;"
        f" connect-src {tracker_origin} {moto.endpoint}"
    )
    policies = {
        "/csp": strict,
        "/csp-no-worker": strict.replace("worker-src blob:", "worker-src 'none'"),
        # connect-src without the tracker (config.json), or without the AWS endpoints.
        "/csp-no-tracker-fetch": strict.replace(f"connect-src {tracker_origin} ", "connect-src "),
        "/csp-no-aws": strict.replace(f" {moto.endpoint}", ""),
    }

    class Page(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            if self.path in policies:
                self.send_header("Content-Security-Policy", policies[self.path])
            if self.path == "/csp-report-only":  # refuses the tracker and AWS, but only reports it
                self.send_header("Content-Security-Policy-Report-Only", "connect-src 'self'")
            self.end_headers()
            self.wfile.write(CLOBBERING.encode() + html if self.path == "/clobbered" else html)

    server = serve(Path("."), Page)
    # "localhost" vs "127.0.0.1": a different origin from the tracker's, and still a secure context.
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: run `make chromium` (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context()
    yield ctx
    ctx.close()
