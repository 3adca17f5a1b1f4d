"""The envelope item: the only shape a guest may write into the events table. This module is its one source.

The guest policy (its attribute allow-list), the table and its index, the Glue table, the smoke test and the
exporters read these names; tests/unit/test_envelope.py proves that the tracker's ``toItem``
(web_assets/src/envelope.js) writes exactly them, so the two cannot silently disagree.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

PARTITION_KEY = "pk"  # the Cognito identity id of the visitor
SORT_KEY = "sk"  # "<ISO-8601 UTC ms time of the first event>#<envelope id>"
TOPIC = "topic"
# What a topic may be (the tracker's validate.js refuses any other): no "#", so the index key is unambiguous.
TOPIC_PATTERN = r"[a-z][a-z0-9_.-]{0,63}"
SUBJECT = "subject"  # absent when the events have none
SUBJECT_MAX = 256  # characters (UTF-16 code units in the tracker: validate.js SUBJECT_MAX)
EVENTS = "events"  # compact JSON: [[event id, ms after first_ts, data], ...]
COUNT = "count"
FIRST_TS = "first_ts"  # ms since the epoch
LAST_TS = "last_ts"
VERSION = "v"  # SCHEMA_VERSION
GSI_NAME = "by_subject"
GSI_PARTITION_KEY = "gsi1pk"  # "<topic>#<subject>#<shard>", see index_key
GSI_SORT_KEY = "gsi1sk"  # same value as sk
# One index key is one index partition, held to 1,000 write units a second; a throttled index throttles the
# table. So the key of a subject (or of a topic's subject-less envelopes) is spread over indexShards shards,
# derived from the visitor. The setting allows at most this many; readers query every one of them, so a
# deployment that changed the setting still finds every envelope.
INDEX_SHARDS_MAX = 32
# The most events the tracker puts in one envelope (the envelopeMaxEvents setting's highest value): readers refuse
# items that claim more, so a forged item cannot make one page of an export millions of rows.
EVENTS_MAX = 10_000
TTL_ATTRIBUTE = "expires_at"  # epoch seconds; only when a retention is configured

# What an envelope says, with each attribute's DynamoDB type; the index keys and the expiry derive from it.
CONTENT = {
    PARTITION_KEY: "S",
    SORT_KEY: "S",
    TOPIC: "S",
    SUBJECT: "S",
    EVENTS: "S",
    COUNT: "N",
    FIRST_TS: "N",
    LAST_TS: "N",
    VERSION: "N",
}
TYPES = {**CONTENT, GSI_PARTITION_KEY: "S", GSI_SORT_KEY: "S", TTL_ATTRIBUTE: "N"}
ATTRIBUTES = tuple(TYPES)

# Attributes copied into the GSI, small numbers in the tracker's envelopes, so "how many plays of song 123 in
# November" needs no item reads. Not topic and subject: the key holds them. (A guest can still write these three
# as big strings; the index's own write cap bounds what its copies cost.)
GSI_PROJECTED = (COUNT, FIRST_TS, LAST_TS)


def index_shard(identity: str, shards: int) -> int:
    """The visitor's shard of every index key, from 0 to ``shards`` - 1.

    A 32-bit hash of the identity id (each character xor-ed in, then multiplied by the golden-ratio constant),
    scaled to ``shards`` by its high bits, which every character reaches. The tracker's envelope.js computes the
    same (tests/unit/test_envelope.py compares them).
    """
    h = 0
    for char in identity:
        h = ((h ^ ord(char)) * 0x9E3779B1) % 2**32
    return (h * shards) >> 32


def index_key(topic: str, subject: str, shard: int) -> str:
    """The by_subject index's partition key. Topics have no "#", so topic, subject and shard are unambiguous."""
    return f"{topic}#{subject}#{shard}"


def item(
    *,
    identity: str,
    sk: str,
    topic: str,
    subject: str,
    events: str,
    count: int,
    first_ts: int,
    last_ts: int,
    expires_at: int = 0,
    index_shards: int = 1,
) -> dict[str, dict[str, str]]:
    """An envelope item in DynamoDB JSON, as the tracker writes it: no subject or expiry attribute when unset."""
    values: dict[str, str | int] = {
        PARTITION_KEY: identity,
        SORT_KEY: sk,
        TOPIC: topic,
        EVENTS: events,
        COUNT: count,
        FIRST_TS: first_ts,
        LAST_TS: last_ts,
        VERSION: SCHEMA_VERSION,
        GSI_PARTITION_KEY: index_key(topic, subject, index_shard(identity, index_shards)),
        GSI_SORT_KEY: sk,
    }
    if subject:
        values[SUBJECT] = subject
    if expires_at:
        values[TTL_ATTRIBUTE] = expires_at
    return {name: {TYPES[name]: str(value)} for name, value in values.items()}
