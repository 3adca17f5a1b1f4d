"""Headless Chromium for the demo check, the end-to-end tests and the benchmarks."""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"  # Debian's Chromium; Playwright cannot download its own browser here
# Without the background-networking flags Chromium tries hosts this machine cannot reach.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)


def launch_chromium(playwright: Any) -> Any:
    """Headless Debian Chromium through Playwright's sync API, with the flags this machine needs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
