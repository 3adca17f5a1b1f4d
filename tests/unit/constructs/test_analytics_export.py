"""The optional bulk path: PITR exports to S3, a Glue table over them, an Athena view of events."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest

from cdk_app import envelope
from cdk_app.constructs.analytics_export import EVENTS_VIEW, database_name
from tests.helpers import MALFORMED, Deployment, envelope_item, one, resources


def _props(template: dict[str, Any], type_: str) -> dict[str, Any]:
    return dict(one(template, type_)["Properties"])


def test_only_when_the_setting_asks(dev: Deployment, prod: Deployment) -> None:
    assert dev.settings.analytics_export is False and prod.settings.analytics_export is True
    assert resources(dev.data, "AWS::S3::Bucket") == []
    assert resources(dev.data, "AWS::Glue::Table") == []
    assert len(resources(prod.data, "AWS::S3::Bucket")) == 1
    assert {"ExportBucket", "GlueDatabase", "AthenaWorkGroup"} <= set(prod.data["Outputs"])


def test_each_environment_has_its_own_glue_database(prod: Deployment) -> None:
    """A Glue database name is unique in its account and region: dev and prod with one name could not both deploy."""
    assert _props(prod.data, "AWS::Glue::Database")["DatabaseInput"]["Name"] == "putonly_prod"
    assert prod.data["Outputs"]["GlueDatabase"]["Value"] == "putonly_prod"
    assert _props(prod.data, "AWS::Glue::Table")["DatabaseName"] == "putonly_prod"
    assert _props(prod.data, "AWS::Athena::NamedQuery")["Database"] == "putonly_prod"
    assert {database_name("dev"), database_name("Staging-EU")} == {"putonly_dev", "putonly_staging_eu"}


def test_export_bucket_is_private_encrypted_and_tls_only(prod: Deployment) -> None:
    bucket = one(prod.data, "AWS::S3::Bucket")
    assert bucket["DeletionPolicy"] == "Retain"
    props = bucket["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    statements = _props(prod.data, "AWS::S3::BucketPolicy")["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )


def test_glue_table_reads_dynamodb_export_json(prod: Deployment) -> None:
    table = _props(prod.data, "AWS::Glue::Table")["TableInput"]
    descriptor = table["StorageDescriptor"]
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    (column,) = descriptor["Columns"]
    assert column["Name"] == "item"
    for attribute in ("pk:struct<s:string>", "events:struct<s:string>", "first_ts:struct<n:string>"):
        assert attribute in column["Type"]
    assert table["Name"] == "envelopes"


def test_athena_workgroup_encrypts_results_and_the_view_flattens_events(prod: Deployment) -> None:
    config = _props(prod.data, "AWS::Athena::WorkGroup")["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    query = _props(prod.data, "AWS::Athena::NamedQuery")["QueryString"]
    assert query.startswith("CREATE OR REPLACE VIEW events AS")
    assert query == EVENTS_VIEW, "the saved query is the view tested below"
    assert "AS event_id" in query and "FROM envelopes" in query


# The view on guest-written envelopes. Athena (Trino) cannot run here; DuckDB runs the same SQL text with six
# one-line macros giving Trino's function names DuckDB's equivalents, and `array(json)` spelled `JSON[]`.
TRINO_NAMES = (
    "CREATE MACRO json_parse(x) AS json(x)",
    "CREATE MACRO json_format(j) AS CAST(j AS VARCHAR)",
    "CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
    "CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)",
    "CREATE MACRO cardinality(a) AS len(a)",
    "CREATE MACRO from_unixtime(x) AS to_timestamp(x)",
)
# Shapes the view cannot tell from an envelope, with the reason; each still yields rows rather than an error.
VIEW_CANNOT_SEE = {
    "subject is of type SS, not a string": "the Glue struct reads only subject.s: the rows show no subject",
    "count is malformed, not a number": "the Glue struct reads only count.n, here a valid '2'",
    "events is not JSON (NaN is not JSON)": "DuckDB's JSON reader accepts NaN; Trino's json_parse refuses it",
    "events is not JSON (-Infinity is not JSON)": "DuckDB's JSON reader accepts -Infinity; Trino's refuses it",
    "events is not JSON (Exceeds the limit": "valid JSON (a 5,000-digit number); only Python's int limit rejects it",
}


def _glue_row(item: dict[str, Any]) -> dict[str, Any]:
    """What the Glue table's JsonSerDe reads from DynamoDB's export of ``item``: struct<s> or struct<n> per name."""
    row = {}
    for name, kind in envelope.CONTENT.items():
        value = item.get(name)
        row[name] = {kind.lower(): value.get(kind) if isinstance(value, dict) else None} if value else None
    return row


def _view_rows(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    duckdb = pytest.importorskip("duckdb")  # requirements-dev.txt: a missing install skips loudly
    db = duckdb.connect()
    for macro in TRINO_NAMES:
        db.execute(macro)
    fields = ", ".join(f"{name} STRUCT({kind.lower()} VARCHAR)" for name, kind in envelope.CONTENT.items())
    db.execute(f"CREATE TABLE envelopes (item STRUCT({fields}))")
    db.executemany("INSERT INTO envelopes VALUES (?)", [[_glue_row(item)] for item in items])
    db.execute(EVENTS_VIEW.replace("array(json)", "JSON[]"))
    query = "SELECT event_id, time, topic, subject, identity, envelope, data FROM events ORDER BY envelope, event_id"
    return list(db.execute(query).fetchall())


def test_the_view_is_the_saved_query_and_tries_every_parse() -> None:
    assert "CROSS JOIN UNNEST(events) AS t(e)" in EVENTS_VIEW
    assert "TRY(CAST(json_parse(item.events.s) AS array(json)))" in EVENTS_VIEW
    assert " CAST(item." not in EVENTS_VIEW and "(CAST(json_extract" not in EVENTS_VIEW, "every cast is a TRY"
    assert "event_count = cardinality(events)" in EVENTS_VIEW and "item.v.n = '1'" in EVENTS_VIEW


def test_the_view_flattens_an_envelope_into_its_events() -> None:
    good = envelope_item()
    rows = _view_rows([good])
    assert [(r[0], r[1].astimezone(UTC).isoformat(), json.loads(r[6])) for r in rows] == [
        ("e1", "2026-01-01T00:00:00+00:00", {"s": 1}),
        ("e2", "2026-01-01T00:00:01.500000+00:00", [1, "é"]),
    ]
    assert {r[2:6] for r in rows} == {("song_player", "song-1", "us-east-1:visitor", "2026-01-01T00:00:00.000Z#E1")}


def test_malformed_envelopes_yield_no_rows_and_fail_no_query() -> None:
    """Before: json_parse and CAST raised on the first malformed envelope, failing every query over the view."""
    good = envelope_item()
    malformed = [({**item, "sk": {"S": f"bad#{n}"}}, reason) for n, (item, reason) in enumerate(MALFORMED)]
    blind = {item["sk"]["S"] for item, reason in malformed if reason in VIEW_CANNOT_SEE}
    assert len(blind) == len(VIEW_CANNOT_SEE)
    rows = _view_rows([good, *(item for item, _ in malformed)])
    assert {r[5] for r in rows} - blind == {good["sk"]["S"]}, "only the honest envelope, of all the others"
    assert len(malformed) - len(blind) == 38, "the malformed shapes the view is shown to drop"
