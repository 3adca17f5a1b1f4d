"""cdk_app/envelope.py is the one source of the envelope item: the tracker's toItem writes exactly its names."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from cdk_app import envelope
from tests.helpers import ROOT

IDENTITY = "us-east-1:11111111-2222-3333-4444-555555555555"

# Seals one event with a subject and a retention, and one with neither, and prints the items toItem makes.
TO_ITEM = """
import { seal, toItem } from './src/envelope.js';
const limits = { envelopeMaxBytes: 16384, envelopeMaxEvents: 500, maxDelaySeconds: 30, retentionDays: 30 };
const event = (subject) => ({
  id: 'EVENT00000000001', ts: 1700000000000, topic: 'song_player', subject, json: '{"i":1}', bytes: 7,
});
const full = seal([event('song-123')], limits, 'ENVELOPE00000001');
const bare = seal([event('')], { ...limits, retentionDays: 0 }, 'ENVELOPE00000002');
console.log(JSON.stringify({ full: toItem(full, process.argv[1]), bare: toItem(bare, process.argv[1]) }));
"""


@pytest.fixture(scope="module")
def tracker_items() -> dict[str, dict[str, dict[str, str]]]:
    node = shutil.which("node")
    assert node, "node is needed (make setup puts Node 24 in the venv)"
    result = subprocess.run(
        [node, "--input-type=module", "-e", TO_ITEM, IDENTITY],
        cwd=ROOT / "web_assets",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_the_tracker_writes_exactly_the_allow_listed_attributes(tracker_items: dict[str, Any]) -> None:
    assert sorted(tracker_items["full"]) == sorted(envelope.ATTRIBUTES)
    optional = {envelope.SUBJECT, envelope.TTL_ATTRIBUTE}
    assert sorted(tracker_items["bare"]) == sorted(set(envelope.ATTRIBUTES) - optional)


def test_the_tracker_writes_each_attribute_with_its_type(tracker_items: dict[str, Any]) -> None:
    for name, value in tracker_items["full"].items():
        assert list(value) == [envelope.TYPES[name]], name


def test_the_tracker_keys_the_table_and_the_index_by_these_names(tracker_items: dict[str, Any]) -> None:
    item = tracker_items["full"]
    assert item[envelope.PARTITION_KEY] == {"S": IDENTITY}
    assert item[envelope.SORT_KEY]["S"].endswith("#ENVELOPE00000001")
    assert item[envelope.GSI_PARTITION_KEY] == {"S": "song_player#song-123"}
    assert item[envelope.GSI_SORT_KEY] == item[envelope.SORT_KEY]
    assert item[envelope.VERSION] == {"N": str(envelope.SCHEMA_VERSION)}
    assert set(envelope.GSI_PROJECTED) <= set(envelope.ATTRIBUTES)


@pytest.mark.parametrize("which", ["full", "bare"])
def test_the_python_item_is_the_trackers_item(tracker_items: dict[str, Any], which: str) -> None:
    """What the smoke test writes is what the tracker writes."""
    written = tracker_items[which]
    item = envelope.item(
        identity=IDENTITY,
        sk=written[envelope.SORT_KEY]["S"],
        topic=written[envelope.TOPIC]["S"],
        subject=written.get(envelope.SUBJECT, {}).get("S", ""),
        events=written[envelope.EVENTS]["S"],
        count=int(written[envelope.COUNT]["N"]),
        first_ts=int(written[envelope.FIRST_TS]["N"]),
        last_ts=int(written[envelope.LAST_TS]["N"]),
        expires_at=int(written.get(envelope.TTL_ATTRIBUTE, {}).get("N", 0)),
    )
    assert item == written
