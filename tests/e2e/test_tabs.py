"""Several tabs of one site: consent is shared, and a first visit gets one identity however many tabs it opens."""

from __future__ import annotations

from typing import Any

from cdk_app.local.emulator import LocalAws, MotoServer
from tests.helpers import open_page, stored_events

# track() returns null once this tab has heard that consent was withdrawn (a probe event otherwise).
CONSENT_OFF_HERE = """() => new Promise((resolve) => {
    const timer = setInterval(() => {
        if (putonly.track('tabs_probe', {}) === null) { clearInterval(timer); resolve(true); }
    }, 20);
    setTimeout(() => { clearInterval(timer); resolve(false); }, 5000);
})"""


def test_consent_withdrawn_in_one_tab_stops_the_others(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    here, there = open_page(context, page_origin), open_page(context, page_origin)
    here.evaluate("() => putonly.consent(false)")
    assert there.evaluate(CONSENT_OFF_HERE), "the other tab kept tracking"
    assert "consent" in there.evaluate("() => putonly.flush().then(() => 'resolved', (e) => e.message)")
    there.evaluate("() => putonly.consent(true)")
    here.wait_for_function("() => putonly.track('tabs_back', {}) !== null")
    here.evaluate("() => putonly.flush()")
    topics = {e["topic"] for e in stored_events(aws, moto)}
    assert "tabs_back" in topics
    assert "tabs_probe" not in topics, "events tracked in the other tab around the withdrawal were sent"


def test_two_tabs_of_a_first_visit_write_into_one_partition(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    pages = [open_page(context, page_origin) for _ in range(3)]
    # Every tab asks for an identity at the same moment: none is stored yet.
    for page in pages:
        page.evaluate("() => { putonly.track('tabs_identity', {}); window.stored = putonly.flush(); }")
    for page in pages:
        page.evaluate("() => window.stored")
    partitions = {e["pk"] for e in stored_events(aws, moto) if e["topic"] == "tabs_identity"}
    assert len([e for e in stored_events(aws, moto) if e["topic"] == "tabs_identity"]) == 3
    assert len(partitions) == 1, f"one visitor, {len(partitions)} identities"


# What any script of the site could post on the consent channels (the tracker's and the name it used before).
POST_JUNK = """() => {
    // Ends with falsy messages: a worker that coerced them would be left with tracking off.
    const junk = ['yes', 1, 'false', {putonly: 'consent', value: 'false'}, {putonly: 'consent', value: 0},
                  {putonly: 'consent'}, {t: 'consent', value: false}, {value: false}, null, 0, false];
    for (const name of ['putonly-consent.2', 'putonly-consent']) {
        const channel = new BroadcastChannel(name);
        junk.forEach((message) => channel.postMessage(message));
        channel.close();
    }
}"""

# Tracks an event every 20 ms for a second: ids, or null once the tab believes consent was withdrawn.
TRACK_A_SECOND = """async () => {
    const ids = [];
    for (let i = 0; i < 50; i++) {
        ids.push(putonly.track('tabs_junk', {i}));
        await new Promise((r) => setTimeout(r, 20));
    }
    await putonly.flush();
    return ids;
}"""


def test_junk_on_the_consent_channel_changes_nothing_and_real_consent_still_propagates(
    context: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    """Before: the worker took Boolean(message), so a bare `false` from any script stopped tracking in every tab."""
    here, there = open_page(context, page_origin), open_page(context, page_origin)
    for page in (here, there):
        page.evaluate("() => putonly.flush()")  # each worker is up and listening
    there.evaluate(POST_JUNK)
    ids = here.evaluate(TRACK_A_SECOND) + there.evaluate(TRACK_A_SECOND)
    assert None not in ids, "a tab stopped tracking on a message that was not the tracker's"
    stored = {e["id"] for e in stored_events(aws, moto) if e["topic"] == "tabs_junk"}
    assert set(ids) <= stored
    # The tracker's own message still reaches the other tab.
    here.evaluate("() => putonly.consent(false)")
    assert there.evaluate(CONSENT_OFF_HERE), "a real withdrawal did not reach the other tab"
    there.evaluate("() => putonly.consent(true)")


# Once the worker has answered (it reads the choice saved on this origin as it starts): whether this tab tracks.
TRACKING = "async () => (await putonly.identity(), putonly.track('tabs_state', {}) !== null)"


def test_opposite_choices_made_in_two_tabs_at_once_end_the_same_in_every_tab(context: Any, page_origin: str) -> None:
    """The visitor withdraws in one tab while another tab's consent manager replays "granted", at the same moment.
    Before: each worker took its own choice first and the other tab's after it, so the two tabs ended opposite (one
    tracking after the visitor had withdrawn in it), and a tab opened later followed whichever was saved last."""
    here, there = open_page(context, page_origin), open_page(context, page_origin)
    at = here.evaluate("() => Date.now() + 500")
    for page, value in ((here, "false"), (there, "true")):
        page.evaluate(f"(at) => setTimeout(() => putonly.consent({value}), at - Date.now())", at)
    here.wait_for_timeout(1500)
    states = {"here": here.evaluate(TRACKING), "there": there.evaluate(TRACKING)}
    states["opened later"] = open_page(context, page_origin).evaluate(TRACKING)
    assert len(set(states.values())) == 1, states
    here.evaluate("() => putonly.consent(true)")


def test_a_choice_dated_in_the_far_future_on_the_channel_does_not_lock_consent(context: Any, page_origin: str) -> None:
    """Any script of the site can post the tracker's message (it may flip consent, as consent() would). Dated far
    ahead, it must not outrank every later choice: the visitor's next consent(true) still turns tracking on, here,
    in the other tab and in a tab opened later."""
    here, there = open_page(context, page_origin), open_page(context, page_origin)
    for page in (here, there):
        page.evaluate("() => putonly.flush()")  # each worker is up and listening
    there.evaluate(
        """() => {
            const channel = new BroadcastChannel('putonly-consent.2');
            channel.postMessage({putonly: 'consent', value: false, at: Number.MAX_VALUE});
            channel.postMessage({putonly: 'consent', value: false, at: 8.64e15});
            channel.close();
        }"""
    )
    assert there.evaluate(CONSENT_OFF_HERE) and here.evaluate(CONSENT_OFF_HERE)
    here.evaluate("() => putonly.consent(false)")
    here.evaluate("() => putonly.consent(true)")
    here.wait_for_timeout(500)
    later = open_page(context, page_origin)
    states = {name: page.evaluate(TRACKING) for name, page in (("here", here), ("there", there), ("later", later))}
    assert states == {"here": True, "there": True, "later": True}
