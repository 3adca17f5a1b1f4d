"""The stream handler behind the Events metric (pure logic, no AWS)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_app.constructs.event_counter.index import count_events, handler, metric_line


def record(name: str, count: int) -> dict[str, Any]:
    return {"eventName": name, "dynamodb": {"NewImage": {"count": {"N": str(count)}, "topic": {"S": "t"}}}}


def test_counts_only_new_envelopes() -> None:
    # A retried envelope is rewritten on the same key: a MODIFY, not counted again.
    assert count_events([record("INSERT", 30), record("MODIFY", 30), record("INSERT", 5), record("REMOVE", 9)]) == 35
    assert count_events([{"eventName": "INSERT", "dynamodb": {}}]) == 0


def test_metric_line_is_embedded_metric_format() -> None:
    line = json.loads(metric_line(35, "events-table", 1_700_000_000_000))
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive == {
        "Namespace": "PutOnly",
        "Dimensions": [["TableName"]],
        "Metrics": [{"Name": "Events", "Unit": "Count"}],
    }
    assert (line["TableName"], line["Events"], line["_aws"]["Timestamp"]) == ("events-table", 35, 1_700_000_000_000)


def test_handler_prints_one_line_and_nothing_for_no_events(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", "events-table")
    handler({"Records": [record("INSERT", 3)]}, None)
    handler({"Records": [record("MODIFY", 3)]}, None)
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["Events"] == 3
