"""Privacy controls in Chromium against the local stack: Global Privacy Control, consent by default, identity, reset.

"Nothing" is checked where it would show: no item in the table, no identity in the pool, and no PutOnly
IndexedDB database on the page's origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cdk_app.local.emulator import LocalAws, MotoServer
from tests.helpers import OUTBOX_SIZE, READY, site_origin, stored_events

GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true, configurable: true});"
HAS_DATABASE = "async () => (await indexedDB.databases()).some((db) => db.name === 'putonly')"
FLUSHED = "() => putonly.flush().then(() => 'stored', (e) => e.message)"


@pytest.fixture(scope="module")
def denied_site(aws: LocalAws) -> Iterator[str]:
    with site_origin(aws, settings={"consentDefault": "denied"}) as origin:
        yield origin


@pytest.fixture(scope="module")
def gpc_ignored_site(aws: LocalAws) -> Iterator[str]:
    with site_origin(aws, settings={"honorGlobalPrivacyControl": False}) as origin:
        yield origin


def identities(aws: LocalAws, moto: MotoServer) -> int:
    pool = moto.client("cognito-identity")
    return len(pool.list_identities(IdentityPoolId=aws.identity_pool_id, MaxResults=60)["Identities"])


def visit(context: Any, origin: str, init: str = "") -> Any:
    page = context.new_page()
    if init:
        page.add_init_script(init)
    page.goto(origin + "/")
    page.wait_for_function(READY)
    return page


def visit_with_config_held(context: Any, origin: str, init: str = "") -> tuple[Any, list[Any]]:
    """A page of the site whose config.json requests wait (in ``held``) until the test lets them go."""
    page = context.new_page()
    if init:
        page.add_init_script(init)
    held: list[Any] = []
    page.route("**/v1/config.json", lambda route: held.append(route))
    page.goto(origin + "/")
    page.wait_for_function(READY)
    return page, held


def topic_events(aws: LocalAws, moto: MotoServer, topic: str) -> list[dict[str, Any]]:
    return [e for e in stored_events(aws, moto) if e["topic"] == topic]


def assert_nothing_kept_until_consent(page: Any, topic: str, aws: LocalAws, moto: MotoServer, before: int) -> None:
    result = page.evaluate(
        f"""async () => {{
            const dropped = [];
            putonly.addEventListener('drop', (e) => dropped.push([e.detail.reason, ...e.detail.ids]));
            const ids = [1, 2, 3].map((i) => putonly.track('{topic}', {{i}}));
            await new Promise((r) => setTimeout(r, 1500));  // time to have stored, minted and sent, were it on
            return {{ids, dropped, later: putonly.track('{topic}', {{i: 4}}), flushed: await ({FLUSHED})(), id: await putonly.identity()}};
        }}"""
    )
    # Tracked before the worker said tracking is off: ids, each named in a drop event, and none stored.
    early = [i for i in result["ids"] if i is not None]
    assert sorted(i for reason, *ids in result["dropped"] for i in ids if reason == "consent") == sorted(early)
    assert result["later"] is None, "track() returns null while consent is off"
    assert "consent" in result["flushed"]
    assert result["id"] is None
    assert not topic_events(aws, moto, topic), "nothing sent"
    assert identities(aws, moto) == before, "no identity minted"
    assert not page.evaluate(HAS_DATABASE), "nothing stored: not even the database exists"


def assert_events_flow_after_consent(page: Any, topic: str, aws: LocalAws, moto: MotoServer) -> None:
    ids = page.evaluate(
        f"""async () => {{
            putonly.consent(true);
            const ids = [5, 6].map((i) => putonly.track('{topic}', {{i}}));
            await putonly.flush();
            return ids;
        }}"""
    )
    assert None not in ids
    assert sorted(e["id"] for e in topic_events(aws, moto, topic)) == sorted(ids), "only events after consent(true)"
    assert page.evaluate(HAS_DATABASE)


def test_global_privacy_control_means_nothing_until_consent(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    before = identities(aws, moto)
    page = visit(context, page_origin, GPC)
    assert_nothing_kept_until_consent(page, "privacy_gpc", aws, moto, before)
    assert_events_flow_after_consent(page, "privacy_gpc", aws, moto)
    # The choice is remembered: the next page of the site tracks at once, GPC or not, from its first event (the
    # stub's, before the loader is in). Before: the loader guessed "off" from GPC until the worker answered, so
    # every page lost those, with no word.
    again = context.new_page()
    again.add_init_script(GPC)
    held: list[Any] = []
    again.route("**/v1/putonly.js", lambda route: held.append(route))
    again.goto(page_origin + "/", wait_until="domcontentloaded")
    again.evaluate("() => { window.queued = putonly.track('privacy_gpc_again', {n: 1}); }")
    (loader,) = held
    loader.continue_()
    again.wait_for_function(READY)
    first = again.evaluate("() => putonly.track('privacy_gpc_again', {n: 2})")
    assert first is not None, "on from the first call"
    assert again.evaluate(FLUSHED) == "stored"
    assert sorted(e["data"]["n"] for e in topic_events(aws, moto, "privacy_gpc_again")) == [1, 2]


def test_a_withdrawal_made_on_an_earlier_visit_drops_the_first_events_and_says_so(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """Until the worker has read the visitor's choice, track() returns ids; it then stores none of them and names
    them in a drop event. Before: they were dropped with no word, and track() had returned ids."""
    first = visit(context, page_origin)
    first.evaluate("() => putonly.consent(false)")
    first.wait_for_timeout(300)
    first.close()
    page, held = visit_with_config_held(context, page_origin)
    early = page.evaluate(
        """() => {
            window.dropped = [];
            window.ids = [];
            putonly.addEventListener('drop', (e) => dropped.push([e.detail.reason, ...e.detail.ids]));
            return putonly.track('privacy_withdrawn_before', {});
        }"""
    )
    # The outbox says "off" before config.json is in: track() returns null from then on; a call before that
    # got an id, which a drop event names.
    page.wait_for_function(
        "() => { const id = putonly.track('privacy_withdrawn_before', {}); if (id) window.ids.push(id); return !id; }"
    )
    given = [early, *page.evaluate("() => ids")] if early else page.evaluate("() => ids")
    page.wait_for_function(f"() => dropped.flat().length >= {len(given) + min(len(given), 1)}")
    assert sorted(i for reason, *ids in page.evaluate("() => dropped") for i in ids if reason == "consent") == sorted(
        given
    )
    for route in held:
        route.continue_()
    page.unroute("**/v1/config.json")
    page.wait_for_timeout(500)
    assert not topic_events(aws, moto, "privacy_withdrawn_before")


def test_a_returning_visitor_with_gpc_and_no_choice_made_keeps_nothing_before_the_config_says(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """The outbox exists (an earlier visit), no choice was made, and GPC is on now: whether it counts is in
    config.json. Before: the first events were written to the outbox while it was on its way."""
    first = visit(context, page_origin)
    assert first.evaluate(f"async () => {{ putonly.track('privacy_gpc_returning', {{}}); return ({FLUSHED})(); }}") == (
        "stored"
    )
    first.close()
    page, held = visit_with_config_held(context, page_origin, GPC)
    early = page.evaluate(
        """() => {
            window.dropped = [];
            putonly.addEventListener('drop', (e) => dropped.push([e.detail.reason, ...e.detail.ids]));
            return putonly.track('privacy_gpc_returning_early', {});
        }"""
    )
    page.wait_for_timeout(500)
    assert early is not None and page.evaluate(OUTBOX_SIZE) == 0, "not even kept in the outbox"
    for route in held:
        route.continue_()
    page.unroute("**/v1/config.json")
    page.wait_for_function("() => dropped.length > 0")
    assert page.evaluate("() => dropped") == [["consent", early]]
    assert page.evaluate("() => putonly.track('privacy_gpc_returning_early', {})") is None
    assert not topic_events(aws, moto, "privacy_gpc_returning_early")


def test_an_owner_may_not_honor_global_privacy_control(
    context: Any, gpc_ignored_site: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = visit(context, gpc_ignored_site, GPC)
    page.wait_for_function("() => putonly.track('privacy_gpc_ignored', {}) !== null")
    assert page.evaluate(FLUSHED) == "stored"
    assert topic_events(aws, moto, "privacy_gpc_ignored")


def test_consent_default_denied_means_nothing_until_consent(
    context: Any, denied_site: str, aws: LocalAws, moto: MotoServer
) -> None:
    before = identities(aws, moto)
    page = visit(context, denied_site)
    assert_nothing_kept_until_consent(page, "privacy_denied", aws, moto, before)
    assert_events_flow_after_consent(page, "privacy_denied", aws, moto)


def test_identity_is_the_partition_and_reset_starts_a_new_one(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    page = visit(context, page_origin)
    assert page.evaluate("() => putonly.identity()") is None, "no identity before anything was sent"
    first = page.evaluate(
        """async () => {
            const ids = [putonly.track('privacy_identity', {n: 1})];
            await putonly.flush();
            return {ids, identity: await putonly.identity()};
        }"""
    )
    (stored,) = topic_events(aws, moto, "privacy_identity")
    assert first["identity"] == stored["pk"]
    dropped = page.evaluate(
        """async () => {
            const drops = [];
            putonly.addEventListener('drop', (e) => drops.push(e.detail));
            const id = putonly.track('privacy_dropped', {n: 0});
            await putonly.reset();
            return {id, drops};
        }"""
    )
    assert dropped["drops"] == [{"ids": [dropped["id"]], "reason": "reset"}], "the page hears what reset() dropped"
    second = page.evaluate(
        """async () => {
            await putonly.reset();
            const before = await putonly.identity();
            const ids = [putonly.track('privacy_reset', {n: 2})];
            await putonly.flush();
            return {ids, before, identity: await putonly.identity()};
        }"""
    )
    assert second["before"] is None, "reset() forgot the identity"
    (after,) = topic_events(aws, moto, "privacy_reset")
    assert after["pk"] == second["identity"] != first["identity"], "the next events start a new identity"


def test_consent_given_before_the_config_arrives_stands_on_a_returning_visit_with_gpc(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """A visitor who came before (the outbox exists, no choice saved) returns with GPC on; the page asks and
    calls consent(true) at once, before config.json is in: that choice stands once it is."""
    first = visit(context, page_origin)
    assert (
        first.evaluate(f"async () => {{ putonly.track('privacy_returning', {{i: 0}}); return await ({FLUSHED})(); }}")
        == "stored"
    )
    first.close()
    held: list[Any] = []
    context.route("**/config.json", lambda route: held.append(route))
    page = context.new_page()
    page.add_init_script(GPC)
    page.goto(page_origin + "/")
    page.wait_for_function(READY)
    page.evaluate("() => putonly.consent(true)")
    page.wait_for_timeout(300)
    assert len(held) == 1, "config.json is still on its way"
    held[0].fulfill(response=held[0].fetch())
    context.unroute("**/config.json")
    result = page.evaluate(
        f"""async () => {{
            await new Promise((r) => setTimeout(r, 500));  // the worker has read config.json
            const id = putonly.track('privacy_returning', {{i: 1}});
            return {{id, flushed: await ({FLUSHED})()}};
        }}"""
    )
    assert result == {"id": result["id"], "flushed": "stored"} and result["id"], result
    assert result["id"] in {e["id"] for e in topic_events(aws, moto, "privacy_returning")}


def test_reset_in_one_tab_is_heard_by_the_sites_other_tabs(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """Before: another open tab kept the old identity (its credentials, for up to an hour): its events went on
    being stored under it, and its outbox records, adopted by the first tab once it closed, under the new one."""
    track = """async (tab) => {
        const drops = [];
        putonly.addEventListener('drop', (e) => drops.push(e.detail.reason));
        const id = putonly.track('privacy_reset_tabs', {tab});
        await putonly.flush();
        return {id, identity: await putonly.identity(), drops};
    }"""
    first, other = visit(context, page_origin), visit(context, page_origin)
    before = first.evaluate(track, "first")["identity"]
    assert other.evaluate(track, "other")["identity"] == before, "one identity per browser"
    other.evaluate(
        """() => {
            window.dropped = [];
            putonly.addEventListener('drop', (e) => dropped.push(...e.detail.ids));
            window.pending = putonly.track('privacy_reset_tabs_unsent', {});
        }"""
    )
    first.evaluate("() => putonly.reset()")
    other.wait_for_function("() => dropped.includes(pending)")  # its unsent event too, as the first tab's
    after = other.evaluate(track, "other after")
    assert after["identity"] not in (None, before)
    assert first.evaluate(track, "first after")["identity"] == after["identity"]
    pk = {e["data"]["tab"]: e["pk"] for e in topic_events(aws, moto, "privacy_reset_tabs")}
    assert pk == {"first": before, "other": before, "other after": after["identity"], "first after": after["identity"]}
    assert not topic_events(aws, moto, "privacy_reset_tabs_unsent")


def test_a_choice_made_in_another_tab_while_this_one_waits_for_its_config_stands(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """A returning visitor with GPC and no choice made: one tab waits for config.json while in another the visitor
    opts in and tracks. Before: the waiting tab then decided "off", clearing the shared outbox (the other tab's
    events not sent yet with it) and telling its page tracking was off."""
    first = visit(context, page_origin)
    assert first.evaluate(f"async () => {{ putonly.track('privacy_tabs_choice', {{}}); return ({FLUSHED})(); }}") == (
        "stored"
    )
    first.close()
    waiting, held = visit_with_config_held(context, page_origin, GPC)
    other = visit(context, page_origin, GPC)
    other.evaluate("() => { putonly.consent(true); window.kept = putonly.track('privacy_tabs_choice_unsent', {}); }")
    other.wait_for_timeout(500)  # its event waits in the shared outbox (maxDelaySeconds)
    assert other.evaluate(OUTBOX_SIZE) > 0
    for route in held:
        route.continue_()
    waiting.unroute("**/v1/config.json")
    waiting.wait_for_timeout(1000)  # the waiting tab has read its config
    assert other.evaluate(OUTBOX_SIZE) > 0, "the other tab's event is still kept"
    assert waiting.evaluate("() => putonly.track('privacy_tabs_choice', {})") is not None, "on, as chosen"
    assert other.evaluate(FLUSHED) == "stored"
    assert other.evaluate("() => kept") in {e["id"] for e in topic_events(aws, moto, "privacy_tabs_choice_unsent")}


def test_events_tracked_just_before_consent_false_are_named_in_its_drop_event(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """Before: the loader threw away the batch of the current task, so track() had returned ids of which the page
    never heard again (an event tracked one task earlier was named)."""
    page = visit(context, page_origin)
    result = page.evaluate(
        """async () => {
            const drops = [];
            putonly.addEventListener('drop', (e) => drops.push(e.detail));
            const ids = [putonly.track('privacy_last_moment', {n: 1}), putonly.track('privacy_last_moment', {n: 2})];
            putonly.consent(false);
            await new Promise((resolve) => setTimeout(resolve, 1000));
            putonly.consent(true);
            return {ids, drops};
        }"""
    )
    assert result["drops"] == [{"ids": result["ids"], "reason": "consent"}]
    assert page.evaluate(FLUSHED) == "stored"
    assert not topic_events(aws, moto, "privacy_last_moment")


def test_reset_then_leaving_at_once_sends_none_of_the_events_it_dropped(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """reset() not awaited and the page hidden in the same task (a "forget me" link that navigates away). Before:
    the loader still held the keepalive copies of the unsent events, and sent them under the old identity."""
    page = visit(context, page_origin)
    first = page.evaluate(
        """async () => {
            putonly.track('privacy_reset_leave_first', {});
            await putonly.flush();
            return putonly.identity();
        }"""
    )
    ids = page.evaluate(
        """async () => {
            const ids = [putonly.track('privacy_reset_leave', {n: 1}), putonly.track('privacy_reset_leave', {n: 2})];
            await new Promise((resolve) => setTimeout(resolve, 500));  // the loader holds their signed copies
            putonly.reset();
            dispatchEvent(new Event('pagehide'));  // what leaving does: the copies it holds go with keepalive
            return ids;
        }"""
    )
    assert len(ids) == 2 and first
    page.wait_for_timeout(1500)
    assert not topic_events(aws, moto, "privacy_reset_leave"), "events reset() dropped were sent after it"
    assert page.evaluate("() => putonly.identity()") != first


def test_a_choice_made_while_its_tab_waits_for_the_config_is_dated_when_made(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """A returning visitor with GPC and no choice made: a tab waiting for config.json replays "granted" (a consent
    manager), then the visitor withdraws in another tab. Before: the waiting tab dated its choice when it got to it,
    after the config, so the earlier "granted" outranked the withdrawal in every tab."""
    first = visit(context, page_origin)
    assert first.evaluate(f"async () => {{ putonly.track('privacy_dated', {{}}); return ({FLUSHED})(); }}") == "stored"
    first.close()
    waiting, held = visit_with_config_held(context, page_origin, GPC)
    waiting.evaluate("() => putonly.consent(true)")
    waiting.wait_for_timeout(100)
    other = visit(context, page_origin, GPC)
    other.evaluate("() => putonly.consent(false)")
    other.wait_for_timeout(300)
    for route in held:
        route.continue_()
    waiting.unroute("**/v1/config.json")
    waiting.wait_for_timeout(1000)
    tracking = "async () => (await putonly.identity(), putonly.track('privacy_dated_after', {}) !== null)"
    states = {"waiting": waiting.evaluate(tracking), "other": other.evaluate(tracking)}
    states["opened later"] = visit(context, page_origin, GPC).evaluate(tracking)
    assert states == {"waiting": False, "other": False, "opened later": False}
