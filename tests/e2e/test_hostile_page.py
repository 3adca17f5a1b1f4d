"""The page is hostile territory: what track() accepts is exactly what is stored, or it fails clearly.

Each test plays a messy production page in Chromium against the local stack (globals changed before the
loader ran, data that answers differently when read twice, an origin the tracker does not allow, a clock
hours off) and checks, by event id, what reached the table: byte for byte what a clean realm's
JSON.stringify writes for the data, or nothing, with the documented error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdk_app.local.emulator import LocalAws, MotoServer
from tests.helpers import READY, aws_error, is_put, open_page, server_clock, site_origin

FLUSHED = "() => putonly.flush().then(() => 'stored', (e) => e.message)"


def raw_items(aws: LocalAws, moto: MotoServer, topic: str) -> list[dict[str, Any]]:
    items = []
    for page in moto.client("dynamodb").get_paginator("scan").paginate(TableName=aws.table_name):
        items += [i for i in page["Items"] if i["topic"]["S"] == topic]
    return items


def stored_exactly(aws: LocalAws, moto: MotoServer, topic: str) -> dict[str, tuple[str, int]]:
    """Each event's data as the raw JSON text stored, and its time, by id; every item must be well formed."""
    events: dict[str, tuple[str, int]] = {}
    for item in raw_items(aws, moto, topic):
        raw = item["events"]["S"]
        entries = json.loads(raw)  # valid JSON, or the test fails here
        assert isinstance(entries, list)
        first = item["first_ts"]["N"]
        assert first.isdigit(), f"first_ts {first!r} is not whole milliseconds"
        assert int(item["count"]["N"]) == len(entries)
        # The compact form: no whitespace the page's JSON.stringify could have added.
        assert raw == json.dumps(entries, separators=(",", ":"), ensure_ascii=False)
        for event_id, dt, data in entries:
            assert event_id not in events, f"event id {event_id} stored twice"
            events[event_id] = (json.dumps(data, separators=(",", ":"), ensure_ascii=False), int(first) + dt)
    return events


def tampered_page(context: Any, page_origin: str, script: str) -> Any:
    """A page whose own scripts changed globals before the loader ran (an init script runs before any)."""
    page = context.new_page()
    page.add_init_script(script)
    page.goto(page_origin + "/")
    page.wait_for_function(READY)
    return page


# ---- 1. What is validated is what is stored --------------------------------------------------------------


