"""``make demo``: PutOnly on loopback, no AWS account needed.

A moto server plays AWS (table and identity pool created from the synthesized templates), the built
tracker is served on a second origin with CloudFront's headers, and a demo page on a third. With
``--check`` a headless Chromium drives the page and the exit code says whether every tracked event
was stored exactly once.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections import Counter
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

from cdk_app import envelope
from cdk_app.local.browser import launch_chromium
from cdk_app.local.config import local_config
from cdk_app.local.emulator import LocalAws, MotoServer, provision
from cdk_app.local.serving import serve, serve_tracker
from cdk_app.local.templates import limits_from_cdk_out
from cdk_app.snippet import snippet
from cdk_app.tools.rows import Rejected, event_rows

ROOT = Path(__file__).resolve().parents[2]
PAGE = Path(__file__).with_name("demo_page.html")
# Deployed, an envelope waits up to 30 s for more events (fewer, fuller writes); a person watching the demo
# should see plays land within a few seconds, so its local config.json says 2 s unless told otherwise.
DEMO_MAX_DELAY_SECONDS = 2


def scan(moto: MotoServer, aws: LocalAws) -> list[dict[str, Any]]:
    """Every envelope in the table, newest first, with its event ids; items that are not envelopes are left out."""
    ddb = moto.client("dynamodb")
    envelopes = []
    for page in ddb.get_paginator("scan").paginate(TableName=aws.table_name):
        for item in page["Items"]:
            try:
                rows = event_rows(item)  # guests write the table: checked as the export checks it
            except Rejected:
                continue
            envelopes.append(
                {
                    "pk": item[envelope.PARTITION_KEY]["S"],
                    "sk": item[envelope.SORT_KEY]["S"],
                    "topic": item[envelope.TOPIC]["S"],
                    "subject": item.get(envelope.SUBJECT, {}).get("S", ""),
                    "count": len(rows),
                    "ids": [row["event_id"] for row in rows],
                }
            )
    return sorted(envelopes, key=lambda e: e["sk"], reverse=True)


def demo_server(moto: MotoServer, aws: LocalAws, page_snippet: str, max_delay: int) -> Any:
    html = PAGE.read_text().replace("__SNIPPET__", page_snippet).replace("__MAX_DELAY__", str(max_delay)).encode()

    class Demo(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/api/state"):
                envelopes = scan(moto, aws)
                body = json.dumps(
                    {
                        "envelopes": [{k: v for k, v in e.items() if k != "ids"} for e in envelopes[:15]],
                        "event_ids": [i for e in envelopes for i in e["ids"]],
                    }
                ).encode()
                content_type = "application/json"
            elif self.path.split("?")[0] in ("/", "/index.html"):
                body, content_type = html, "text/html; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return serve(ROOT, Demo)


def status_line(started: float, envelopes: list[dict[str, Any]], previous: int) -> tuple[str, int]:
    events = sum(e["count"] for e in envelopes)
    elapsed = time.monotonic() - started
    line = f"[{elapsed:5.0f} s] envelopes {len(envelopes):5d}  events stored {events:6d}  (+{events - previous}/s)"
    return line, events


def check(page_url: str, duration: float, moto: MotoServer, aws: LocalAws) -> int:
    """Drives the demo page in headless Chromium for ``duration`` seconds; 0 if every event is stored once."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(page_url + "?autoplay")
        page.wait_for_function("() => window.putonly && window.putonly.version === 1")
        started = time.monotonic()
        page.click("#burst")
        page.click("#bad")
        previous = 0
        while time.monotonic() - started < duration:
            page.wait_for_timeout(1000)
            line, previous = status_line(started, scan(moto, aws), previous)
            print(line, flush=True)
        page.click("#play")  # pause
        page.evaluate("() => putonly.flush()")
        tracked = page.evaluate("() => window.demo.tracked")
        rejected = page.evaluate("() => window.demo.rejected")
        dropped = page.evaluate("() => window.demo.dropped")
        browser.close()
    stored = Counter(i for e in scan(moto, aws) for i in e["ids"])
    missing = len(set(tracked) - set(stored))
    duplicated = sum(1 for i in tracked if stored[i] > 1)
    ok = bool(tracked) and missing == 0 and duplicated == 0 and dropped == 0
    print(
        f"check {'passed' if ok else 'FAILED'}: tracked {len(tracked)}, stored {len(set(tracked) & set(stored))}, "
        f"missing {missing}, duplicated {duplicated}, dropped {dropped}, refused by track() {rejected}"
    )
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=0, help="stop after N seconds (default: run until Ctrl-C)")
    parser.add_argument("--check", action="store_true", help="drive the page in headless Chromium and verify delivery")
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out", help="synthesized templates (make synth)")
    parser.add_argument(
        "--max-delay",
        type=int,
        default=DEMO_MAX_DELAY_SECONDS,
        metavar="S",
        help=f"maxDelaySeconds in the demo's config.json (default {DEMO_MAX_DELAY_SECONDS}; deployed: the setting)",
    )
    args = parser.parse_args(argv)
    if args.duration < 0:
        parser.error(f"--duration must be 0 or more seconds, got {args.duration:g}")
    if not 1 <= args.max_delay <= 3600:
        parser.error(f"--max-delay must be 1 to 3600 seconds (as the maxDelaySeconds setting), got {args.max_delay}")
    if args.check and not args.duration:
        parser.error("--check needs --duration N (how many seconds to drive the page)")
    if not (args.cdk_out / "manifest.json").is_file():
        parser.error(f"{args.cdk_out} has no synthesized app: run `make synth` first")
    dist = ROOT / "web_assets" / "dist"
    if not (dist / "v1" / "putonly.js").is_file():
        parser.error(f"{dist} is not built: run `make web` first")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    moto = MotoServer().start()
    servers = []
    try:
        aws = provision(moto, args.cdk_out)
        limits = {**limits_from_cdk_out(args.cdk_out), "maxDelaySeconds": args.max_delay}
        tracker = serve_tracker(dist, args.cdk_out, local_config(aws, limits))
        servers.append(tracker)
        tracker_origin = f"http://127.0.0.1:{tracker.server_address[1]}"
        page = demo_server(moto, aws, snippet(dist, f"{tracker_origin}/v1/putonly.js"), args.max_delay)
        servers.append(page)
        page_url = f"http://localhost:{page.server_address[1]}/"
        print(f"local AWS (moto server)  {moto.endpoint}   table {aws.table_name}, pool {aws.identity_pool_id}")
        print(f"tracker                  {tracker_origin}/v1/putonly.js")
        print(f"demo page                {page_url}   <- open this")
        print(f"envelopes are sent at most {args.max_delay} s after their first event (maxDelaySeconds, demo only)")
        # The analysts' command against this stack: moto takes any key, but boto3 wants one.
        print(
            "read them    AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 "
            f".venv/bin/putonly-export --table {aws.table_name} --endpoint-url {moto.endpoint} --all"
        )
        if args.check:
            return check(page_url, args.duration, moto, aws)
        print("Ctrl-C to stop.", flush=True)
        started, previous = time.monotonic(), 0
        printed = started
        while not args.duration or time.monotonic() - started < args.duration:
            time.sleep(1)
            line, events = status_line(started, scan(moto, aws), previous)
            # At least every 10 s: a step can take longer than a second (a scan of a big table), and then a check
            # for a multiple of 10 s missed it.
            if events != previous or time.monotonic() - printed >= 10:
                print(line, flush=True)
                printed = time.monotonic()
            previous = events
        return 0
    except KeyboardInterrupt:
        print("\nstopped")
        return 0
    finally:
        for server in servers:
            server.shutdown()
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
