"""Real Chromium, real worker, moto server: every tracked event is stored exactly once."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from cdk_app.local.emulator import LocalAws, MotoServer
from tests.helpers import OUTBOX_SIZE, READY, open_page, stored_events


def test_burst_over_three_subjects_is_stored_exactly_once(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    requests = []
    context.on("request", lambda r: requests.append(r) if "PutItem" in (r.headers.get("x-amz-target") or "") else None)
    page = open_page(context, page_origin)
    started = time.monotonic()
    ids = page.evaluate(
        """async () => {
            const ids = [];
            for (let i = 0; i < 1000; i++) {
                const subject = 'song-' + (i % 3);
                ids.push(putonly.track('song_player', {position: i, subject, ip: '127.0.0.1'}, {subject}));
            }
            await putonly.flush();
            return ids;
        }"""
    )
    elapsed = time.monotonic() - started
    print(f"\n1,000 events stored in {elapsed:.2f} s ({1000 / elapsed:.0f} events/s), {len(requests)} PutItem requests")
    assert len(set(ids)) == 1000
    stored = [e for e in stored_events(aws, moto) if e["id"] in set(ids)]
    counts = Counter(e["id"] for e in stored)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1
    by_id = {e["id"]: e for e in stored}
    for i, event_id in enumerate(ids):
        assert by_id[event_id]["data"]["position"] == i
        assert by_id[event_id]["subject"] == f"song-{i % 3}"
        assert by_id[event_id]["topic"] == "song_player"
    assert len({e["pk"] for e in stored}) == 1
    assert len(requests) <= 1000 / 20, f"{len(requests)} PutItem requests for 1,000 events"


def test_stub_queue_calls_made_before_the_script_loaded_are_kept(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = context.new_page()
    # Hold the tracker back until the calls are in the stub's queue.
    held: list[Any] = []
    page.route("**/v1/putonly.js", lambda route: held.append(route))
    page.goto(page_origin + "/", wait_until="domcontentloaded")
    page.evaluate(
        """() => {
            if (putonly.version) throw new Error('the loader is in already: this test would prove nothing');
            window.sent = [];
            putonly.addEventListener('sent', (e) => sent.push(...e.detail.ids));
            window.early = putonly.track('early_call', {n: 1}, {subject: 'stub'});
            // A method taken off the stub works too (it once used "this"), also once the loader is in.
            window.detached = putonly.track;
            detached('early_call', {n: 2}, {subject: 'stub'});
            // A listener that tracks, through the kept method, while the queue is being replayed.
            putonly.addEventListener('error', () => detached('early_call', {n: 4}, {subject: 'stub'}), {once: true});
            putonly.track('Bad Topic', {});
        }"""
    )
    (loader,) = held
    loader.continue_()
    page.wait_for_function(READY)
    page.evaluate("async () => { detached('early_call', {n: 3}, {subject: 'stub'}); await putonly.flush(); }")
    early = [e for e in stored_events(aws, moto) if e["topic"] == "early_call"]
    assert sorted(e["data"]["n"] for e in early) == [1, 2, 3, 4]
    assert sorted(page.evaluate("() => sent")) == sorted(e["id"] for e in early), (
        "a listener added through the stub hears"
    )


def test_the_first_call_of_a_page_is_checked_too(context: Any, page_origin: str) -> None:
    """Before: a first track() with an undefined topic matched the loader's initial "last topic" and passed."""
    page = open_page(context, page_origin)
    outcome = page.evaluate(
        """() => [() => putonly.track(undefined, {a: 1}), () => putonly.track()].map((call) => {
            try { return 'returned ' + call(); } catch (e) { return e.name + ': ' + e.message; }
        })"""
    )
    assert (
        outcome
        == ['TypeError: putonly: topic "undefined" (undefined) must be a string matching /^[a-z][a-z0-9_.-]{0,63}$/']
        * 2
    )


