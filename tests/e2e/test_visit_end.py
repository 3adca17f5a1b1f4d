"""The end of a visit: events reach the table although the page, its worker and their requests are gone.

Each test ends a visit the way a visitor does (closing the tab, navigating away, reloading, leaving for
another page and coming back through the back/forward cache) and checks, by event id, that every event
tracked at least 100 ms before the end is stored exactly once, with no later visit unless the test says so.
DynamoDB sits behind a gate (a loopback proxy in front of moto) that can drop or hold PutItem requests, so
keepalive requests that outlive their page can be lost or made to land late.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdk_app.local.browser import CHROMIUM, CHROMIUM_ARGS
from cdk_app.local.emulator import LocalAws, MotoServer
from cdk_app.local.gate import DynamoGate
from tests.helpers import READY, site_origin, stored_events

# Tracks ``n`` events ``gap`` ms apart (the 2015 shape is one a second), then waits ``after`` ms.
TRACK_PACED = """async ([topic, n, gap, after]) => {
    const ids = [];
    for (let i = 0; i < n; i++) {
        if (i) await new Promise((r) => setTimeout(r, gap));
        ids.push(putonly.track(topic, {position: i, duration: 215, volume: 80}, {subject: 'song-123'}));
    }
    await new Promise((r) => setTimeout(r, after));
    return ids;
}"""

# What a browser does when the visitor switches tabs, dispatched without leaving the page. The state is changed
# where the browser keeps it, Document's own getter (the loader reads that one: markup can shadow document's).
HIDE = """() => {
    Object.defineProperty(Document.prototype, 'visibilityState', {get: () => 'hidden', configurable: true});
    document.dispatchEvent(new Event('visibilitychange', {bubbles: true}));
}"""


@pytest.fixture(scope="module")
def gate(moto: MotoServer) -> Iterator[DynamoGate]:
    gate = DynamoGate(moto.endpoint)
    yield gate
    gate.release.set()
    gate.server.shutdown()


@pytest.fixture(scope="module")
def site(aws: LocalAws, gate: DynamoGate) -> Iterator[str]:
    """A page origin whose tracker writes to DynamoDB through the gate (Cognito directly)."""
    with site_origin(aws, dynamodb=gate.endpoint) as origin:
        yield origin


@pytest.fixture(autouse=True)
def _open_gate(gate: DynamoGate) -> Iterator[None]:
    gate.reset()
    yield
    gate.reset()


def visit(context: Any, site: str, warm: bool = False) -> Any:
    """A page of the site; ``warm``: it has credentials already (one event tracked and stored)."""
    page = context.new_page()
    page.goto(site + "/")
    page.wait_for_function(READY)
    if warm:
        page.evaluate("() => { putonly.track('visit_warmup', {}); return putonly.flush(); }")
    return page


def counts(aws: LocalAws, moto: MotoServer, topic: str) -> Counter[str]:
    return Counter(e["id"] for e in stored_events(aws, moto) if e["topic"] == topic)


def wait_for_table(aws: LocalAws, moto: MotoServer, topic: str, ids: list[str], timeout: float = 15) -> Counter[str]:
    """Polls the table with no page of the site open: nothing but requests already made can deliver."""
    deadline = time.monotonic() + timeout
    while True:
        found = counts(aws, moto, topic)
        if set(ids) <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def assert_exactly_once(found: Counter[str], ids: list[str]) -> None:
    assert len(set(ids)) == len(ids)
    missing = set(ids) - set(found)
    assert not missing, f"{len(missing)} of {len(ids)} events not stored"
    assert max(found.values()) == 1, f"stored twice: {[i for i, n in found.items() if n > 1]}"


def test_closed_tab_of_a_first_visit_2015_shape(context: Any, site: str, aws: LocalAws, moto: MotoServer) -> None:
    """One play event a second for 8 s, then the tab is closed and the visitor never returns."""
    page = visit(context, site)
    ids = page.evaluate(TRACK_PACED, ["visit_close_first", 8, 1000, 150])
    page.close()
    assert_exactly_once(wait_for_table(aws, moto, "visit_close_first", ids), ids)


def test_closed_tab_after_an_earlier_flush(context: Any, site: str, aws: LocalAws, moto: MotoServer) -> None:
    page = visit(context, site, warm=True)
    ids = page.evaluate(TRACK_PACED, ["visit_close_later", 8, 100, 100])
    page.close()
    assert_exactly_once(wait_for_table(aws, moto, "visit_close_later", ids), ids)


def test_navigation_away(context: Any, site: str, aws: LocalAws, moto: MotoServer) -> None:
    page = visit(context, site)
    ids = page.evaluate(TRACK_PACED, ["visit_navigate", 8, 100, 100])
    page.goto(site.replace("localhost", "127.0.0.1") + "/away")  # another site
    assert_exactly_once(wait_for_table(aws, moto, "visit_navigate", ids), ids)


def test_reload(context: Any, site: str, aws: LocalAws, moto: MotoServer) -> None:
    """The keepalive copies and the reloaded page's worker (which adopts the outbox) may both send: once each id."""
    page = visit(context, site)
    ids = page.evaluate(TRACK_PACED, ["visit_reload", 8, 100, 100])
    page.reload()
    page.wait_for_function(READY)
    more = page.evaluate("() => [putonly.track('visit_reload', {after: 1}, {subject: 'song-123'})]")
    page.evaluate("() => putonly.flush()")
    page.wait_for_timeout(6_000)  # past the drain interval: the new worker has adopted the old outbox
    page.evaluate("() => putonly.flush()")
    assert_exactly_once(counts(aws, moto, "visit_reload"), ids + more)


