"""Counts events written to the table, from its stream, as the CloudWatch metric PutOnly/Events.

An envelope is written more than once under one key, and a later write only ever holds more events: a retry
holds the same ones, and the full envelope follows the loader's keepalive copy of its first events. So an INSERT
counts its events, and a MODIFY the events it adds (new count minus old, never below 0): each event once. The
metric goes out as an embedded-metric-format log line (no PutMetricData call).

A guest writes ``count`` itself, so it is untrusted: a record whose count is not an integer from 1 to
MAX_EVENTS (the envelope's maximum events) is skipped with one log line and never fails the batch. A
record that still fails unexpectedly is reported as a partial batch failure: the events before it are
published and the stream resumes at it (the event source mapping bisects, retries and then moves on). Such an
invocation succeeds as far as Lambda is concerned, so it also publishes PutOnly/CounterFailures, which the alarm
watches with the function's errors.
"""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal, InvalidOperation
from typing import Any

NAMESPACE = "PutOnly"
FAILURES = "CounterFailures"  # records that failed unexpectedly, one per invocation that reported one
PREFIX = "putonly-event-counter:"
SHOWN = 80  # characters of a forged value shown in a log line


def envelope_events(record: Any, max_events: int) -> int:
    """The events a stream record adds (an INSERT's count, a MODIFY's growth, else 0); ValueError when its new
    count is not to be trusted. An old count that is not (a forged item rewritten) counted as nothing."""
    name = record.get("eventName") if isinstance(record, dict) else None
    if name not in ("INSERT", "MODIFY"):
        return 0
    images = record.get("dynamodb") or {}
    new = _count_of(images.get("NewImage"), "NewImage", max_events)
    if name == "INSERT":
        return new
    try:
        old = _count_of(images.get("OldImage"), "OldImage", max_events)
    except ValueError:
        old = 0
    return max(0, new - old)


def _count_of(image: Any, name: str, max_events: int) -> int:
    """The ``count`` of a stream image, or ValueError naming what is wrong with it."""
    if not isinstance(image, dict):
        raise ValueError(f"no {name}")
    value = image.get("count")
    if not (isinstance(value, dict) and list(value) == ["N"] and isinstance(value["N"], str)):
        raise ValueError(f"count {_shown(value)} is not a number")
    try:
        number = Decimal(value["N"])
    except InvalidOperation:
        raise ValueError(f"count {_shown(value)} is not a number") from None
    if not (number.is_finite() and number == number.to_integral_value() and 1 <= number <= max_events):
        raise ValueError(f"count {_shown(value)} is not an integer from 1 to {max_events}")
    return int(number)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


def count_events(records: list[dict[str, Any]], max_events: int) -> int:
    """Events in the records' new envelopes; records with a forged count are skipped and logged."""
    return _count(records, max_events)[0]


def _count(records: list[Any], max_events: int) -> tuple[int, str | None]:
    """(events, sequence number of the first record that failed unexpectedly, or None)."""
    total = 0
    for record in records:
        try:
            total += envelope_events(record, max_events)
        except ValueError as err:
            print(f"{PREFIX} skipped {_where(record)}: {err}")
        except Exception as err:  # a bug, not bad data: the stream resumes at this record
            sequence = _sequence(record)
            if sequence is None:
                raise
            print(f"{PREFIX} failed {_where(record)}: {type(err).__name__}: {err}")
            return total, sequence
    return total, None


def _sequence(record: Any) -> str | None:
    sequence = (record.get("dynamodb") or {}).get("SequenceNumber") if isinstance(record, dict) else None
    return sequence if isinstance(sequence, str) else None


def _where(record: Any) -> str:
    """Names a record by what AWS wrote (its stream ids), never by what the guest did."""
    if not isinstance(record, dict):
        return "a record that is not an object"
    return f"record {record.get('eventID', '?')} (sequence {_sequence(record) or '?'})"


def metric_line(events: int, table: str, now_ms: int, name: str = "Events") -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": now_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["TableName"]],
                        "Metrics": [{"Name": name, "Unit": "Count"}],
                    }
                ],
            },
            "TableName": table,
            name: events,
        }
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Publishes the batch's events; reports the first record that failed (ReportBatchItemFailures), and counts
    it as ``PutOnly/CounterFailures``: the invocation itself succeeds, so Lambda's Errors metric never shows it."""
    events, failed = _count(event.get("Records", []), int(os.environ["MAX_EVENTS"]))
    now_ms = int(time.time() * 1000)
    if events:
        print(metric_line(events, os.environ["TABLE_NAME"], now_ms))
    if failed:
        print(metric_line(1, os.environ["TABLE_NAME"], now_ms, FAILURES))
    return {"batchItemFailures": [{"itemIdentifier": failed}] if failed else []}
