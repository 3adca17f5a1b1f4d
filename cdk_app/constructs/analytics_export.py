"""The path for terabytes: point-in-time exports of the table to S3, read with Athena through Glue.

``python -m cdk_app.tools.bulk_export`` starts an export and points the Glue table at its data; the saved
Athena query creates the ``events`` view that flattens envelopes into one row per event.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_app import envelope
from cdk_app.constructs.buckets import private_bucket
from cdk_app.constructs.nag import acknowledge

EXPORT_PREFIX = "exports"
RESULTS_PREFIX = "athena-results"
ENVELOPES_TABLE = "envelopes"

# One Athena row per event, from the envelope's compact events: [id, ms after first_ts, data].
# Guests write the envelopes, so nothing here may fail on one of them (one error would fail every query over
# the view): TRY/TRY_CAST turn what does not parse into NULL, and an envelope the export would reject (events
# not a JSON list of [string id, integer dt, data], count not the number of events, first_ts not an integer,
# another schema version, a topic or subject the tracker refuses, which every row would repeat) yields no rows.
# Integers are checked by pattern before TRY_CAST, which engines differ on for text like '1.5'.
# tests/unit/constructs/test_analytics_export.py runs it on those shapes in DuckDB.
EVENTS_VIEW = """CREATE OR REPLACE VIEW events AS
WITH envelope AS (
  SELECT
    item.pk.s AS identity,
    item.sk.s AS envelope,
    item.topic.s AS topic,
    item.subject.s AS subject,
    CASE WHEN regexp_like(item.first_ts.n, '^[0-9]{1,15}$') THEN TRY_CAST(item.first_ts.n AS bigint) END AS first_ts,
    CASE WHEN regexp_like(item.count.n, '^[0-9]{1,9}$') THEN TRY_CAST(item.count.n AS bigint) END AS event_count,
    TRY(CAST(json_parse(item.events.s) AS array(json))) AS events
  FROM envelopes
  WHERE item.v.n = '1'
),
event AS (
  SELECT
    identity, envelope, topic, subject, first_ts, e,
    json_format(json_extract(e, '$[0]')) AS id_json,
    json_format(json_extract(e, '$[1]')) AS dt_json
  FROM envelope
  CROSS JOIN UNNEST(events) AS t(e)
  WHERE regexp_like(topic, '^<TOPIC_PATTERN>$') AND first_ts IS NOT NULL AND event_count = cardinality(events)
    AND (subject IS NULL OR (length(subject) <= <SUBJECT_MAX> AND NOT regexp_like(subject, '[\\x00-\\x1f\\x7f]')))
)
SELECT
  json_extract_scalar(e, '$[0]') AS event_id,
  TRY(from_unixtime((first_ts + TRY_CAST(dt_json AS bigint)) / 1000.0)) AS time,
  topic,
  subject,
  identity,
  envelope,
  json_format(json_extract(e, '$[2]')) AS data
FROM event
WHERE json_array_length(e) = 3
  AND regexp_like(id_json, '^".+"$')
  AND regexp_like(dt_json, '^-?[0-9]{1,15}$')
  AND first_ts + TRY_CAST(dt_json AS bigint) BETWEEN 0 AND 253402300799999""".replace(
    "<TOPIC_PATTERN>", envelope.TOPIC_PATTERN
).replace("<SUBJECT_MAX>", str(envelope.SUBJECT_MAX))


def _attribute(kind: str) -> str:
    return f"struct<{kind}:string>"


def database_name(env_name: str) -> str:
    """The Glue database of environment ``env_name``: putonly_dev for dev."""
    return "putonly_" + env_name.lower().replace("-", "_")


class AnalyticsExport(Construct):
    """Exposes ``bucket``, ``database_name``, ``table_name`` (Glue) and ``workgroup_name`` (Athena)."""

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, destroy_on_removal: bool) -> None:
        super().__init__(scope, construct_id)
        self.bucket = private_bucket(
            self,
            "Bucket",
            destroy_on_removal=destroy_on_removal,
            lifecycle_rules=[s3.LifecycleRule(prefix=f"{RESULTS_PREFIX}/", expiration=Duration.days(30))],
        )
        acknowledge(
            self.bucket.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-S1",
            "Written only by DynamoDB's export service and Athena, started by API calls CloudTrail records as "
            "management events (ExportTableToPointInTime, StartQueryExecution); the exports are derived copies of "
            "the table, so per-object access logs would add cost without a new audit trail.",
        )
        account = Stack.of(self).account
        # One per environment: a Glue database name is unique in its account and region, and dev and prod may share
        # both. Glue names take lower-case letters, digits and underscores.
        self.database_name = database_name(env_name)
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="PutOnly events exported from DynamoDB"
            ),
        )
        # DynamoDB's export writes each item as {"Item": {name: {type: value}}}: the envelope's content as structs.
        columns = {name: kind.lower() for name, kind in envelope.CONTENT.items()}
        item_type = "struct<" + ",".join(f"{name}:{_attribute(kind)}" for name, kind in columns.items()) + ">"
        self.table_name = ENVELOPES_TABLE
        table = glue.CfnTable(
            self,
            "Envelopes",
            catalog_id=account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=self.table_name,
                description="Envelopes of the latest DynamoDB export (bulk_export points the location at it)",
                table_type="EXTERNAL_TABLE",
                parameters={"classification": "json", "compressionType": "gzip"},
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name="item", type=item_type)],
                    location=f"s3://{self.bucket.bucket_name}/{EXPORT_PREFIX}/",
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        parameters={"case.insensitive": "TRUE"},
                    ),
                ),
            ),
        )
        table.node.add_dependency(database)

        workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"putonly-{Stack.of(self).stack_name}".lower()[:128],
            description="PutOnly analytics: results encrypted in the export bucket",
            recursive_delete_option=destroy_on_removal,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{RESULTS_PREFIX}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        self.workgroup_name = workgroup.name
        view = athena.CfnNamedQuery(
            self,
            "EventsView",
            database=self.database_name,
            work_group=workgroup.ref,
            name="putonly-create-events-view",
            description="Run once after the first export: one row per event, flattened from the envelopes",
            query_string=EVENTS_VIEW,
        )
        view.node.add_dependency(table)
