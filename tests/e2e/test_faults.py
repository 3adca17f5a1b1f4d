"""Faults injected between the worker and the emulator: nothing is lost, nothing is stored twice."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdk_app.local.emulator import LocalAws, MotoServer
from tests.helpers import aws_error, is_put, open_page, server_clock, stored_events

TRACK_300 = """async (topic) => {
    const ids = [];
    for (let i = 0; i < 300; i++) ids.push(putonly.track(topic, {i}, {subject: 'song-' + (i % 3)}));
    await putonly.flush();
    return ids;
}"""


def _reject_poison(route: Any) -> None:
    """DynamoDB refuses, as invalid, any PutItem whose envelope holds an event marked POISON."""
    if is_put(route) and "POISON" in (route.request.post_data or ""):
        aws_error(route, 400, "com.amazon.coral.validate#ValidationException", "bad")
    else:
        route.continue_()


def _assert_exactly_once(ids: list[str], aws: LocalAws, moto: MotoServer, topic: str) -> None:
    counts = Counter(e["id"] for e in stored_events(aws, moto) if e["topic"] == topic)
    assert set(counts) == set(ids), f"missing: {len(set(ids) - set(counts))}"
    assert max(counts.values()) == 1


@pytest.mark.parametrize("fault", ["aborted", "lost"])
def test_aborted_requests_and_lost_responses(
    fault: str, context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """30% of PutItem requests fail: aborted before the emulator, or written but the response lost."""
    rng = random.Random(7)  # noqa: S311 (a seeded fault pattern, not a secret)
    seen = Counter[str]()

    def faulty(route: Any) -> None:
        if not is_put(route):
            route.continue_()
            return
        if rng.random() < 0.3:
            seen[fault] += 1
            if fault == "lost":
                route.fetch()  # the write happens ...
            route.abort()  # ... but the response never arrives
        else:
            seen["ok"] += 1
            route.continue_()

    context.route("**/*", faulty)
    page = open_page(context, page_origin)
    ids = page.evaluate(TRACK_300, f"faults_{fault}")
    _assert_exactly_once(ids, aws, moto, f"faults_{fault}")
    assert seen[fault], seen


def test_throttling_server_errors_and_expired_credentials(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    replies = iter(
        [
            (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
            (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
            (400, "com.amazonaws.dynamodb.v20120810#ThrottlingException"),
            (400, "com.amazon.coral.service#ExpiredTokenException"),
            (503, "com.amazonaws.dynamodb.v20120810#ServiceUnavailable"),
        ]
    )
    cognito_calls = Counter[str]()

    def flaky(route: Any) -> None:
        target = route.request.headers.get("x-amz-target") or ""
        if target.startswith("AWSCognitoIdentityService."):
            cognito_calls[target.split(".")[1]] += 1
        reply = next(replies, None) if is_put(route) else None
        if reply is None:
            route.continue_()
            return
        aws_error(route, *reply, "injected")

    context.route("**/*", flaky)
    page = open_page(context, page_origin)
    ids = page.evaluate(TRACK_300, "faults_server")
    _assert_exactly_once(ids, aws, moto, "faults_server")
    assert next(replies, None) is None, "every injected reply was used"
    assert cognito_calls["GetCredentialsForIdentity"] >= 2, "expired credentials were refreshed"


def test_a_rejected_event_is_isolated_and_only_it_is_dropped(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    context.route("**/*", _reject_poison)
    page = open_page(context, page_origin)
    result = page.evaluate(
        """async () => {
            const errors = [];
            putonly.addEventListener('error', (e) => errors.push(e.detail));
            const ids = [];
            for (let i = 0; i < 40; i++) {
                ids.push(putonly.track('faults_invalid', {i, note: i === 17 ? 'POISON' : 'fine'}));
            }
            let flushError = null;
            try { await putonly.flush(); } catch (e) { flushError = e.message; }
            return {ids, errors, flushError};
        }"""
    )
    poison = result["ids"][17]
    assert [e["ids"] for e in result["errors"]] == [[poison]], result
    assert poison in result["flushError"]
    stored = Counter(e["id"] for e in stored_events(aws, moto) if e["topic"] == "faults_invalid")
    assert set(stored) == set(result["ids"]) - {poison}
    assert max(stored.values()) == 1


def test_a_failure_no_flush_waited_for_rejects_the_next_flush(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    context.route("**/*", _reject_poison)
    page = open_page(context, page_origin)
    page.evaluate("() => putonly.flush()")  # the worker is up: it has its config
    page.evaluate(
        """() => {
            window.rejected = new Promise((r) => {
                putonly.addEventListener('error', (e) => r(e.detail.ids), {once: true});
            });
            window.ids = [];
            for (let i = 0; i < 6; i++) {
                ids.push(putonly.track('faults_unwatched', {i, note: i === 3 ? 'POISON' : 'fine'}));
            }
            // Sent on pagehide, with no flush() waiting.
            setTimeout(() => window.dispatchEvent(new Event('pagehide')), 50);
        }"""
    )
    # Waits in the page's own timer: the sync API runs route handlers only inside its calls.
    rejected = page.evaluate("() => Promise.race([rejected, new Promise((r) => setTimeout(() => r(null), 20000))])")
    ids = page.evaluate("() => ids")
    assert rejected == [ids[3]]
    first = page.evaluate("() => putonly.flush().then(() => 'resolved', (e) => e.message)")
    assert ids[3] in first and "dropped" in first
    assert page.evaluate("() => putonly.flush().then(() => 'resolved', (e) => e.message)") == "resolved"
    stored = Counter(e["id"] for e in stored_events(aws, moto) if e["topic"] == "faults_unwatched")
    assert set(stored) == set(ids) - {ids[3]} and max(stored.values()) == 1


def test_a_device_clock_hours_off_signs_in_the_servers_time_after_one_refusal(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    server_now = datetime.now(UTC) + timedelta(hours=2)  # the device's clock is two hours behind
    stamp = lambda t: t.strftime("%Y%m%dT%H%M%SZ")  # noqa: E731
    dates: list[str] = []
    context.route("**/*", server_clock(server_now, dates))
    page = open_page(context, page_origin)
    ids = page.evaluate(
        """async () => {
            const ids = [];
            for (let i = 0; i < 20; i++) ids.push(putonly.track('faults_clock', {i}, {subject: i % 2}));
            await putonly.flush();
            for (let i = 20; i < 30; i++) ids.push(putonly.track('faults_clock', {i}, {subject: i % 2}));
            await putonly.flush();
            return ids;
        }"""
    )
    assert len(dates) >= 3 and dates[0] < stamp(server_now - timedelta(minutes=15)), (
        "the first send used the device clock"
    )
    late = [datetime.strptime(d, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) for d in dates[-2:]]
    assert all(abs(t - server_now) < timedelta(minutes=5) for t in late), dates
    stored = Counter(e["id"] for e in stored_events(aws, moto) if e["topic"] == "faults_clock")
    assert set(stored) == set(ids) and max(stored.values()) == 1
