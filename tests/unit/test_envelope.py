"""cdk_app/envelope.py is the one source of the envelope item: the tracker's toItem writes exactly its names."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections import Counter
from typing import Any

import pytest

from cdk_app import envelope
from tests.helpers import ROOT

IDENTITY = "us-east-1:11111111-2222-3333-4444-555555555555"

SHARDS = 8
# Identities to shard: Cognito's shape in several regions, plus odd ones (the hash must agree on any string).
IDENTITIES = [f"{region}:{uuid.UUID(int=n * 0x9E3779B97F4A7C15 % 2**128)}" for n, region in enumerate(
    ["us-east-1", "eu-west-1", "ap-southeast-4", "us-gov-west-1"] * 50
)] + ["", "x", "us-east-1:é中😀", "\u0000" * 40]  # fmt: skip

# Seals one event with a subject and a retention, and one with neither, and prints the items toItem makes
# (with indexShards=SHARDS); and the shard of each identity for every allowed indexShards.
TO_ITEM = """
import { indexShard, seal, toItem } from './src/envelope.js';
import { SUBJECT_MAX, TOPIC_PATTERN } from './src/validate.js';
const limits = { envelopeMaxBytes: 16384, envelopeMaxEvents: 500, maxDelaySeconds: 30, retentionDays: 30 };
const event = (subject) => ({
  id: 'EVENT00000000001', ts: 1700000000000, topic: 'song_player', subject, json: '{"i":1}', bytes: 7,
});
const full = seal([event('song-123')], limits, 'ENVELOPE00000001');
const bare = seal([event('')], { ...limits, retentionDays: 0 }, 'ENVELOPE00000002');
const [identity, shards, identities, most] = JSON.parse(process.argv[1]);
const sharded = identities.map((id) => Array.from({ length: most }, (_, n) => indexShard(id, n + 1)));
const items = { full: toItem(full, identity, shards), bare: toItem(bare, identity, shards) };
console.log(JSON.stringify({ ...items, sharded, topic: TOPIC_PATTERN.source, subjectMax: SUBJECT_MAX }));
"""


@pytest.fixture(scope="module")
def tracker_items() -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is needed (make setup puts Node 24 in the venv)"
    result = subprocess.run(
        [
            node,
            "--input-type=module",
            "-e",
            TO_ITEM,
            json.dumps([IDENTITY, SHARDS, IDENTITIES, envelope.INDEX_SHARDS_MAX]),
        ],
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
    shard = envelope.index_shard(IDENTITY, SHARDS)
    assert item[envelope.GSI_PARTITION_KEY] == {"S": f"song_player#song-123#{shard}"}
    assert tracker_items["bare"][envelope.GSI_PARTITION_KEY] == {"S": f"song_player##{shard}"}
    assert item[envelope.GSI_SORT_KEY] == item[envelope.SORT_KEY]
    assert item[envelope.VERSION] == {"N": str(envelope.SCHEMA_VERSION)}
    assert set(envelope.GSI_PROJECTED) <= set(envelope.ATTRIBUTES)


def test_the_tracker_and_the_readers_accept_the_same_topics(tracker_items: dict[str, Any]) -> None:
    """putonly-export refuses a --topic the tracker would refuse (such a topic could only match a forged item)."""
    assert tracker_items["topic"] == f"^{envelope.TOPIC_PATTERN}$"
    # and the same subjects' lengths: the export rejects items whose subject the tracker could not have written
    assert tracker_items["subjectMax"] == envelope.SUBJECT_MAX


def test_the_tracker_and_the_readers_agree_on_every_visitors_shard(tracker_items: dict[str, Any]) -> None:
    """A reader that computed another shard than the tracker would look for a visitor's envelopes in vain."""
    most = envelope.INDEX_SHARDS_MAX
    expected = [[envelope.index_shard(identity, n) for n in range(1, most + 1)] for identity in IDENTITIES]
    assert tracker_items["sharded"] == expected
    assert all(0 <= shard < n for row in expected for n, shard in enumerate(row, start=1))


def test_visitors_spread_evenly_over_the_shards() -> None:
    """Cognito identities (random UUIDs) fill every shard about equally: no shard is a hot key of its own."""
    for shards in (2, 3, 8, 32):
        counts = Counter(envelope.index_shard(identity, shards) for identity in IDENTITIES[:200])
        assert sorted(counts) == list(range(shards))
        assert max(counts.values()) < 2.5 * 200 / shards, counts


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
        index_shards=SHARDS,
    )
    assert item == written
