"""`make demo`: the bounded check passes, the page shows stored events, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cdk_app import envelope
from cdk_app.local.demo import scan
from cdk_app.local.emulator import MotoServer, provision
from tests.helpers import CDK_OUT, ROOT

ARTIFACTS = ROOT / "test-artifacts"


def demo(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cdk_app.local.demo", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, int(port))) == 0


def test_bounded_check_stores_every_event_exactly_once() -> None:
    proc = demo("--duration", "6", "--check")
    out, _ = proc.communicate(timeout=180)
    last = out.strip().splitlines()[-1]
    assert proc.returncode == 0, out
    counts = dict(re.findall(r"(tracked|stored|missing|duplicated|dropped) (\d+)", last))
    assert last.startswith("check passed")
    assert int(counts["tracked"]) >= 1000 and counts["tracked"] == counts["stored"]
    assert counts["missing"] == counts["duplicated"] == counts["dropped"] == "0"
    assert re.search(r"\[\s+\d+ s\] envelopes\s+\d+\s+events stored", out), "one status line per second"
    moto = re.search(r"local AWS \(moto server\)\s+(\S+)", out)
    assert moto and not port_open(moto.group(1)), "the moto server is gone"


def test_page_shows_stored_events_and_ctrl_c_stops_everything(browser: Any) -> None:
    proc = demo()
    assert proc.stdout is not None
    lines = []
    while not any("Ctrl-C to stop" in line for line in lines):
        line = proc.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
    text = "".join(lines)
    url = re.search(r"demo page\s+(\S+)", text).group(1)  # type: ignore[union-attr]
    endpoints = [url.rstrip("/"), re.search(r"moto server\)\s+(\S+)", text).group(1)]  # type: ignore[union-attr]
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_function("() => window.putonly && window.putonly.version === 1")
        assert page.text_content("#max-delay") == "2 s"
        page.click("#play")
        # Play alone, no flush: stored plays show within a few seconds (the demo's maxDelaySeconds is 2).
        started = time.monotonic()
        page.wait_for_function("() => +document.getElementById('stored').textContent >= 2", timeout=8_000)
        print(f"\nfirst stored plays shown {time.monotonic() - started:.1f} s after Play")
        page.click("#play")  # pause: then everything tracked is stored once flushed (playing, a play a second is
        # always on its way: it waits up to maxDelaySeconds in its envelope)
        page.click("#bad")
        page.click("#flush")
        page.wait_for_function("() => document.querySelectorAll('#envelopes tr').length > 0", timeout=15_000)
        page.wait_for_function(
            "() => +document.getElementById('stored').textContent === window.demo.tracked.length", timeout=15_000
        )
        assert page.text_content("#error").startswith("TypeError: putonly: data.onEnd is a function")
        assert int(page.text_content("#stored")) >= 2
        # The command the demo prints for reading what is stored, run as a user pastes it (paused and flushed first).
        page.evaluate("() => putonly.flush()")
        read = re.search(r"read them\s+(.+)", text).group(1)  # type: ignore[union-attr]
        exported = subprocess.run(["bash", "-c", read], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert exported.returncode == 0, exported.stderr
        rows = [json.loads(line) for line in exported.stdout.splitlines()]
        assert {r["event_id"] for r in rows} >= set(page.evaluate("() => window.demo.tracked"))
        assert {r["topic"] for r in rows} == {"song_player"}
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo.png"), full_page=True)
    finally:
        page.close()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "stopped" in out
    deadline = time.monotonic() + 5
    while any(port_open(e) for e in endpoints) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(port_open(e) for e in endpoints), "a server is still listening after Ctrl-C"
    assert Path(ARTIFACTS / "demo.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "-1"], "--duration must be 0 or more seconds, got -1"),
        (["--check"], "--check needs --duration N"),
        (["--duration", "soon"], "argument --duration: invalid float value: 'soon'"),
        (["--cdk-out", "/nonexistent"], "/nonexistent has no synthesized app: run `make synth` first"),
        (["--max-delay", "0"], "--max-delay must be 1 to 3600 seconds (as the maxDelaySeconds setting), got 0"),
    ],
)
def test_bad_flags_are_named(args: list[str], message: str) -> None:
    command = [sys.executable, "-m", "cdk_app.local.demo", *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert message in result.stderr


def test_the_panel_leaves_out_items_that_are_not_envelopes(moto: MotoServer) -> None:
    """Guests write the table: one malformed item must not break the live view for everyone."""
    aws = provision(moto, CDK_OUT, table_name="PutOnlyDemoHostile")
    ddb = moto.client("dynamodb")
    good = envelope.item(identity="us-east-1:v", sk="2026-01-01T00:00:00.000Z#G", topic="t", subject="",
                         events='[["g1", 0, {}]]', count=1, first_ts=1767225600000, last_ts=1767225600000)  # fmt: skip
    for raw in (good, {**good, "sk": {"S": "2026-01-01T00:00:01.000Z#B"}, "events": {"S": "not json"}}):
        ddb.put_item(TableName=aws.table_name, Item=raw)
    (shown,) = scan(moto, aws)
    assert (shown["sk"], shown["count"], shown["ids"]) == ("2026-01-01T00:00:00.000Z#G", 1, ["g1"])
