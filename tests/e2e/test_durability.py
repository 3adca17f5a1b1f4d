"""Reloads, closed tabs and lost connectivity: leftovers are delivered by the next worker, none twice."""

from __future__ import annotations

import json
from typing import Any

from cdk_app.local.emulator import LocalAws, MotoServer
from tests.helpers import TRACK, PutGate, open_page, wait_stored

OWNERS = """async () => {
    const request = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = fail; });
    const db = await request(indexedDB.open('putonly'));
    const all = (name) => request(db.transaction(name).objectStore(name).getAll());
    const records = [...await all('events'), ...await all('envelopes')];
    db.close();
    return [...new Set(records.map((r) => r.owner))];
}"""


def test_reload_mid_stream_with_lost_responses(context: Any, page_origin: str, aws: LocalAws, moto: MotoServer) -> None:
    gate = PutGate("lost")
    context.route("**/*", gate)
    page = open_page(context, page_origin)
    before = page.evaluate(TRACK, ["durable_reload", 150])
    # flush() seals and sends; every write lands but its response is lost, so the envelopes stay in the outbox.
    page.evaluate("() => { putonly.flush().catch(() => {}); }")
    page.wait_for_timeout(1500)
    assert gate.blocked > 0
    page.reload()
    page.wait_for_function("() => window.putonly && window.putonly.version === 1")
    gate.closed = False
    after = page.evaluate(TRACK, ["durable_reload", 50])
    page.evaluate("() => putonly.flush()")
    counts = wait_stored(page, before + after, aws, moto, "durable_reload")
    assert set(counts) == set(before + after), f"missing {len(set(before + after) - set(counts))}"
    assert max(counts.values()) == 1


def test_closed_tab_leftovers_are_delivered_by_the_tab_that_stays(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    gate = PutGate("abort")
    context.route("**/*", gate)
    staying = open_page(context, page_origin)
    closing = open_page(context, page_origin)
    ids = closing.evaluate(TRACK, ["durable_tab", 120])
    (owner,) = staying.evaluate(OWNERS)
    # Both tabs live for longer than the drain interval: the staying tab must leave the other's records alone.
    staying.wait_for_timeout(6_000)
    assert staying.evaluate(OWNERS) == [owner]
    closing.close()
    gate.closed = False
    counts = wait_stored(staying, ids, aws, moto, "durable_tab")
    assert set(counts) == set(ids), f"missing {len(set(ids) - set(counts))}"
    assert max(counts.values()) == 1
    assert staying.evaluate("() => putonly.version") == 1


def test_offline_then_online(context: Any, page_origin: str, aws: LocalAws, moto: MotoServer) -> None:
    page = open_page(context, page_origin)
    page.evaluate("() => putonly.flush()")  # credentials and config in hand
    context.set_offline(True)
    ids = page.evaluate(TRACK, ["durable_offline", 80])
    offline = page.evaluate("() => putonly.flush().then(() => 'stored', (e) => e.message)")
    assert offline != "stored"
    context.set_offline(False)
    page.evaluate("() => putonly.flush()")
    counts = wait_stored(page, ids, aws, moto, "durable_offline")
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1


def test_a_full_outbox_drops_its_oldest_envelopes_and_says_which(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    gate = PutGate("abort")
    context.route("**/*", gate)

    def small_outbox(route: Any) -> None:
        config = json.loads(route.fetch().text())
        route.fulfill(json={**config, "outboxMaxEvents": 100, "envelopeMaxEvents": 10})

    context.route("**/config.json", small_outbox)
    page = open_page(context, page_origin)
    page.evaluate("() => { window.drops = []; putonly.addEventListener('drop', (e) => drops.push(e.detail)); }")
    ids: list[str] = []
    for _ in range(15):  # 150 events, 10 at a time, while nothing can be stored
        ids += page.evaluate(TRACK, ["durable_full", 10])
    page.wait_for_timeout(500)
    drops = page.evaluate("() => drops")
    dropped = [event_id for drop in drops for event_id in drop["ids"]]
    assert {drop["reason"] for drop in drops} == {"outbox-full"}
    assert all(drop["message"].startswith("putonly: outbox full") for drop in drops)
    assert len(dropped) == len(set(dropped)) >= 50, "the outbox holds at most 100 events"
    assert ids[0] in dropped and ids[-1] not in dropped, "the oldest go first"
    gate.closed = False
    # Dropped while no flush() waited: the next one says so, once the others are stored; the one after resolves.
    first = page.evaluate("() => putonly.flush().then(() => 'stored', (e) => e.message)")
    assert "outbox full" in first and f"{len(dropped)} events were dropped" in first
    assert page.evaluate("() => putonly.flush().then(() => 'stored', (e) => e.message)") == "stored"
    kept = set(ids) - set(dropped)
    counts = wait_stored(page, list(kept), aws, moto, "durable_full")
    assert set(counts) == kept, "every event not dropped is stored, and no dropped one"
    assert max(counts.values()) == 1
