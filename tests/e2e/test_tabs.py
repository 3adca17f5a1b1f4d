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
