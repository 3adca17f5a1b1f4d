"""What tests share: paths, template lookups, the local table's events, browser pages, the commands' environment.

Fixtures live in the conftest files; everything a test file imports from elsewhere lives here.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdk_app import envelope
from cdk_app.local.gate import signature_time_error

if TYPE_CHECKING:
    from cdk_app.local.emulator import LocalAws, MotoServer

# Paths

ROOT = Path(__file__).resolve().parent.parent
DIST_DIR = ROOT / "web_assets" / "dist"
CDK_OUT = ROOT / "cdk.out"
CERT_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def cdk_context() -> dict[str, Any]:
    return json.loads((ROOT / "cdk.json").read_text())["context"]


# Synthesized templates


@dataclass(frozen=True)
class Deployment:
    """The synthesized templates of one environment (dev, prod, or dev with a custom domain and alarm email)."""

    settings: Any
    data: dict[str, Any]
    identity: dict[str, Any]
    site: dict[str, Any]


@dataclass(frozen=True)
class Synth:
    outdir: Path
    deployments: dict[str, Deployment]


_HASH = re.compile(r"[0-9a-f]{64}")


def mask_asset_hashes(template: dict[str, Any]) -> dict[str, Any]:
    """Asset hashes change with every tracker build; snapshots should show only real template changes."""
    return json.loads(_HASH.sub("<asset-hash>", json.dumps(template)))


def resources(template: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == type_]


def one(template: dict[str, Any], type_: str) -> dict[str, Any]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected exactly one {type_}, found {len(found)}"
    return found[0]


def managed_policy(template: dict[str, Any], sid: str) -> dict[str, Any]:
    """The one managed policy with a statement ``sid`` (the Data stack has the analysts' and the operators')."""
    found = [
        r
        for r in resources(template, "AWS::IAM::ManagedPolicy")
        if any(s.get("Sid") == sid for s in r["Properties"]["PolicyDocument"]["Statement"])
    ]
    assert len(found) == 1, f"expected exactly one managed policy with statement {sid}, found {len(found)}"
    return found[0]


# The local stack's table


def stored_events(aws: LocalAws, moto: MotoServer) -> list[dict[str, Any]]:
    """Every event in the table, flattened from its envelope."""
    ddb = moto.client("dynamodb")
    events = []
    for page in ddb.get_paginator("scan").paginate(TableName=aws.table_name):
        for item in page["Items"]:
            first = int(item["first_ts"]["N"])
            for event_id, dt, data in json.loads(item["events"]["S"]):
                events.append(
                    {
                        "id": event_id,
                        "ts": first + dt,
                        "data": data,
                        "topic": item["topic"]["S"],
                        "subject": item.get("subject", {}).get("S", ""),
                        "pk": item["pk"]["S"],
                        "envelope": item["sk"]["S"],
                    }
                )
    return events


# Envelope items, honest and malformed (what a guest holding real credentials can store)

FIRST = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def envelope_item(**changes: Any) -> dict[str, Any]:
    """The tracker's two-event envelope, with attributes replaced (a raw value) or removed (None)."""
    good = envelope.item(
        identity="us-east-1:visitor",
        sk="2026-01-01T00:00:00.000Z#E1",
        topic="song_player",
        subject="song-1",
        events=json.dumps([["e1", 0, {"s": 1}], ["e2", 1500, [1, "é"]]]),
        count=2,
        first_ts=FIRST,
        last_ts=FIRST + 1500,
    )
    for name, value in changes.items():
        if value is None:
            good.pop(name, None)
        else:
            good[name] = value
    return good


def envelope_with_events(text: str, count: int = 1) -> dict[str, Any]:
    return envelope_item(events={"S": text}, count={"N": str(count)})


