"""The stream handler behind the Events metric (pure logic, no AWS), on honest and forged envelopes."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from cdk_app.constructs.event_counter import index
from cdk_app.constructs.event_counter.index import count_events, handler, metric_line

MAX = 500  # envelopeMaxEvents in dev and prod


def image(count: Any) -> dict[str, Any]:
    """``count`` an int (as the tracker writes it) or a raw DynamoDB attribute value (forged)."""
    value = {"N": str(count)} if isinstance(count, int) else count
    return {"topic": {"S": "t"}} if value is None else {"count": value, "topic": {"S": "t"}}


def record(name: str, count: Any, sequence: str = "100", old: Any = None) -> dict[str, Any]:
    """A stream record (NEW_AND_OLD_IMAGES): a MODIFY has the ``old`` count as its OldImage."""
    images: dict[str, Any] = {"NewImage": image(count), "SequenceNumber": sequence}
    if name == "MODIFY":
        images["OldImage"] = image(count if old is None else old)
    return {"eventID": f"ev{sequence}", "eventName": name, "dynamodb": images}


def test_counts_each_event_once() -> None:
    # A retried envelope is rewritten on the same key, with the same events: a MODIFY that adds none.
    assert (
        count_events([record("INSERT", 30), record("MODIFY", 30), record("INSERT", 5), record("REMOVE", 9)], MAX) == 35
    )


def test_an_envelope_rewritten_with_more_events_counts_what_it_adds() -> None:
    """The loader's keepalive copy stored 3 events, then the worker the whole envelope of 8: 8 events, not 3."""
    assert count_events([record("INSERT", 3), record("MODIFY", 8, old=3)], MAX) == 8
    # Never less: a rewrite with fewer events (not the tracker's, which only adds) takes nothing off.
    assert count_events([record("INSERT", 8), record("MODIFY", 3, old=8)], MAX) == 8


def test_a_forged_item_rewritten_with_an_honest_count_counts_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert count_events([record("MODIFY", 4, old={"S": "x"})], MAX) == 4
    assert count_events([record("MODIFY", {"S": "x"}, "7", old=4)], MAX) == 0
    assert "skipped record ev7 (sequence 7): count" in capsys.readouterr().out


FORGED = [
    pytest.param({"N": "1e38"}, id="1e38"),
    pytest.param({"N": "100000000000000000000000000000000000000"}, id="10^38 as digits"),
    pytest.param({"N": str(MAX + 1)}, id="one more than envelopeMaxEvents"),
    pytest.param({"S": "3"}, id="'3' as a string"),
    pytest.param({"N": "1.5"}, id="1.5"),
    pytest.param({"NULL": True}, id="NULL"),
    pytest.param({"N": "0"}, id="0"),
    pytest.param({"N": "-3"}, id="-3"),
    pytest.param({"N": "NaN"}, id="NaN"),
    pytest.param({"N": "Infinity"}, id="Infinity"),
    pytest.param({"N": "3", "S": "3"}, id="two types"),
    pytest.param({"N": 3}, id="N not a string"),
    pytest.param({"BOOL": True}, id="a boolean"),
    pytest.param(None, id="no count attribute"),
]


@pytest.mark.parametrize("forged", FORGED)
def test_a_forged_count_is_skipped_with_one_log_line(forged: Any, capsys: pytest.CaptureFixture[str]) -> None:
    batch = [record("INSERT", 7, "1"), record("INSERT", forged, "2"), record("INSERT", 4, "3")]
    assert count_events(batch, MAX) == 11, "the honest envelopes around it still count"
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("putonly-event-counter: skipped record ev2 (sequence 2): count ")


def test_a_whole_number_written_with_a_fraction_or_exponent_counts() -> None:
    # DynamoDB numbers have no type beyond N: 3.0 and 3e0 are the integer 3.
    assert count_events([record("INSERT", {"N": "3.0"}), record("INSERT", {"N": "3e0"})], MAX) == 6
    assert count_events([record("INSERT", MAX)], MAX) == MAX


def test_a_huge_forged_value_is_shown_short(capsys: pytest.CaptureFixture[str]) -> None:
    count_events([record("INSERT", {"S": "=" * 100_000})], MAX)
    (line,) = capsys.readouterr().out.splitlines()
    assert len(line) < 300 and line.endswith("is not a number")


def test_an_insert_without_an_image_is_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert count_events([{"eventName": "INSERT", "dynamodb": {}}], MAX) == 0
    assert "no NewImage" in capsys.readouterr().out


def test_metric_line_is_embedded_metric_format() -> None:
    line = json.loads(metric_line(35, "events-table", 1_700_000_000_000))
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive == {
        "Namespace": "PutOnly",
        "Dimensions": [["TableName"]],
        "Metrics": [{"Name": "Events", "Unit": "Count"}],
    }
    assert (line["TableName"], line["Events"], line["_aws"]["Timestamp"]) == ("events-table", 35, 1_700_000_000_000)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "events-table")
    monkeypatch.setenv("MAX_EVENTS", str(MAX))


def test_handler_prints_one_line_and_nothing_for_no_events(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert handler({"Records": [record("INSERT", 3)]}, None) == {"batchItemFailures": []}
    handler({"Records": [record("MODIFY", 3)]}, None)
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["Events"] == 3


@pytest.mark.parametrize("forged", FORGED)
def test_handler_never_fails_a_batch_over_a_forged_count(
    env: None, forged: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: int('1e38') and friends raised, failing up to 1,000 records, retried twice, then dropped."""
    batch = {"Records": [record("INSERT", 2, "1"), record("INSERT", forged, "2"), record("INSERT", 5, "3")]}
    assert handler(batch, None) == {"batchItemFailures": []}
    skipped, metric = capsys.readouterr().out.splitlines()
    assert "skipped record ev2" in skipped
    assert json.loads(metric)["Events"] == 7, "a forged count never reaches the dashboard"


def test_an_unexpected_failure_reports_that_record_and_publishes_those_before(
    env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stream resumes at the reported record, so what came before it is published once, and what follows not."""
    honest = index.envelope_events

    def broken_on_the_second(r: Any, max_events: int) -> int:
        if r["dynamodb"]["SequenceNumber"] == "2":
            raise RuntimeError("a bug")
        return honest(r, max_events)

    monkeypatch.setattr(index, "envelope_events", broken_on_the_second)
    batch = {"Records": [record("INSERT", 2, "1"), record("INSERT", 3, "2"), record("INSERT", 5, "3")]}
    assert handler(batch, None) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    failed, metric, failures = capsys.readouterr().out.splitlines()
    assert failed == "putonly-event-counter: failed record ev2 (sequence 2): RuntimeError: a bug"
    assert json.loads(metric)["Events"] == 2
    # The invocation succeeds as far as Lambda is concerned: this metric is what the alarm sees.
    line = json.loads(failures)
    assert line["CounterFailures"] == 1 and line["TableName"] == os.environ["TABLE_NAME"]
    (spec,) = line["_aws"]["CloudWatchMetrics"]
    assert spec["Namespace"] == "PutOnly" and spec["Dimensions"] == [["TableName"]]
    assert spec["Metrics"] == [{"Name": "CounterFailures", "Unit": "Count"}]
