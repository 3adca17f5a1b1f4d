"""The session and one-line errors the putonly-* commands share."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from cdk_app.tools.session import NO_CREDENTIALS, NO_REGION, Progress, ToolError, one_line, session


def test_region_comes_from_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert session(None, "us-east-2").region_name == "us-east-2"
    assert session(None, None).region_name == "eu-west-1"
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ToolError, match=re.escape(NO_REGION)):
        session(None, None)


def test_errors_are_one_line() -> None:
    refused = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not you"}}, "PutItem")
    assert one_line(refused) == "AccessDeniedException: not you"
    assert one_line(NoCredentialsError()) == NO_CREDENTIALS
    unreachable = one_line(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert "\n" not in unreachable and "127.0.0.1:1" in unreachable


def test_progress_counts_on_a_terminal_and_is_silent_otherwise(capsys: pytest.CaptureFixture[str]) -> None:
    shown = Progress("putonly-x", "envelopes", enabled=True)
    shown.update(25)
    shown.update(3)
    shown.close()
    assert capsys.readouterr().err == "\rputonly-x: 25 envelopes\rputonly-x: 28 envelopes\n"
    silent = Progress("putonly-x", "envelopes", enabled=False, start=7)
    silent.update(1)
    silent.close()
    assert silent.count == 8
    assert capsys.readouterr().err == ""


def test_an_error_page_from_the_endpoint_is_one_short_line() -> None:
    """A wrong region against a local endpoint answered with a whole HTML page, printed line for line."""
    page = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n" + "<p>" + "x" * 1000 + "</p>\n"
    err = ClientError({"Error": {"Code": "500", "Message": page}}, "Scan")
    line = one_line(err)
    assert line.startswith("500: <!doctype html> <html lang=en> <title>500 Internal Server Error</title>")
    assert "\n" not in line and len(line) == 300 and line.endswith("...")