@pytest.mark.parametrize(
    "behind",
    [timedelta(hours=2), -timedelta(hours=2), -timedelta(minutes=17), timedelta(minutes=15)],
    ids=["behind", "ahead", "17-min-ahead", "15-min-behind"],
)
def test_reload_with_a_device_clock_hours_off(
    context: Any, site: str, aws: LocalAws, moto: MotoServer, gate: DynamoGate, behind: timedelta
) -> None:
    """The old worker's keepalive copies and the new one (which adopts its outbox) learn the server's time a second
    apart. Before: each made the envelope's key from its own, and every event was stored twice. A clock 15 to 21
    minutes ahead is not moved (a copy signed minutes before may be stored: DynamoDB takes a signature dated ahead
    once it is no more than 15 minutes ahead): its signatures are dated in the server's time instead. So are those
    of one just 15 minutes behind, which the worker, learning the server's time to the second, reckons in time."""
    gate.server_ahead = behind
    topic = f"visit_clock_{int(behind.total_seconds())}".replace("-", "m")
    # Hours off: this worker has learnt the server's time. 17 minutes ahead: it has not, its groups open in the
    # device's clock, and stay in it (not movable), while their signatures are dated in the server's.
    band = abs(behind) < timedelta(minutes=21)
    page = visit(context, site, warm=not band)
    ids = page.evaluate(TRACK_PACED, [topic, 6, 100, 300])
    page.reload()
    page.wait_for_function(READY)
    page.wait_for_timeout(6_000)  # past the drain interval: the new worker has adopted the old outbox
    page.evaluate("() => putonly.flush()")
    found = counts(aws, moto, topic)
    assert_exactly_once(found, ids)
    times = [e["ts"] for e in stored_events(aws, moto) if e["topic"] == topic]
    clock = (datetime.now(UTC) + (timedelta() if band else behind)).timestamp() * 1000
    assert all(abs(t - clock) < 60_000 for t in times), "in the server's clock (hours off), the device's (17 min)"


def test_closed_tab_with_a_second_tab_open(context: Any, site: str, aws: LocalAws, moto: MotoServer) -> None:
    staying = visit(context, site)
    closing = visit(context, site)
    ids = closing.evaluate(TRACK_PACED, ["visit_two_tabs", 8, 100, 100])
    closing.close()
    staying.wait_for_timeout(6_000)  # the staying tab drains the closed tab's outbox: it must not double anything
    staying.evaluate("() => putonly.flush()")
    assert_exactly_once(counts(aws, moto, "visit_two_tabs"), ids)


