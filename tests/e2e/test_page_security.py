"""A strict CSP page works, and every item lands in the writing visitor's own partition."""

from __future__ import annotations

from typing import Any

from cdk_app.local.emulator import LocalAws, MotoServer
from tests.helpers import READY, open_page, stored_events

IDENTITY = """async () => {
    const request = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = fail; });
    const db = await request(indexedDB.open('putonly'));
    const id = await request(db.transaction('meta').objectStore('meta').get('identityId'));
    db.close();
    return id;
}"""


def test_strict_csp_page_tracks(context: Any, page_origin: str, aws: LocalAws, moto: MotoServer) -> None:
    violations: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(page_origin + "/csp")
    page.wait_for_function(READY)
    ids = page.evaluate(
        "async () => { const ids = [1, 2, 3].map((i) => putonly.track('csp_page', {i}));"
        " await putonly.flush(); return ids; }"
    )
    assert {e["id"] for e in stored_events(aws, moto) if e["topic"] == "csp_page"} == set(ids)
    assert violations == []
    assert "default-src 'none'" in (page.goto(page_origin + "/csp").headers.get("content-security-policy") or "")


def test_a_policy_without_blob_workers_is_reported_not_thrown(context: Any, page_origin: str) -> None:
    page = context.new_page()
    page_errors: list[str] = []
    warnings: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(page_origin + "/csp-no-worker")
    page.wait_for_function(READY)
    outcome = page.evaluate("() => putonly.flush().then(() => 'resolved', (e) => e.message)")
    assert outcome.startswith("putonly: cannot start the worker:")
    assert warnings == [outcome], "the page's console says it once"
    assert page.evaluate("() => putonly.track('blocked', {})") is None
    assert page_errors == [], "the loader threw on the page"


def _page_hearing_errors(context: Any, url: str) -> tuple[Any, list[str]]:
    """The page, and the tracker's warnings on its console (each error event's message), heard from the start: a
    listener added once the page has loaded can come after the error (a CSP refusal is reported at once)."""
    page = context.new_page()
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(url)
    page.wait_for_function(READY)
    return page, warnings


def _first_warnings(page: Any, warnings: list[str]) -> list[str]:
    for _ in range(100):
        if warnings:
            break
        page.wait_for_timeout(100)
    return warnings


def test_a_policy_refusing_the_trackers_config_is_reported_and_flush_rejects(context: Any, page_origin: str) -> None:
    """Before: track() went on returning ids, and flush() and identity() never settled, with no word why."""
    page, warnings = _page_hearing_errors(context, page_origin + "/csp-no-tracker-fetch")
    (message,) = _first_warnings(page, warnings)
    assert message.startswith("putonly: http://127.0.0.1:") and message.endswith(
        "/v1/config.json is refused by the page's Content-Security-Policy (connect-src)"
    )
    assert page.evaluate("() => putonly.flush().then(() => 'resolved', (e) => e.message)") == message
    assert page.evaluate("() => putonly.track('never_kept', {})") is None


def test_a_policy_refusing_the_aws_endpoints_names_them(context: Any, page_origin: str, moto: MotoServer) -> None:
    """Events wait in the outbox (a page of the site that allows AWS sends them); the page hears why not here."""
    page, warnings = _page_hearing_errors(context, page_origin + "/csp-no-aws")
    assert page.evaluate("() => putonly.track('csp_no_aws', {})") is not None
    assert _first_warnings(page, warnings) == [
        f"putonly: {moto.endpoint}/ is refused by the page's Content-Security-Policy (connect-src)"
    ]


def test_a_report_only_policy_refuses_nothing(context: Any, page_origin: str, aws: LocalAws, moto: MotoServer) -> None:
    """Chromium reports its would-be refusals to the worker too; they must not stop tracking."""
    page, warnings = _page_hearing_errors(context, page_origin + "/csp-report-only")
    ids = page.evaluate(
        "async () => { const ids = [putonly.track('csp_report_only', {})]; await putonly.flush(); return ids; }"
    )
    assert {e["id"] for e in stored_events(aws, moto) if e["topic"] == "csp_report_only"} == set(ids)
    assert warnings == []


def test_each_visitor_writes_only_its_own_partition(
    browser: Any, page_origin: str, aws: LocalAws, moto: MotoServer
) -> None:
    identities = {}
    for visitor in ("visitor_a", "visitor_b"):
        context = browser.new_context()
        page = open_page(context, page_origin)
        page.evaluate("async (topic) => { putonly.track(topic, {}); await putonly.flush(); }", visitor)
        identities[visitor] = page.evaluate(IDENTITY)
        # A returning visitor (same browser profile, new page) keeps its identity.
        again = open_page(context, page_origin)
        again.evaluate("async (topic) => { putonly.track(topic, {again: true}); await putonly.flush(); }", visitor)
        assert again.evaluate(IDENTITY) == identities[visitor]
        context.close()
    assert identities["visitor_a"] != identities["visitor_b"]
    for visitor, identity in identities.items():
        items = [e for e in stored_events(aws, moto) if e["topic"] == visitor]
        assert len(items) == 2
        assert {e["pk"] for e in items} == {identity}
