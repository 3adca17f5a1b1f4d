"""The page snippet has one source, web_assets/src/snippet.html: the build, Snippet output, README and demo use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdk_app.snippet import SNIPPET_FILE, snippet
from tests.helpers import DIST_DIR, ROOT, Deployment

SOURCE = ROOT / "web_assets" / "src" / SNIPPET_FILE
STUB = "window.putonly=window.putonly||"


def test_the_build_ships_the_source_unchanged() -> None:
    assert (DIST_DIR / SNIPPET_FILE).read_text() == SOURCE.read_text()


def test_it_is_the_stub_then_the_async_loader() -> None:
    stub, tag = snippet(DIST_DIR, "https://t.example.com/v1/putonly.js").splitlines()
    assert stub.startswith("<script>" + STUB) and stub.endswith("</script>")
    assert tag == '<script async src="https://t.example.com/v1/putonly.js"></script>'


def test_the_snippet_output_is_the_whole_snippet(dev: Deployment, with_domain: Deployment) -> None:
    assert with_domain.site["Outputs"]["Snippet"]["Value"] == snippet(DIST_DIR, "https://t.example.com/v1/putonly.js")
    # Without a custom domain the URL holds the distribution's domain, a token CloudFormation fills in.
    parts = dev.site["Outputs"]["Snippet"]["Value"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "<domain>" for part in parts)
    assert text == snippet(DIST_DIR, "https://<domain>/v1/putonly.js")


def test_readme_shows_the_snippet() -> None:
    assert snippet(SOURCE.parent, "https://dxxxxxxxx.cloudfront.net/v1/putonly.js") in (ROOT / "README.md").read_text()


def test_the_demo_page_has_no_copy_of_its_own() -> None:
    page = (ROOT / "cdk_app" / "local" / "demo_page.html").read_text()
    assert STUB not in page and "__SNIPPET__" in page


def test_a_missing_build_or_placeholder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make web"):
        snippet(tmp_path, "x")
    (tmp_path / SNIPPET_FILE).write_text('<script async src="putonly.js"></script>\n')
    with pytest.raises(ValueError, match="__PUTONLY_LOADER_URL__ exactly once"):
        snippet(tmp_path, "x")
