"""putonly-bulk-export: a DynamoDB point-in-time export of the events table to S3, for Athena.

The path for terabytes that outgrow putonly-export: DynamoDB writes the table to the export bucket
(no read capacity used), then the Glue table ``envelopes`` is pointed at the new export's data so the
Athena view ``events`` (saved query ``putonly-create-events-view``) reads one row per event.
Needs ``analyticsExport: true`` in the deployed settings. boto3 only; standard credential chain.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cdk_app.tools.session import Parser, ToolError, add_aws_arguments, describe_error, one_line, session

PROG = "putonly-bulk-export"


def data_location(s3: Any, bucket: str, prefix: str, export: dict[str, Any]) -> str:
    """The S3 folder holding the export's data files."""
    manifest = export.get("ExportManifest")
    if manifest:  # "<prefix>/AWSDynamoDB/<export id>/manifest-summary.json"
        return f"s3://{bucket}/{manifest.rsplit('/', 1)[0]}/data/"
    # Without a manifest (the local emulator): the newest data folder under the prefix.
    newest: dict[str, Any] | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/AWSDynamoDB/"):
        for obj in page.get("Contents", []):
            if "/data/" in obj["Key"] and (newest is None or obj["LastModified"] > newest["LastModified"]):
                newest = obj
    if newest is None:
        raise ToolError(f"the export finished but no data file is under s3://{bucket}/{prefix}/AWSDynamoDB/")
    return f"s3://{bucket}/{newest['Key'].rsplit('/', 1)[0]}/"


def point_glue_table(glue: Any, database: str, table: str, location: str) -> None:
    current = glue.get_table(DatabaseName=database, Name=table)["Table"]
    table_input = {
        k: current[k] for k in ("Name", "Description", "TableType", "Parameters", "StorageDescriptor") if k in current
    }
    table_input["StorageDescriptor"] = {**current["StorageDescriptor"], "Location": location}
    glue.update_table(DatabaseName=database, TableInput=table_input)


def run(args: argparse.Namespace) -> int:
    aws = session(args.profile, args.region)
    ddb = aws.client("dynamodb", endpoint_url=args.endpoint_url)
    s3 = aws.client("s3", endpoint_url=args.endpoint_url)
    glue = aws.client("glue", endpoint_url=args.endpoint_url)
    try:
        table_arn = ddb.describe_table(TableName=args.table)["Table"]["TableArn"]
    except (ClientError, BotoCoreError) as err:  # where it was looked for, as the other commands say
        raise ToolError(describe_error(err, args.table, ddb)) from None
    # Before the export (which is billed): where it goes, and where it will be read from, must exist.
    try:
        s3.head_bucket(Bucket=args.bucket)
    except ClientError as err:
        code = err.response["Error"]["Code"]
        raise ToolError(
            f"bucket {args.bucket!r} cannot be used ({code}): name the ExportBucket output; nothing exported"
        ) from None
    try:
        glue.get_table(DatabaseName=args.database, Name=args.glue_table)
    except ClientError as err:
        if err.response["Error"]["Code"] != "EntityNotFoundException":
            raise
        raise ToolError(
            f"Glue table {args.database}.{args.glue_table} not found: deploy with analyticsExport: true"
            " (or name it with --database / --glue-table); nothing exported"
        ) from None
    export = ddb.export_table_to_point_in_time(
        TableArn=table_arn, S3Bucket=args.bucket, S3Prefix=args.prefix, ExportFormat="DYNAMODB_JSON"
    )["ExportDescription"]
    print(f"{PROG}: export started: {export['ExportArn']}", file=sys.stderr, flush=True)
    started = time.monotonic()
    while export["ExportStatus"] == "IN_PROGRESS":
        if time.monotonic() - started > args.timeout:
            raise ToolError(
                f"still running after {args.timeout:g} s; follow it with "
                f"aws dynamodb describe-export --export-arn {export['ExportArn']}"
            )
        time.sleep(args.poll_seconds)
        export = ddb.describe_export(ExportArn=export["ExportArn"])["ExportDescription"]
        print(
            f"{PROG}: {export['ExportStatus'].lower()} after {time.monotonic() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    if export["ExportStatus"] != "COMPLETED":
        failure = f"{export.get('FailureCode', '')} {export.get('FailureMessage', '')}".strip()
        raise ToolError(f"export {export['ExportStatus']}: {failure}")
    location = data_location(s3, args.bucket, args.prefix, export)
    point_glue_table(glue, args.database, args.glue_table, location)
    print(f"{PROG}: {args.database}.{args.glue_table} now reads {location}", file=sys.stderr)
    hint = "in Athena (the AthenaWorkGroup output's workgroup) run the saved query putonly-create-events-view once"
    print(f"{PROG}: {hint}; then query {args.database}.events", file=sys.stderr)
    print(location)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--table", required=True, help="events table (TableName output)")
    p.add_argument("--bucket", required=True, help="export bucket (ExportBucket output)")
    p.add_argument("--prefix", default="exports", help="key prefix in the bucket (default: exports)")
    p.add_argument("--database", required=True, help="Glue database (GlueDatabase output, putonly_<env>)")
    p.add_argument("--glue-table", default="envelopes", help="Glue table to point at the export (default envelopes)")
    p.add_argument("--timeout", type=float, default=6 * 3600, help="give up waiting after N seconds (default 6 h)")
    p.add_argument("--poll-seconds", type=float, default=30, help="seconds between status checks (default 30)")
    add_aws_arguments(p, "another endpoint for DynamoDB, S3 and Glue (the local stack's)")
    args = p.parse_args(argv)
    for flag, value in (("--timeout", args.timeout), ("--poll-seconds", args.poll_seconds)):
        if not (math.isfinite(value) and value > 0):
            p.error(f"{flag} must be a positive number of seconds, got {value:g}")
    for flag, value in (("--table", args.table), ("--bucket", args.bucket)):
        if not value.strip():
            p.error(f"{flag} is empty")
    try:
        return run(args)
    except KeyboardInterrupt:
        # The export goes on in DynamoDB; it can be followed, and its data pointed at, by hand.
        print(f"\n{PROG}: interrupted; an export started (its ARN above) goes on in DynamoDB", file=sys.stderr)
        return 130
    except ToolError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
    except (ClientError, BotoCoreError) as err:
        print(f"{PROG}: {one_line(err)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