def test_first_visit_closed_before_credentials_waits_for_the_next_visit(
    context: Any, site: str, aws: LocalAws, moto: MotoServer
) -> None:
    """Without credentials nothing can be signed: the outbox keeps the events, and a return visit sends them."""
    blocked = {"on": True}

    def cognito(route: Any) -> None:
        if blocked["on"] and "AWSCognitoIdentityService" in (route.request.headers.get("x-amz-target") or ""):
            route.abort()
        else:
            route.continue_()

    context.route("**/*", cognito)
    page = visit(context, site)
    ids = page.evaluate(TRACK_PACED, ["visit_no_credentials", 8, 100, 300])
    page.close()
    time.sleep(2)
    assert not counts(aws, moto, "visit_no_credentials")
    blocked["on"] = False
    back = visit(context, site)
    back.evaluate("() => putonly.flush()")
    back.wait_for_timeout(6_000)
    back.evaluate("() => putonly.flush()")
    assert_exactly_once(counts(aws, moto, "visit_no_credentials"), ids)


def test_lost_keepalive_request_is_delivered_by_the_return_visit(
    context: Any, site: str, gate: DynamoGate, aws: LocalAws, moto: MotoServer
) -> None:
    page = visit(context, site, warm=True)
    gate.mode = "abort"
    ids = page.evaluate(TRACK_PACED, ["visit_lost_keepalive", 8, 100, 100])
    page.close()
    time.sleep(2)
    assert gate.aborted >= 1, "the keepalive copy was sent"
    assert not counts(aws, moto, "visit_lost_keepalive")
    gate.mode = "pass"
    back = visit(context, site)
    back.wait_for_timeout(1_000)
    back.evaluate("() => putonly.flush()")
    found = wait_for_table(aws, moto, "visit_lost_keepalive", ids)
    assert_exactly_once(found, ids)


def test_late_keepalive_copy_never_replaces_a_larger_one(
    context: Any, site: str, gate: DynamoGate, aws: LocalAws, moto: MotoServer
) -> None:
    """A keepalive copy with 6 events is held until a return visit stored the envelope's 8: it must not win."""
    page = visit(context, site, warm=True)
    gate.mode = "hold"
    ids = page.evaluate(TRACK_PACED, ["visit_late_copy", 6, 10, 300])  # the loader holds a copy of these 6
    # Two more events, and the tab is hidden in the same task: its keepalive copy has 6 events, while the
    # worker seals the envelope with 8, under the same key.
    ids += page.evaluate(
        f"""() => {{
            const ids = [0, 1].map((i) => putonly.track('visit_late_copy', {{late: i}}, {{subject: 'song-123'}}));
            ({HIDE})();
            return ids;
        }}"""
    )
    page.wait_for_timeout(500)
    page.close()
    deadline = time.monotonic() + 10
    while 6 not in gate.held and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 6 in gate.held, f"held copies: {gate.held}"
    assert not counts(aws, moto, "visit_late_copy")
    gate.mode = "pass"  # the return visit's own send goes through; the held copies still wait
    back = visit(context, site)
    back.wait_for_timeout(1_000)
    back.evaluate("() => putonly.flush()")
    assert_exactly_once(wait_for_table(aws, moto, "visit_late_copy", ids), ids)
    gate.release.set()
    deadline = time.monotonic() + 10
    while sum(1 for a in gate.answers if a[0] == 6) < gate.held.count(6) and time.monotonic() < deadline:
        time.sleep(0.1)
    late = [(status, error) for count, status, error in gate.answers if count == 6]
    assert late, f"the held copy was not forwarded: {gate.answers}"
    assert all(a == (400, "ConditionalCheckFailedException") for a in late), gate.answers
    assert_exactly_once(counts(aws, moto, "visit_late_copy"), ids)
    envelopes = {e["envelope"] for e in stored_events(aws, moto) if e["topic"] == "visit_late_copy"}
    assert len(envelopes) == 1, "one envelope, whose 8 events the late copy of 6 did not replace"


