"""Counts events written to the table, from its stream, as the CloudWatch metric PutOnly/Events.

Only INSERTs count: a retried envelope lands on the same key, so its rewrite is a MODIFY and is not
counted twice. The metric goes out as an embedded-metric-format log line (no PutMetricData call).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

NAMESPACE = "PutOnly"


def count_events(records: list[dict[str, Any]]) -> int:
    return sum(
        int(r["dynamodb"]["NewImage"]["count"]["N"])
        for r in records
        if r.get("eventName") == "INSERT" and "count" in r.get("dynamodb", {}).get("NewImage", {})
    )


def metric_line(events: int, table: str, now_ms: int) -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": now_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["TableName"]],
                        "Metrics": [{"Name": "Events", "Unit": "Count"}],
                    }
                ],
            },
            "TableName": table,
            "Events": events,
        }
    )


def handler(event: dict[str, Any], context: Any) -> None:
    events = count_events(event.get("Records", []))
    if events:
        print(metric_line(events, os.environ["TABLE_NAME"], int(time.time() * 1000)))
