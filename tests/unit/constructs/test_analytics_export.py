"""The optional bulk path: PITR exports to S3, a Glue table over them, an Athena view of events."""

from __future__ import annotations

from typing import Any

from tests.helpers import Deployment, one, resources


def _props(template: dict[str, Any], type_: str) -> dict[str, Any]:
    return dict(one(template, type_)["Properties"])


def test_only_when_the_setting_asks(dev: Deployment, prod: Deployment) -> None:
    assert dev.settings.analytics_export is False and prod.settings.analytics_export is True
    assert resources(dev.data, "AWS::S3::Bucket") == []
    assert resources(dev.data, "AWS::Glue::Table") == []
    assert len(resources(prod.data, "AWS::S3::Bucket")) == 1
    assert {"ExportBucket", "GlueDatabase", "AthenaWorkGroup"} <= set(prod.data["Outputs"])


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
    assert "CROSS JOIN UNNEST(CAST(json_parse(item.events.s) AS array(json)))" in query
    assert "AS event_id" in query and "FROM envelopes" in query