def test_a_fourth_argument_does_not_set_the_time(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = open_page(context, page_origin)
    before = page.evaluate("() => Date.now()")
    page.evaluate("async () => { putonly.track('fourth_argument', {}, undefined, 5); await putonly.flush(); }")
    (event,) = [e for e in stored_events(aws, moto) if e["topic"] == "fourth_argument"]
    assert event["ts"] >= before, "stored at the time of the call, not at 1970-01-01T00:00:00.005Z"


def test_flush_and_identity_answer_within_a_minute_while_config_json_keeps_failing(
    context: Any, page_origin: str
) -> None:
    """A first visit waits for config.json before anything else; before, flush() and identity() waited forever."""
    context.route("**/v1/config.json", lambda route: route.abort())
    page = context.new_page()
    page.goto(page_origin + "/")
    page.wait_for_function(READY)
    started = time.monotonic()
    outcomes = page.evaluate(
        """() => {
            putonly.track('no_config', {});
            const settled = (p) => p.then((v) => 'resolved ' + v, (e) => e.message);
            const hung = new Promise((r) => setTimeout(() => r(['still pending after 90 s']), 90_000));
            return Promise.race([Promise.all([settled(putonly.flush()), settled(putonly.identity())]), hung]);
        }"""
    )
    elapsed = time.monotonic() - started
    assert outcomes == ["putonly: no answer within 60 s (last error: config.json: Failed to fetch)"] * 2
    assert 59 < elapsed < 75


def test_a_worker_that_cannot_load_is_reported_and_flush_rejects(context: Any, page_origin: str) -> None:
    page = context.new_page()
    page.route("**/v1/worker.*.js", lambda route: route.abort())
    page.goto(page_origin + "/")
    page.evaluate(
        """() => {
            window.errors = [];
            putonly.addEventListener('error', (e) => errors.push(e.detail.message));
        }"""
    )
    page.wait_for_function(READY)
    page.wait_for_function("() => errors.length > 0")
    assert page.evaluate("() => errors")[0].startswith("putonly: cannot start the worker:")
    outcome = page.evaluate("() => putonly.flush().then(() => 'resolved', (e) => e.message)")
    assert outcome.startswith("putonly: cannot start the worker:")
    assert page.evaluate("() => putonly.track('never_kept', {})") is None


def test_invalid_calls_throw_precise_errors_and_valid_ones_around_them_are_stored(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = open_page(context, page_origin)
    result = page.evaluate(
        """async () => {
            const errors = [];
            const ids = [];
            const cycle = {}; cycle.self = cycle;
            const bad = [
                () => putonly.track(42, {}),
                () => putonly.track('Bad Topic', {}),
                () => putonly.track('ok', undefined),
                () => putonly.track('ok', {f: () => 1}),
                () => putonly.track('ok', {n: 10n}),
                () => putonly.track('ok', cycle),
                () => putonly.track('ok', {x: NaN}),
                () => putonly.track('ok', {when: new Date()}),
                () => putonly.track('ok', 'x'.repeat(9000)),
                () => putonly.track('ok', {}, {subject: {}}),
                () => putonly.track('ok', {}, {subject: ''}),
                () => putonly.track('ok', {}, {subjet: 'typo'}),
                () => putonly.consent('yes'),
                // The same bad topic or subject twice in a row: what passed is remembered, what failed is not.
                () => { try { putonly.track('Bad Topic', {}); } catch {} putonly.track('Bad Topic', {}); },
                () => { try { putonly.track('ok', {}, {subject: ''}); } catch {} putonly.track('ok', {}, {subject: ''}); },
                () => putonly.track('ok', {}, {subject: 'a\u0000'}),
                () => putonly.track('ok', {}, new Map([['subject', 'x']])),
            ];
            for (const call of bad) {
                ids.push(putonly.track('valid_around', {i: ids.length}));
                try { call(); errors.push('no error'); } catch (e) { errors.push(e.name + ': ' + e.message); }
            }
            ids.push(putonly.track('valid_around', {i: ids.length}));
            await putonly.flush();
            return {errors, ids};
        }"""
    )
    errors = result["errors"]
    assert errors[0].startswith('TypeError: putonly: topic "42" (number) must be a string matching /^[a-z]')
    assert errors[1].startswith('TypeError: putonly: topic "Bad Topic" (string) must be a string matching')
    assert errors[2] == "TypeError: putonly: data is undefined; pass null or an object"
    assert errors[3].startswith("TypeError: putonly: data.f is a function")
    assert errors[4].startswith("TypeError: putonly: data.n is a BigInt")
    assert errors[5].startswith("TypeError: putonly: data.self refers back to itself")
    assert errors[6].startswith("TypeError: putonly: data.x is NaN")
    assert errors[7].startswith("TypeError: putonly: data.when is an instance of Date, not a plain object")
    assert errors[8] == "RangeError: putonly: data is 9002 bytes as JSON; the limit is 8192"
    assert errors[9].startswith("TypeError: putonly: subject must be a string or a safe integer")
    assert errors[10].startswith("RangeError: putonly: subject must be 1 to 256 characters")
    assert errors[11].startswith('TypeError: putonly: unknown option "subjet"')
    assert errors[12] == "TypeError: putonly: consent() takes true or false"
    assert errors[13] == errors[1]
    assert errors[14] == errors[10]
    assert errors[15] == "TypeError: putonly: subject must not contain control characters or lone surrogates"
    assert errors[16] == "TypeError: putonly: options must be a plain object: {subject}"
    stored = {e["id"] for e in stored_events(aws, moto) if e["topic"] == "valid_around"}
    assert set(result["ids"]) <= stored
    assert not [e for e in stored_events(aws, moto) if e["topic"] == "ok"]


def test_consent_false_stops_tracking_and_clears_the_outbox(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = open_page(context, page_origin)
    result = page.evaluate(
        """async () => {
            putonly.track('before_consent', {a: 1});
            putonly.consent(false);
            const id = putonly.track('after_consent', {a: 2});
            let flushError = null;
            try { await putonly.flush(); } catch (e) { flushError = e.message; }
            putonly.consent(true);
            const back = putonly.track('after_consent_back', {a: 3});
            await putonly.flush();
            return {id, flushError, back};
        }"""
    )
    assert result["id"] is None
    assert "consent" in result["flushError"]
    topics = {e["topic"] for e in stored_events(aws, moto)}
    assert "after_consent" not in topics and "before_consent" not in topics
    assert "after_consent_back" in topics


def test_consent_withdrawn_while_the_worker_stores_events_keeps_none_of_them(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = open_page(context, page_origin)
    result = page.evaluate(
        """async () => {
            await putonly.flush(); // the worker is up: it has its config and packs as events arrive
            const before = [];
            for (let round = 0; round < 5; round++) {
                for (let i = 0; i < 30; i++) before.push(putonly.track('consent_race', {round, i}));
                // The batch goes to the worker in a microtask; consent(false) follows while it is stored.
                await Promise.resolve();
                putonly.consent(false);
                putonly.consent(true);
                await new Promise((r) => setTimeout(r, 20 * round));
            }
            const after = [];
            for (let i = 0; i < 5; i++) after.push(putonly.track('consent_race', {i: 100 + i}));
            await putonly.flush();
            await new Promise((r) => setTimeout(r, 500));
            return {before, after};
        }"""
    )
    stored = Counter(e["id"] for e in stored_events(aws, moto) if e["topic"] == "consent_race")
    assert not set(result["before"]) & set(stored), "events tracked before consent was withdrawn were sent"
    assert set(stored) == set(result["after"]) and max(stored.values()) == 1
    assert page.evaluate(OUTBOX_SIZE) == 0, "the outbox still holds records"


def test_events_tracked_before_the_config_arrived_are_held_to_its_limit(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    held: list[Any] = []
    context.route("**/config.json", lambda route: held.append(route))  # answered below, once events wait
    page = open_page(context, page_origin)
    ids = page.evaluate(
        """() => {
            window.errors = [];
            putonly.addEventListener('error', (e) => errors.push(e.detail));
            return [putonly.track('config_late', {pad: 'x'.repeat(2000)}), putonly.track('config_late', {n: 1})];
        }"""
    )
    page.wait_for_timeout(300)
    assert len(held) == 1
    config = json.loads(held[0].fetch().text())
    held[0].fulfill(json={**config, "maxEventBytes": 1000})
    outcome = page.evaluate("() => putonly.flush().then(() => 'resolved', (e) => e.message)")
    assert ids[0] in outcome and "the limit is 1000" in outcome
    errors = page.evaluate("() => errors")
    assert [e["ids"] for e in errors] == [[ids[0]]]
    assert errors[0]["message"] == "putonly: data is 2010 bytes as JSON; the limit is 1000"
    stored = {e["id"] for e in stored_events(aws, moto) if e["topic"] == "config_late"}
    assert stored == {ids[1]}


def test_a_page_hidden_before_the_config_arrived_still_sends_at_once(context: Any, page_origin: str) -> None:
    held: list[Any] = []
    context.route("**/config.json", lambda route: held.append(route))  # answered once the page is hidden
    page = open_page(context, page_origin)
    page.evaluate(
        """() => {
            window.sent = [];
            putonly.addEventListener('sent', (e) => sent.push(...e.detail.ids));
            window.id = putonly.track('hidden_early', {n: 1});
            setTimeout(() => window.dispatchEvent(new Event('pagehide')), 50);
        }"""
    )
    page.wait_for_timeout(300)
    held[0].continue_()
    # Without the hide it would wait for maxDelaySeconds (30 s); flush() is never called.
    page.wait_for_function("() => sent.includes(id)", timeout=10_000)