def test_each_value_is_read_once_and_stored_as_read(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = open_page(context, page_origin)
    result = page.evaluate(
        """() => {
            let n = 0;
            const getter = putonly.track('hostile_once', {get x() { return n++ ? undefined : 1; }});
            let m = 0;
            const proxy = new Proxy({a: 1, b: 2}, {get: (t, k) => (m++ < 2 ? t[k] : 'changed')});
            const trapped = putonly.track('hostile_once', {p: proxy});
            const refused = [];
            for (const data of [
                Object.defineProperty({a: 1}, 'toJSON', {value: () => ({n: NaN, u: undefined})}),
                {list: [Object.defineProperty({}, 'toJSON', {value: () => Infinity})]},
                {m: Object.defineProperty({}, 'toJSON', {value: () => new Map([[1, 2]])})},
                {get boom() { throw new Error('getter failed'); }},
                {p: new Proxy({}, {ownKeys() { throw new Error('trap failed'); }})},
            ]) {
                try { putonly.track('hostile_once', data); refused.push(null); } catch (e) { refused.push(e.name + ': ' + e.message); }
            }
            return {getter, trapped, refused, reads: [n, m]};
        }"""
    )
    assert page.evaluate(FLUSHED) == "stored"
    assert result["reads"] == [1, 2], "each value was read once"
    stored = stored_exactly(aws, moto, "hostile_once")
    assert set(stored) == {result["getter"], result["trapped"]}
    assert stored[result["getter"]][0] == '{"x":1}'
    assert stored[result["trapped"]][0] == '{"p":{"a":1,"b":2}}'
    assert result["refused"] == [
        "TypeError: putonly: data has its own toJSON(); pass the plain data it stands for",
        "TypeError: putonly: data.list[0] has its own toJSON(); pass the plain data it stands for",
        "TypeError: putonly: data.m has its own toJSON(); pass the plain data it stands for",
        "TypeError: putonly: data.boom cannot be read: getter failed",
        "TypeError: putonly: data.p cannot be read: trap failed",
    ]


def test_a_plain_object_from_another_frame_is_plain(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = open_page(context, page_origin)
    event_id = page.evaluate(
        """() => {
            const frame = document.body.appendChild(document.createElement('iframe'));
            const data = frame.contentWindow.eval('({song: "song-123", tags: ["a", "b"]})');
            return putonly.track('hostile_frame', data);
        }"""
    )
    assert page.evaluate(FLUSHED) == "stored"
    assert stored_exactly(aws, moto, "hostile_frame")[event_id][0] == '{"song":"song-123","tags":["a","b"]}'


# ---- 2. A subject that can never be stored --------------------------------------------------------------


def test_a_lone_surrogate_in_the_subject_is_refused(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = open_page(context, page_origin)
    result = page.evaluate(
        """() => {
            const out = [];
            for (const subject of ['x\\ud800', '\\udfffx']) {
                try { putonly.track('hostile_subject', {n: 1}, {subject}); out.push('accepted'); }
                catch (e) { out.push(e.name + ': ' + e.message); }
            }
            out.push(putonly.track('hostile_subject', {n: 2}, {subject: 'song 😀'}));
            return out;
        }"""
    )
    assert result[:2] == ["TypeError: putonly: subject must not contain control characters or lone surrogates"] * 2
    assert page.evaluate(FLUSHED) == "stored"
    (item,) = raw_items(aws, moto, "hostile_subject")
    assert item["subject"]["S"] == "song 😀"


def test_an_event_that_can_never_be_stored_does_not_hold_flush_hostage(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """The server answers 500 to every put holding one event, and stores everything else."""

    def poisoned(route: Any) -> None:
        if is_put(route) and "NEVER_STORABLE" in (route.request.post_data or ""):
            aws_error(route, 500, "InternalServerError", "internal")
        else:
            route.continue_()

    context.route("**/*", poisoned)
    page = open_page(context, page_origin)
    result = page.evaluate(
        """async () => {
            const errors = [];
            putonly.addEventListener('error', (e) => errors.push(e.detail));
            const ids = [];
            for (let i = 0; i < 8; i++) ids.push(putonly.track('hostile_poison', {i, note: i === 3 ? 'NEVER_STORABLE' : 'fine'}));
            const outcomes = [];
            // The page goes on tracking; each flush stores the new events, and the bad one is isolated and dropped.
            for (let round = 0; round < 12 && !errors.some((e) => e.ids.length); round++) {
                ids.push(putonly.track('hostile_poison_more', {round}));
                await putonly.flush().then(() => outcomes.push('stored'), (e) => outcomes.push('rejected'));
                await new Promise((r) => setTimeout(r, 500));
            }
            ids.push(putonly.track('hostile_poison', {i: 'after'}));
            const last = await putonly.flush().then(() => 'stored', (e) => e.message);
            return {ids, errors, outcomes, last};
        }"""
    )
    poison = result["ids"][3]
    assert [e["ids"] for e in result["errors"] if e["ids"]] == [[poison]], result["errors"]
    assert result["last"] == "stored", "flush() works again once the event is dropped"
    stored = set(stored_exactly(aws, moto, "hostile_poison")) | set(stored_exactly(aws, moto, "hostile_poison_more"))
    assert stored == set(result["ids"]) - {poison}


# ---- 3. Globals the page changed before the loader ran ------------------------------------------------

EXPECTED = [
    '{"list":[0,"x"],"n":{"m":1},"s":"é\\"\\n"}',
    '{"i":1,"nested":[[],{}]}',
]
TRACK_TWO = """() => [
    putonly.track('%s', {list: [0, 'x'], n: {m: 1}, s: 'é"\\n'}, {subject: 'song-1'}),
    putonly.track('%s', {i: 1, nested: [[], {}]}, {subject: 'song-1'}),
]"""


@pytest.mark.parametrize(
    ("name", "script"),
    [
        ("pretty_stringify", "const o = JSON.stringify; JSON.stringify = (v, r, s) => o(v, r, s ?? 2);"),
        ("array_tojson", "Array.prototype.toJSON = function () { return JSON.stringify(this.slice()); };"),
        (
            "object_tojson",
            "Object.defineProperty(Object.prototype, 'toJSON', {value() { return 'changed'; }, configurable: true});",
        ),
        ("fractional_now", "const o = Date.now; Date.now = () => o() + 0.5;"),
        ("nan_now", "Date.now = () => NaN;"),
        # A broken polyfill: batches are handed over with await, not queueMicrotask.
        ("broken_queue_microtask", "window.queueMicrotask = () => { throw new TypeError('no microtasks here'); };"),
        # Ids are made without these: two events still get two ids, and both are stored.
        ("broken_btoa", "window.btoa = () => 'AAAA';"),
        ("broken_number_tostring", "Number.prototype.toString = function () { return '7'; };"),
        # json.js style: an enumerable method on every object is not an option ("unknown option" before).
        ("enumerable_object_method", "Object.prototype.toJSONString = function () { return '{}'; };"),
    ],
)
def test_globals_changed_before_the_loader_ran(
    name: str, script: str, context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    topic = f"hostile_{name}"
    page = tampered_page(context, page_origin, script)
    before = datetime.now(UTC).timestamp() * 1000
    ids = page.evaluate(TRACK_TWO % (topic, topic))
    assert page.evaluate(FLUSHED) == "stored"
    after = datetime.now(UTC).timestamp() * 1000
    stored = stored_exactly(aws, moto, topic)
    assert [stored[i][0] for i in ids] == EXPECTED
    assert all(before - 1000 <= stored[i][1] <= after for i in ids), "stored at the time of the call"


def test_markup_that_shadows_document_properties_changes_nothing(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """Markup alone (a comment, a CMS field) can shadow ``document.currentScript`` and other document properties
    (DOM clobbering). Before: the worker was loaded from where an <img name="currentScript"> pointed, running
    that origin's script at the page's origin; an <img name="addEventListener"> stopped the loader."""
    evil: list[str] = []
    context.route("http://127.0.0.1:9/**", lambda route: (evil.append(route.request.url), route.abort()))
    page = context.new_page()
    page.goto(page_origin + "/clobbered")  # conftest: CLOBBERING markup before the snippet
    page.wait_for_function(READY)
    assert page.evaluate("() => typeof document.addEventListener") == "object", "the markup does shadow it"
    ids = page.evaluate("() => [putonly.track('hostile_clobbered', {n: 1})]")
    assert page.evaluate(FLUSHED) == "stored"
    assert list(stored_exactly(aws, moto, "hostile_clobbered")) == ids
    assert not [url for url in evil if "worker" in url], "nothing loaded from where the markup pointed"
    # The tab is hidden (the state changed where the browser keeps it; the shadowed document.visibilityState
    # is an <img>): the tracker hears it, and sends what comes next at once rather than after maxDelaySeconds.
    page.evaluate(
        """() => {
            Object.defineProperty(Document.prototype, 'visibilityState', {get: () => 'hidden', configurable: true});
            document.dispatchEvent(new Event('visibilitychange', {bubbles: true}));
            window.hiddenId = putonly.track('hostile_clobbered_hidden', {n: 2});
        }"""
    )
    hidden_id = page.evaluate("() => hiddenId")
    for _ in range(50):
        if hidden_id in stored_exactly(aws, moto, "hostile_clobbered_hidden"):
            break
        page.wait_for_timeout(100)
    assert hidden_id in stored_exactly(aws, moto, "hostile_clobbered_hidden"), "sent at once when hidden"


def test_a_track_call_inside_a_getter_keeps_each_events_subject(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """Before: the inner call's subject replaced the outer event's, so it was stored under another index key."""
    page = open_page(context, page_origin)
    ids = page.evaluate(
        """() => {
            const ids = {};
            ids.outer = putonly.track('hostile_nested', {get x() {
                ids.inner = putonly.track('hostile_nested', {n: 2}, {subject: 'other'});
                return 1;
            }}, {subject: 'song-123'});
            return ids;
        }"""
    )
    assert page.evaluate(FLUSHED) == "stored"
    subjects = {}
    for item in raw_items(aws, moto, "hostile_nested"):
        for event_id, _, _ in json.loads(item["events"]["S"]):
            subjects[event_id] = item.get("subject", {}).get("S")
    assert subjects == {ids["outer"]: "song-123", ids["inner"]: "other"}


def test_a_topic_that_cannot_be_printed_is_still_named_clearly(context: Any, page_origin: str) -> None:
    """Before: String() of an object without a prototype threw its own TypeError from inside the message."""
    page = open_page(context, page_origin)
    message = page.evaluate("() => { try { putonly.track(Object.create(null), {}); } catch (e) { return e.message; } }")
    assert message == "putonly: topic (object) must be a string matching /^[a-z][a-z0-9_.-]{0,63}$/"


def test_a_random_source_that_gives_no_randomness_is_refused_once(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = context.new_page()
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.add_init_script("crypto.getRandomValues = (a) => a;")
    page.goto(page_origin + "/")
    page.wait_for_function(READY)
    result = page.evaluate(
        """() => {
            const errors = [];
            putonly.addEventListener('error', (e) => errors.push(e.detail.message));
            const ids = [];
            for (let i = 0; i < 22; i++) ids.push(putonly.track('hostile_random', {i}));
            return {ids, errors};
        }"""
    )
    assert result["ids"] == [None] * 22, "no id is handed out twice: none is handed out"
    (message,) = result["errors"]
    assert "crypto.getRandomValues()" in message and "ids would repeat" in message
    assert len([w for w in warnings if "getRandomValues" in w]) == 1
    assert "getRandomValues" in page.evaluate(FLUSHED)
    assert not raw_items(aws, moto, "hostile_random")


# ---- 4. An origin the tracker does not allow -------------------------------------------------------------


@pytest.fixture(scope="module")
def stranger_origin(aws: LocalAws) -> Iterator[str]:
    """A page whose tracker allows only https://www.example.com (corsOrigins), as a misconfigured deploy would."""
    with site_origin(aws, cors_origins=["https://www.example.com"]) as origin:
        yield origin


def test_an_origin_not_in_cors_origins_cannot_start(context: Any, stranger_origin: str) -> None:
    origin = stranger_origin
    page = context.new_page()
    warnings: list[str] = []
    config_requests: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    context.on("request", lambda r: config_requests.append(r.url) if r.url.endswith("/config.json") else None)
    # The listener goes in through the snippet's queue, as a site's would: the refusal can come before any later call.
    page.add_init_script(
        "window.errors = []; window.putonly = {q: [['addEventListener', ['error', (e) => errors.push(e.detail.message)]]]};"
    )
    page.goto(origin + "/")
    page.wait_for_function(READY)
    page.evaluate("() => putonly.track('hostile_cors', {n: 1})")  # an id, or null if the refusal came first
    page.wait_for_function("() => errors.length > 0", timeout=15_000)
    (message,) = page.evaluate("() => errors")
    assert "corsOrigins" in message and "localhost" in message
    assert page.evaluate("() => putonly.track('hostile_cors', {n: 2})") is None
    assert "corsOrigins" in page.evaluate(FLUSHED)
    page.wait_for_timeout(3_000)
    assert len([w for w in warnings if "corsOrigins" in w]) == 1
    assert len(config_requests) <= 2, config_requests  # one CORS request, one opaque probe: no retry loop


# ---- 5. A device clock hours off --------------------------------------------------------------------------


def test_a_clock_hours_ahead_stores_corrected_times(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    server_now = datetime.now(UTC) - timedelta(hours=3)  # the device's clock is three hours ahead
    context.route("**/*", server_clock(server_now))
    page = open_page(context, page_origin)
    ids = page.evaluate("() => [1, 2, 3].map((i) => putonly.track('hostile_clock', {i}))")
    assert page.evaluate(FLUSHED) == "stored"
    stored = stored_exactly(aws, moto, "hostile_clock")
    expected = server_now.timestamp() * 1000
    assert all(abs(stored[i][1] - expected) < 5 * 60_000 for i in ids), "times in the server's clock"
    (item,) = raw_items(aws, moto, "hostile_clock")
    assert item["sk"]["S"][:13] == server_now.strftime("%Y-%m-%dT%H"), item["sk"]["S"]
