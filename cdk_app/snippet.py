"""The page snippet: the stub that queues early calls, and the async script tag that loads the tracker.

Its one source is web_assets/src/snippet.html; the build copies it to dist/snippet.html, where the Snippet
output, the demo page and the tests read it (README's copy is checked against it).
"""

from __future__ import annotations

from pathlib import Path

SNIPPET_FILE = "snippet.html"
LOADER_URL = "__PUTONLY_LOADER_URL__"


def snippet(dist_dir: str | Path, loader_url: str) -> str:
    """The HTML a site owner pastes into every page, for the loader at ``loader_url`` (a CDK token is fine)."""
    path = Path(dist_dir) / SNIPPET_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{dist_dir} has no {SNIPPET_FILE}: build the tracker first (make web)")
    text = path.read_text().rstrip("\n")
    if text.count(LOADER_URL) != 1:
        raise ValueError(f"{path} must name {LOADER_URL} exactly once")
    return text.replace(LOADER_URL, loader_url)