# Items a guest can write that are not envelopes the tracker writes, each with the reason the export gives.
MALFORMED = [
    # events: not JSON, not a list, not [id, dt, data]
    (envelope_with_events("not json"), "events is not JSON (Expecting value"),
    (envelope_with_events('[["e1", 0, {"a": 1}]'), "events is not JSON (Expecting ',' delimiter"),
    (envelope_with_events('{"e1": [0, 1]}'), "events is a JSON dict, not a list"),
    (envelope_with_events('"[]"'), "events is a JSON str, not a list"),
    (envelope_with_events('[["e1", 0]]'), "event 0 is not [id, dt, data]"),
    (envelope_with_events('[["e1", 0, 1, 2]]'), "event 0 is not [id, dt, data]"),
    (envelope_with_events('[{"id": "e1", "ts": 0, "data": 1}]'), "event 0 is not [id, dt, data]"),
    (envelope_with_events("[[1, 0, 1]]"), "event 0 has an id that is not a non-empty string"),
    (envelope_with_events('[["", 0, 1]]'), "event 0 has an id that is not a non-empty string"),
    (envelope_with_events('[["e1", 1.5, 1]]'), "event 0 has a time offset that is not an integer"),
    (envelope_with_events('[["e1", "0", 1]]'), "event 0 has a time offset that is not an integer"),
    (envelope_with_events('[["e1", true, 1]]'), "event 0 has a time offset that is not an integer"),
    (envelope_with_events('[["e1", 1e30, 1]]'), "event 0 has a time offset that is not an integer"),
    (envelope_with_events('[["e1", 100000000000000000000, 1]]'), "event 0 has a time offset that is not an integer"),
    (envelope_with_events('[["e1", -1767225600001, 1]]'), "event 0 has a time offset that is not an integer"),
    (envelope_with_events('[["e1", 0, NaN]]'), "events is not JSON (NaN is not JSON)"),
    (envelope_with_events('[["e1", 0, -Infinity]]'), "events is not JSON (-Infinity is not JSON)"),
    (envelope_with_events('[["e1", 0, ' + "9" * 5000 + "]]"), "events is not JSON (Exceeds the limit"),
    (envelope_with_events("[" * 100_000 + "]" * 100_000), "events is nested too deeply to read"),
    (envelope_item(events={"N": "1"}), "events is of type N, not a string"),
    (envelope_item(events=None), "events is missing, not a string"),
    # count: of the wrong type, fractional, or not the number of events
    (envelope_item(count={"S": "2"}), "count is of type S, not a number"),
    (envelope_item(count={"N": "1.5"}), "count '1.5' is not an integer"),
    (envelope_item(count={"N": "1e38"}), "count '1e38' is not an integer from 1 to"),
    (envelope_item(count={"NULL": True}), "count is of type NULL, not a number"),
    (envelope_item(count={"N": "3"}), "count 3 disagrees with the 2 events it holds"),
    (envelope_item(count={"N": "0"}), "count '0' is not an integer from 1"),
    (envelope_item(count=None), "count is missing"),
    # first_ts: of the wrong type, fractional, or a time no row can show
    (envelope_item(first_ts={"S": str(FIRST)}), "first_ts is of type S, not a number"),
    (envelope_item(first_ts={"N": f"{FIRST}.5"}), "is not an integer from 0 to 253402300799999"),
    (envelope_item(first_ts={"N": "-1"}), "first_ts '-1' is not an integer"),
    (envelope_item(first_ts={"N": "1e38"}), "first_ts '1e38' is not an integer"),
    (envelope_item(first_ts={"N": "NaN"}), "first_ts 'NaN' is not an integer"),
    # the other attributes a reader relies on
    (envelope_item(topic=None), "topic is missing, not a string"),
    (envelope_item(topic={"N": "5"}), "topic is of type N, not a string"),
    (envelope_item(subject={"SS": ["a", "b"]}), "subject is of type SS, not a string"),
    # a topic or subject the tracker refuses: every row repeats them (130 KB each made 10,000 rows 2.6 GB)
    (envelope_item(topic={"S": "t" * 130_000}), "topic 'tttttttttttttttttttttttttttttttttttttttt...' is not one"),
    (envelope_item(topic={"S": "Song_player"}), "topic 'Song_player' is not one the tracker writes"),
    (envelope_item(subject={"S": "s" * 257}), "(257 characters) is not one the tracker writes (at most 256"),
    (envelope_item(subject={"S": "a\x1b[2Jb"}), "(6 characters) is not one the tracker writes"),
    (envelope_item(v={"N": "2"}), "schema version 2 is not 1"),
    (envelope_item(v=None), "v is missing, not a number"),
    (envelope_item(count={"N": "2", "S": "2"}), "count is malformed, not a number"),
]


# Browser pages (Playwright's sync API)

READY = "() => window.putonly && window.putonly.version === 1"

TRACK = """async ([topic, n]) => {
    const ids = [];
    for (let i = 0; i < n; i++) ids.push(putonly.track(topic, {i}, {subject: 's' + (i % 2)}));
    await new Promise((r) => setTimeout(r, 300));  // the worker stores them in its outbox
    return ids;
}"""


# The visitor's Cognito identity id, as the worker keeps it in IndexedDB.
IDENTITY_OF_PAGE = """async () => {
    const r = (q) => new Promise((ok) => { q.onsuccess = () => ok(q.result); });
    const db = await r(indexedDB.open('putonly'));
    return r(db.transaction('meta').objectStore('meta').get('identityId'));
}"""