def test_back_forward_cache_round_trip(browser: Any, site: str, aws: LocalAws, moto: MotoServer) -> None:
    """Leaving for another site sends what is waiting; coming back through the cache keeps tracking, once."""
    # Playwright turns the back/forward cache off by default; a visitor's browser has it on.
    cached = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=list(CHROMIUM_ARGS),
        headless=True,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    try:
        context = cached.new_context()
        page = visit(context, site)
        page.evaluate("() => addEventListener('pageshow', (e) => { window.restored = e.persisted; })")
        before = page.evaluate(TRACK_PACED, ["visit_bfcache", 5, 100, 100])
        page.goto(site.replace("localhost", "127.0.0.1") + "/away")
        assert_exactly_once(wait_for_table(aws, moto, "visit_bfcache", before), before)
        page.go_back(wait_until="commit")
        page.wait_for_function("() => window.restored !== undefined")
        assert page.evaluate("() => window.restored"), "the page came back from the back/forward cache"
        after = page.evaluate(TRACK_PACED, ["visit_bfcache", 5, 50, 0])
        page.evaluate("() => putonly.flush()")
        page.wait_for_timeout(6_000)
        page.evaluate("() => putonly.flush()")
        assert_exactly_once(counts(aws, moto, "visit_bfcache"), before + after)
        context.close()
    finally:
        cached.close()


def test_hidden_page_discarded_without_pagehide(context: Any, site: str, aws: LocalAws, moto: MotoServer) -> None:
    """A hidden tab keeps tracking (a player in the background), then is discarded: no event fires."""
    page = visit(context, site, warm=True)
    page.evaluate(HIDE)
    ids = page.evaluate(TRACK_PACED, ["visit_discarded", 6, 300, 100])
    # The renderer goes away at once, as a discarded tab's does: no pagehide, no freeze, no timers.
    page.on("crash", lambda _: None)
    with pytest.raises(Exception):  # noqa: B017 (Playwright reports the crash its own way)
        page.goto("chrome://crash", timeout=5_000)
    assert_exactly_once(wait_for_table(aws, moto, "visit_discarded", ids), ids)


# Holds the worker's "copies" messages to the loader while ``holdCopies`` is set, to be delivered one by one.
HOLD_COPIES = """
const onmessage = Object.getOwnPropertyDescriptor(Worker.prototype, 'onmessage');
window.heldCopies = [];
Object.defineProperty(Worker.prototype, 'onmessage', {
    configurable: true,
    get() { return onmessage.get.call(this); },
    set(handler) {
        onmessage.set.call(this, (e) => (window.holdCopies && e.data.t === 'copies' ? heldCopies.push(() => handler(e)) : handler(e)));
    },
});
"""


def test_copies_made_before_a_withdrawal_are_never_sent(
    context: Any, site: str, aws: LocalAws, moto: MotoServer
) -> None:
    """The worker's signed copies of an event, on their way to the loader when the page calls consent(false),
    arrive after it. Before: the loader kept them, and sent them with keepalive when the page was hidden."""
    page = context.new_page()
    page.add_init_script(HOLD_COPIES)
    page.goto(site + "/")
    page.wait_for_function(READY)
    page.evaluate("() => { putonly.track('visit_warmup', {}); return putonly.flush(); }")
    page.evaluate("() => { window.holdCopies = true; putonly.track('visit_withdrawn', {n: 1}); }")
    page.wait_for_function("() => heldCopies.length > 0")
    page.evaluate("() => putonly.consent(false)")
    page.wait_for_timeout(300)  # the worker has dropped the event
    page.evaluate("() => heldCopies.shift()()")  # the copies made before it did
    page.evaluate(HIDE)
    page.wait_for_timeout(1000)
    assert not counts(aws, moto, "visit_withdrawn"), "nothing tracked before the withdrawal is sent afterwards"
