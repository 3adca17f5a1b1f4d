"""What tests share: paths, template lookups, the local table's events, browser pages, the commands' environment.

Fixtures live in the conftest files; everything a test file imports from elsewhere lives here.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


# Browser pages (Playwright's sync API)

READY = "() => window.putonly && window.putonly.version === 1"

TRACK = """async ([topic, n]) => {
    const ids = [];
    for (let i = 0; i < n; i++) ids.push(putonly.track(topic, {i}, {subject: 's' + (i % 2)}));
    await new Promise((r) => setTimeout(r, 300));  // the worker stores them in its outbox
    return ids;
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