def open_page(context: Any, page_origin: str) -> Any:
    page = context.new_page()
    page.goto(page_origin + "/")
    page.wait_for_function(READY)
    return page


class PutGate:
    """A context route that holds PutItem back (aborted, or written with the response lost) while closed."""

    def __init__(self, mode: str = "abort") -> None:
        self.closed = True
        self.mode = mode
        self.blocked = 0

    def __call__(self, route: Any) -> None:
        if self.closed and "PutItem" in (route.request.headers.get("x-amz-target") or ""):
            self.blocked += 1
            if self.mode == "lost":
                route.fetch()
            route.abort()
        else:
            route.continue_()


def wait_stored(
    page: Any, ids: list[str], aws: LocalAws, moto: MotoServer, topic: str, timeout: float = 45
) -> Counter[str]:
    """Polls the table. Waits with the page's timer: the sync API runs route handlers only inside its calls."""
    deadline = time.monotonic() + timeout
    while True:
        counts = Counter(e["id"] for e in stored_events(aws, moto) if e["topic"] == topic)
        if set(ids) <= set(counts) or time.monotonic() > deadline:
            return counts
        page.wait_for_timeout(500)


# Commands run as subprocesses: fake credentials for the emulator, and no AWS configuration from this machine.

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "PATH": "/usr/bin:/bin",
}


@contextmanager
def site_origin(
    aws: LocalAws,
    *,
    settings: dict[str, Any] | None = None,
    dynamodb: str | None = None,
    cors_origins: list[str] | None = None,
) -> Iterator[str]:
    """A page origin of its own with the snippet for a tracker server of its own.

    config.json carries ``settings`` (and DynamoDB at ``dynamodb``, e.g. a gate); the tracker's CORS allows
    ``cors_origins``; ``/away`` is a page without the tracker. Yields the page origin (``http://localhost:port``).
    """
    from http.server import SimpleHTTPRequestHandler

    from cdk_app.local.config import local_config
    from cdk_app.local.serving import serve, serve_tracker
    from cdk_app.local.templates import limits_from_cdk_out
    from tests.e2e.conftest import PAGE

    config = {**local_config(aws, limits_from_cdk_out(CDK_OUT)), **(settings or {})}
    if dynamodb:
        config["endpoints"]["dynamodb"] = dynamodb
    tracker = serve_tracker(DIST_DIR, CDK_OUT, config, cors_origins=cors_origins)
    html = (PAGE % f"http://127.0.0.1:{tracker.server_address[1]}").encode()

    class Page(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>elsewhere</title>elsewhere" if self.path == "/away" else html)

    pages = serve(Path("."), Page)
    try:
        yield f"http://localhost:{pages.server_address[1]}"
    finally:
        pages.shutdown()
        tracker.shutdown()


# Faults a test injects between the worker and the emulator (Playwright routes)


def is_put(route: Any) -> bool:
    return "PutItem" in (route.request.headers.get("x-amz-target") or "")


def aws_error(route: Any, status: int, error_type: str, message: str) -> None:
    """Answers in place of the emulator with an AWS JSON error the page is allowed to read."""
    route.fulfill(
        status=status,
        headers={"Access-Control-Allow-Origin": "*", "Content-Type": "application/x-amz-json-1.0"},
        body=json.dumps({"__type": error_type, "message": message}),
    )


def server_clock(server_now: Any, dates: list[str] | None = None) -> Any:
    """A route that plays DynamoDB with its clock at ``server_now``: a PutItem signed more than 15 minutes away is
    refused with DynamoDB's own message (which carries the server's time); ``dates`` collects every X-Amz-Date."""

    def check(route: Any) -> None:
        if not is_put(route):
            route.continue_()
            return
        signed = route.request.headers["x-amz-date"]
        if dates is not None:
            dates.append(signed)
        message = signature_time_error(signed, server_now)
        if message is None:
            route.continue_()
        else:
            aws_error(route, 400, "com.amazon.coral.service#InvalidSignatureException", message)

    return check


# The number of records (loose events and envelopes) in the page origin's PutOnly outbox (IndexedDB).
OUTBOX_SIZE = """async () => {
    const request = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = fail; });
    const db = await request(indexedDB.open('putonly'));
    const count = (name) => request(db.transaction(name).objectStore(name).count());
    const n = (await count('events')) + (await count('envelopes'));
    db.close();
    return n;
}"""
